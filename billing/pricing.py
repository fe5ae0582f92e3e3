"""What a run costs before it starts, and how an agent's dynamic price follows its load.

Seed 004's dynamic price: `dynamicPrice = basePrice × (1 + DYNAMIC_PRICE_LOAD_FACTOR × load)`,
rounded to the ledger's unit, where `basePrice` is the agent's price per use and `load` (0..1)
comes from its health checks. With the default factor 0.5 an idle agent costs its base price and
a fully loaded one 50 % more. A run is charged at most the price quoted when it was asked for.
"""

from decimal import Decimal

from django.conf import settings
from django.db.models import DecimalField as DecimalOutput
from django.db.models import ExpressionWrapper, F, Value
from django.db.models.functions import Round

from marketplace.choices import PricingModel

ZERO = Decimal("0")


def dynamic_price_expression(load: float):
    """The dynamic price for `load`, as an UPDATE expression on the agent's own base price."""
    factor = Decimal(str(1 + settings.DYNAMIC_PRICE_LOAD_FACTOR * min(max(load, 0.0), 1.0)))
    return Round(ExpressionWrapper(F("price_per_use") * Value(factor), output_field=DecimalOutput()), 4)


def run_price(*, agent, hiring=None) -> Decimal:
    """The most one run of `agent` can cost now (what is held on the wallet while it runs)."""
    if agent.pricing_model == PricingModel.PER_USE:
        return agent.dynamic_price if agent.dynamic_price > 0 else agent.price_per_use
    return ZERO  # free, or a subscription whose period is paid (no active hiring: refused before this)
