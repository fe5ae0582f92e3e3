"""How amounts read on pages and in messages, written once."""

from decimal import Decimal


def money(amount) -> str:
    """12.5 -> "12.50", 0.0025 -> "0.0025": two decimals unless the amount needs more."""
    amount = Decimal(amount or 0)
    cents = amount.quantize(Decimal("0.01"))
    return f"{cents}" if cents == amount else f"{amount.normalize():f}"
