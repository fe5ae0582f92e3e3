"""The negotiator's price book: binding quotes, one counter-offer each way, then a final word.

A quote is a price the agent stands by until it expires, for one run. The buyer may bid twice on
a quote at most (its first request and one counter); the agent's answer to the second bid is final.
Rules, with list price L and reserve price R (the lowest the agent takes; L > R):

  round 1, no bid          -> "offer"     at L
  round 1, bid >= L        -> "accepted"  at L (never more than asked)
  round 1, bid <  L        -> "counter"   at max(R, midpoint of bid and L), rounded up to 0.0001
  round 2, bid >= standing -> "accepted"  at the standing price
  round 2, R <= bid        -> "accepted"  at the bid
  round 2, bid <  R        -> "rejected"; the standing price still holds until the quote expires

Every answer is final after round 2; a further bid is refused (409 negotiation_closed). Running the
agent with the quote's id charges its standing price, once: a second run with another idempotency
key is refused (409 quote_used). Quotes live in memory (bounded, oldest dropped first).
"""

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal

CENT = Decimal("0.0001")
MAX_ROUNDS = 2


class QuoteError(Exception):
    def __init__(self, status: int, code: str, message: str, field_name: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field_name


@dataclass
class Quote:
    id: str
    price: Decimal
    round: int
    status: str
    final: bool
    expires_at: float
    last_bid: Decimal | None = None
    used_by: str | None = None
    history: list[dict] = field(default_factory=list)


def money(value: Decimal) -> str:
    return str(value.quantize(CENT))


class QuoteBook:
    def __init__(self, *, list_price: Decimal, reserve_price: Decimal, ttl: float = 300.0, max_quotes: int = 10000):
        if not Decimal("0") <= reserve_price <= list_price:
            raise ValueError("The reserve price must be between 0 and the list price.")
        self.list_price, self.reserve_price = list_price, reserve_price
        self.ttl, self.max_quotes = ttl, max_quotes
        self._quotes: OrderedDict[str, Quote] = OrderedDict()
        self._lock = threading.Lock()

    def bid(self, *, offer: Decimal | None, quote_id: str | None) -> Quote:
        """Answer a price request (no quote id) or a counter-offer on an open quote."""
        now = time.time()
        with self._lock:
            if quote_id is None:
                quote = Quote(id=f"q_{secrets.token_hex(12)}", price=self.list_price, round=1, status="offer",
                              final=False, expires_at=now + self.ttl)
                if offer is not None:
                    if offer >= self.list_price:
                        quote.status, quote.final = "accepted", True
                    else:
                        midpoint = ((offer + self.list_price) / 2).quantize(CENT, rounding=ROUND_CEILING)
                        quote.price, quote.status = max(self.reserve_price, midpoint), "counter"
                self._remember(quote)
            else:
                quote = self._open(quote_id, now)
                if quote.final or quote.round >= MAX_ROUNDS:
                    raise QuoteError(409, "negotiation_closed", "This quote's negotiation is over: run it at its "
                                     f"price ({money(quote.price)}) or ask for a new quote.", "quoteId")
                if offer is None:
                    raise QuoteError(400, "invalid", "A counter-offer needs an offer.", "offer")
                quote.round += 1
                quote.final = True
                if offer >= quote.price:
                    quote.status = "accepted"
                elif offer >= self.reserve_price:
                    quote.price, quote.status = offer, "accepted"
                else:
                    quote.status = "rejected"
                quote.expires_at = now + self.ttl
                self._quotes.move_to_end(quote.id)
            quote.last_bid = offer
            quote.history.append({"round": quote.round, "offer": None if offer is None else money(offer),
                                  "status": quote.status, "price": money(quote.price)})
            return _copy(quote)

    def redeem(self, quote_id: str, *, run_key: str) -> Decimal:
        """The price to charge for a run under `quote_id`; the same run key may redeem it again (a retry)."""
        with self._lock:
            quote = self._open(quote_id, time.time())
            if quote.used_by is not None and quote.used_by != run_key:
                raise QuoteError(409, "quote_used", "This quote has already paid for another run.", "quoteId")
            quote.used_by = run_key
            return quote.price

    def release(self, quote_id: str, *, run_key: str) -> None:
        """A run that failed gives its quote back."""
        with self._lock:
            quote = self._quotes.get(quote_id)
            if quote is not None and quote.used_by == run_key:
                quote.used_by = None

    def _open(self, quote_id: str, now: float) -> Quote:
        quote = self._quotes.get(quote_id)
        if quote is None:
            raise QuoteError(404, "unknown_quote", "No such quote (unknown, or forgotten after a restart).", "quoteId")
        if quote.expires_at < now:
            raise QuoteError(409, "quote_expired", "This quote has expired: ask for a new one.", "quoteId")
        return quote

    def _remember(self, quote: Quote) -> None:
        self._quotes[quote.id] = quote
        while len(self._quotes) > self.max_quotes:
            self._quotes.popitem(last=False)


def _copy(quote: Quote) -> Quote:
    return Quote(**{**quote.__dict__, "history": list(quote.history)})


def quote_reply(quote: Quote, *, book: QuoteBook, agent: str) -> dict:
    messages = {
        "offer": "Our price for this run.",
        "counter": "We cannot go that low; this is our counter-offer.",
        "accepted": "Agreed.",
        "rejected": "That is below what we can accept; our previous price stands.",
    }
    return {
        "quoteId": quote.id,
        "agent": agent,
        "status": quote.status,
        "price": money(quote.price),
        "listPrice": money(book.list_price),
        "offer": None if quote.last_bid is None else money(quote.last_bid),
        "currency": "BB",
        "round": quote.round,
        "maxRounds": MAX_ROUNDS,
        "final": quote.final,
        "expiresAt": datetime.fromtimestamp(quote.expires_at, UTC).isoformat().replace("+00:00", "Z"),
        "message": messages[quote.status],
        "history": quote.history,
    }
