"""The catalog API as a client sees it: both dialects, visibility, filters, ordering, pagination."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketplace.models import Agent
from marketplace.tests.factories import listed

pytestmark = pytest.mark.django_db


def slugs(response) -> list[str]:
    return [item["id"] for item in response.json()]


def test_list_is_an_array_with_seed_004_fields_in_camel_case(api, alice):
    listed(created_by=alice, slug="summarizer", name="Summarizer", skills=["summarization"],
           price_per_use=Decimal("0.0300"), dynamic_price=Decimal("0.0350"), load=0.2, rating=4.5,
           jobs_completed=12, avg_response_time=850, capabilities=["long documents"])

    response = api().get("/api/agents")

    assert response.status_code == 200
    assert response["X-Total-Count"] == "1"
    [agent] = response.json()
    for field in ("id", "name", "description", "skills", "basePrice", "dynamicPrice", "load", "rating",
                  "jobsCompleted", "endpointUrl", "capabilities", "avgResponseTime", "availability"):
        assert field in agent, field
    assert agent["id"] == "summarizer"
    assert agent["basePrice"] == 0.03 and agent["dynamicPrice"] == 0.035
    assert agent["avgResponseTime"] == 850
    assert "short_description" not in agent and "shortDescription" in agent


def test_v1_speaks_snake_case_for_the_same_agent(api, alice):
    listed(created_by=alice, slug="translator", business_domain="language")

    camel = api().get("/api/agents/translator").json()
    snake = api().get("/api/v1/agents/translator").json()

    assert camel["businessDomain"] == snake["business_domain"] == "language"
    assert "short_description" in snake and "shortDescription" not in snake
    assert snake["view_count"] == camel["viewCount"]


def test_public_catalog_shows_only_listed_public_agents(api, alice, bob, dave):
    listed(created_by=alice, slug="live")
    listed(created_by=alice, slug="approved", status="approved")
    listed(created_by=alice, slug="private", is_public=False)
    for status in ("draft", "submitted", "rejected", "inactive"):
        listed(created_by=alice, slug=f"alice-{status}", status=status)

    assert sorted(slugs(api().get("/api/agents?limit=100"))) == ["approved", "live"]
    # bob sees the public catalog only; alice also sees all of her own; staff see everything
    assert sorted(slugs(api(bob).get("/api/agents?limit=100"))) == ["approved", "live"]
    assert len(slugs(api(alice).get("/api/agents?limit=100"))) == 7
    assert len(slugs(api(dave).get("/api/agents?limit=100"))) == 7


def test_someone_elses_draft_does_not_exist(api, alice, bob, make_agent):
    make_agent(created_by=alice, slug="secret-draft")

    assert api(bob).get("/api/agents/secret-draft").status_code == 404
    assert api().get("/api/agents/secret-draft").status_code == 404
    assert api(bob).patch("/api/agents/secret-draft", {"name": "mine"}, format="json").status_code == 404
    assert api(alice).get("/api/agents/secret-draft").status_code == 200


def test_filters(api, alice, bob):
    listed(created_by=alice, slug="a", business_domain="finance", skills=["forecasting", "reporting"],
           tags=["excel"], pricing_model="per_use", price_per_use=Decimal("2"), rating=4.8, availability=True)
    listed(created_by=bob, slug="b", business_domain="finance", skills=["reporting"], tags=["pdf"],
           pricing_model="free", price_per_use=Decimal("0"), rating=3.1, availability=False)
    listed(created_by=bob, slug="c", business_domain="legal", skills=["contracts"], tags=["pdf", "excel"],
           pricing_model="subscription", price_per_use=Decimal("0"), monthly_price=Decimal("30"), rating=4.1)
    client = api()

    def found(query: str) -> list[str]:
        response = client.get(f"/api/agents?{query}")
        assert response.status_code == 200, response.json()
        return sorted(slugs(response))

    assert found("domain=finance") == ["a", "b"]
    assert found("category=LEGAL") == ["c"]
    assert found("skills=reporting") == ["a", "b"]
    assert found("skills=reporting,forecasting") == ["a"]
    assert found("tags=excel") == ["a", "c"]
    assert found("tags=pdf,excel") == ["c"]
    assert found("pricingModel=free") == ["b"]
    assert found("minPrice=1&maxPrice=3") == ["a"]
    assert found("maxPrice=0") == ["b", "c"]
    assert found("minRating=4") == ["a", "c"]
    assert found("availability=false") == ["b"]
    assert found("owner=bob") == ["b", "c"]
    assert found("status=active") == ["a", "b", "c"]
    assert client.get("/api/v1/agents?pricing_model=free&min_rating=3").json()[0]["id"] == "b"


def test_status_filter_reaches_own_drafts_only(api, alice, bob, make_agent):
    make_agent(created_by=alice, slug="alice-draft")
    make_agent(created_by=bob, slug="bob-draft")

    assert slugs(api(alice).get("/api/agents?status=draft")) == ["alice-draft"]
    assert slugs(api().get("/api/agents?status=draft")) == []


def test_bad_filter_values_are_400_naming_the_parameter(api):
    for query, field in (("minRating=lots", "minRating"), ("pricingModel=barter", "pricingModel"),
                         ("ordering=random", "ordering"), ("status=gone", "status")):
        response = api().get(f"/api/agents?{query}")
        assert response.status_code == 400, query
        assert field in response.json()["error"]["fields"], response.json()


def test_ordering(api, alice):
    now = timezone.now()
    listed(created_by=alice, slug="old-cheap", name="Zed", rating=4.9, price_per_use=Decimal("1"),
           trending_score=1)
    listed(created_by=alice, slug="new-pricey", name="Alpha", rating=3.0, price_per_use=Decimal("9"),
           trending_score=7)
    listed(created_by=alice, slug="mid", name="Mid", rating=4.0, price_per_use=Decimal("5"), trending_score=3)
    Agent.objects.filter(slug="old-cheap").update(created_at=now - timedelta(days=30))
    Agent.objects.filter(slug="mid").update(created_at=now - timedelta(days=10))

    def order(key: str) -> list[str]:
        return slugs(api().get(f"/api/agents?ordering={key}"))

    assert order("trending") == ["new-pricey", "mid", "old-cheap"]
    assert order("rating") == ["old-cheap", "mid", "new-pricey"]
    assert order("price") == ["old-cheap", "mid", "new-pricey"]
    assert order("-price") == ["new-pricey", "mid", "old-cheap"]
    assert order("newest") == ["new-pricey", "mid", "old-cheap"]
    assert order("name") == ["new-pricey", "mid", "old-cheap"]
    assert slugs(api().get("/api/agents")) == ["new-pricey", "mid", "old-cheap"]  # newest by default


def test_pagination_by_limit_offset_and_skip(api, alice):
    for n in range(5):
        listed(created_by=alice, slug=f"agent-{n:02d}", name=f"Agent {n:02d}")

    first = api().get("/api/agents?ordering=name&limit=2")
    assert slugs(first) == ["agent-00", "agent-01"]
    assert first["X-Total-Count"] == "5"
    assert 'rel="next"' in first["Link"] and 'rel="prev"' not in first["Link"]
    assert slugs(api().get("/api/agents?ordering=name&limit=2&offset=2")) == ["agent-02", "agent-03"]
    assert slugs(api().get("/api/v1/agents?ordering=name&limit=2&skip=4")) == ["agent-04"]
    last = api().get("/api/agents?ordering=name&limit=2&offset=4")
    assert 'rel="prev"' in last["Link"] and 'rel="next"' not in last["Link"]


def test_public_total_follows_catalog_changes(api, alice, make_agent):
    listed(created_by=alice, slug="first")
    assert api().get("/api/agents")["X-Total-Count"] == "1"  # now cached

    second = listed(created_by=alice, slug="second")
    assert api().get("/api/agents")["X-Total-Count"] == "2"
    assert slugs(api().get("/api/agents")) == ["second", "first"]
    second.status = "inactive"
    second.save()
    assert api().get("/api/agents")["X-Total-Count"] == "1"
    assert slugs(api().get("/api/agents")) == ["first"]  # the shared public page moved on too
    assert slugs(api().get("/api/v1/agents")) == ["first"]
    make_agent(created_by=alice)  # a draft is not listed
    assert api().get("/api/agents")["X-Total-Count"] == "1"
    assert api(alice).get("/api/agents")["X-Total-Count"] == "3"  # alice also sees her own
