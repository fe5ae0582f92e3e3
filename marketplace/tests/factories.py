from decimal import Decimal
from itertools import count

from marketplace.choices import AgentStatus, PricingModel
from marketplace.models import Agent

_numbers = count(1)


def agent_make(*, created_by, **fields) -> Agent:
    """An agent with valid, submittable defaults; override anything."""
    n = next(_numbers)
    defaults = {
        "slug": f"agent-{n}",
        "name": f"Test Agent {n}",
        "short_description": "Summarises long documents into key points.",
        "description": "Reads a document and answers with a short summary of its main points.",
        "business_domain": "productivity",
        "skills": ["summarization"],
        "tags": ["demo"],
        "version": "1.0.0",
        "transport": "http",
        "endpoint_url": "http://127.0.0.1:8001",
        "pricing_model": PricingModel.PER_USE,
        "price_per_use": Decimal("0.0500"),
        "status": AgentStatus.DRAFT,
    }
    defaults.update(fields)
    return Agent.objects.create(created_by=created_by, **defaults)


def listed(*, created_by, **fields) -> Agent:
    return agent_make(created_by=created_by, **{"status": AgentStatus.ACTIVE, "is_public": True, **fields})
