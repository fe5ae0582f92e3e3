"""The seven demo HTTP agents. Each is a plain class; `server.py` puts them on the wire."""

import hashlib
import logging
import random
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

from demo_agents.http import search as search_engine
from demo_agents.http import summarizer as summarizer_engine
from demo_agents.http import translator as translator_engine
from demo_agents.http.base import (
    Agent,
    AgentError,
    Call,
    Reply,
    decimal_value,
    int_option,
    invalid,
    number_option,
    text_input,
)
from demo_agents.http.negotiation import QuoteBook, QuoteError, quote_reply

log = logging.getLogger("demo_agents.http")


@dataclass(frozen=True)
class Options:
    """Server-wide knobs (command-line flags of `python -m demo_agents`)."""

    busy_rate: float = 0.7  # share of mock-busy's runs answered 503
    busy_retry_after: int = 1  # seconds, in mock-busy's Retry-After
    busy_delay_ms: int = 200  # how slow mock-busy is when it does answer
    busy_load: float = 0.95  # the load mock-busy's /health reports
    seed: int = 4  # mock-busy's coin, for runs that carry neither an idempotency key nor an execution id
    negotiator_list_price: Decimal = Decimal("0.0500")
    negotiator_reserve_price: Decimal = Decimal("0.0350")
    quote_ttl: float = 300.0
    max_delay_ms: int = 10_000  # the most `config.delayMs` may ask for


def _delay(call: Call, options: Options, default_ms: int = 0) -> None:
    delay = int_option(call, "delayMs", low=0, high=options.max_delay_ms)
    delay = default_ms if delay is None else delay
    if delay:
        time.sleep(delay / 1000)


# -- echo ---------------------------------------------------------------------------------------


class Echo(Agent):
    """Returns its input unchanged: the trivial agent benchmarks measure the platform with."""

    slug, name, price = "echo", "Echo (HTTP)", Decimal("0")
    capacity = 64

    def execute(self, call: Call) -> Reply:
        _delay(call, self.options)
        return Reply(call.input, cost=self.price)


# -- summarizer ---------------------------------------------------------------------------------


def _summary(call: Call) -> dict:
    text = text_input(call, names=("text", "content", "translation"))
    summary = summarizer_engine.summarize(
        text,
        max_sentences=int_option(call, "maxSentences", "max_sentences", low=1, high=100),
        ratio=number_option(call, "ratio", low=0.0, high=1.0, low_open=True),
        max_words=int_option(call, "maxWords", "max_words", low=1, high=100_000),
    )
    return summary.as_result()


class Summarizer(Agent):
    slug, name, price = "summarizer", "Summarizer Agent", Decimal("0.0300")

    def execute(self, call: Call) -> Reply:
        return Reply(_summary(call), cost=self.price)


# -- translator ---------------------------------------------------------------------------------


def _language(call: Call, names: tuple[str, ...], field_name: str, *, required: bool) -> str | None:
    value = call.option(*names)
    if value is None:
        if required:
            raise invalid(f"input.{field_name}", "This field is required (en, es, fr or de).")
        return None
    if not isinstance(value, str):
        raise invalid(f"input.{field_name}", "Must be a language code such as \"es\".")
    code = translator_engine.language_code(value)
    if code is None:
        supported = ", ".join(sorted(translator_engine.LANGUAGES))
        raise invalid(f"input.{field_name}", f"Unsupported language {value!r}; supported: {supported}.")
    return code


def _translation(call: Call) -> dict:
    text = text_input(call, names=("text", "content", "summary"), limit=20_000)
    target = _language(call, ("targetLanguage", "target", "to", "target_language"), "targetLanguage", required=True)
    source = _language(call, ("sourceLanguage", "source", "from", "source_language"), "sourceLanguage",
                       required=False)
    engine = call.option("engine") or "auto"
    if engine not in ("auto", "dictionary", "llm"):
        raise invalid("engine", "Must be auto, dictionary or llm.")
    note = ""
    if engine != "dictionary" and translator_engine.llm_configured():
        try:
            answer = translator_engine.llm_translate(text, target=target, source=source)
            return {
                "translation": answer, "sourceLanguage": source, "targetLanguage": target,
                "unknownWords": [], "coverage": None, "method": "llm",
            }
        except Exception as exc:  # noqa: BLE001 - any failure of the LLM falls back to the lexicon
            log.warning("translator: the LLM failed (%s), using the dictionary", exc)
            note = f"The configured LLM failed ({type(exc).__name__}); translated with the bundled dictionary."
    elif engine == "llm":
        raise AgentError(400, "llm_unavailable", "No LLM is configured for this translator.",
                         fields={"engine": "No LLM is configured."})
    result = translator_engine.translate(text, target=target, source=source)
    result.note = note
    return result.as_result()


def _wants_translation(call: Call) -> bool:
    return call.option("targetLanguage", "target", "to", "target_language") is not None


class Translator(Agent):
    slug, name, price = "translator", "Translator Agent", Decimal("0.0200")

    def execute(self, call: Call) -> Reply:
        return Reply(_translation(call), cost=self.price)


# -- search -------------------------------------------------------------------------------------


class Search(Agent):
    slug, name, price = "search", "Search Agent", Decimal("0.0100")

    def execute(self, call: Call) -> Reply:
        query = text_input(call, names=("query", "q", "text"), limit=1000, field_name="query")
        limit = int_option(call, "maxResults", "limit", "topK", "max_results", low=1, high=50) or 5
        topic = call.option("topic")
        if topic is not None and topic not in search_engine.topics():
            raise invalid("input.topic", f"Unknown topic; one of: {', '.join(search_engine.topics())}.")
        hits, total, terms = search_engine.index().search(query, limit=limit, topic=topic)
        result = {"query": query, "terms": terms, "total": total, "results": hits}
        if not terms:
            result["note"] = "The query has no searchable words (only stopwords or punctuation)."
        return Reply(result, cost=self.price)


# -- mock-busy ----------------------------------------------------------------------------------


class MockBusy(Agent):
    """Nearly always busy: /health says so, and most runs get 503 with Retry-After.

    Whether a run is turned away is decided by a hash of (seed, idempotency key or execution id,
    how many times that key has been turned away), so a given key gives the same sequence every time
    and a retry can get through. `config.busyRate` (0..1) overrides the server's rate for one call.
    """

    slug, name, price = "mock-busy", "Mock Busy Agent", Decimal("0.0200")
    capacity = 2

    def __init__(self, options: Options):
        super().__init__(options)
        self._refusals: OrderedDict[str, int] = OrderedDict()
        self._rng = random.Random(options.seed)
        self._coin_lock = threading.Lock()

    def load(self) -> float:
        return round(max(self.options.busy_load, super().load()), 4)

    def execute(self, call: Call) -> Reply:
        rate = number_option(call, "busyRate", low=0.0, high=1.0)
        rate = self.options.busy_rate if rate is None else rate
        if self._turned_away(call, rate):
            raise AgentError(
                503, "busy", "The agent is at capacity; try again later.",
                headers={"Retry-After": str(self.options.busy_retry_after)},
            )
        _delay(call, self.options, self.options.busy_delay_ms)
        return Reply(_summary(call), cost=self.price)

    def _turned_away(self, call: Call, rate: float) -> bool:
        ident = call.idempotency_key or call.execution_id
        with self._coin_lock:
            if ident is None:
                return self._rng.random() < rate
            refused = self._refusals.get(ident, 0)
            digest = hashlib.sha256(f"{self.options.seed}:{ident}:{refused}".encode()).digest()
            busy = int.from_bytes(digest[:8], "big") / 2**64 < rate
            if busy:
                self._refusals[ident] = refused + 1
                self._refusals.move_to_end(ident)
                while len(self._refusals) > 10_000:
                    self._refusals.popitem(last=False)
            return busy


# -- mock-highprice -----------------------------------------------------------------------------


class MockHighPrice(Agent):
    """Does real work (a translation when a target language is given, else a summary) at a premium price."""

    slug, name, price = "mock-highprice", "Mock High-Price Agent", Decimal("0.5000")

    def execute(self, call: Call) -> Reply:
        result = _translation(call) if _wants_translation(call) else _summary(call)
        return Reply(result, cost=self.price)


# -- mock-negotiator ----------------------------------------------------------------------------


class MockNegotiator(Agent):
    """Quotes a price and haggles once (see negotiation.py); runs at the agreed price.

    Work: a translation when a target language is given, else a summary. Without a quote a run
    costs the list price.
    """

    slug, name = "mock-negotiator", "Mock Negotiator Agent"
    actions = ("execute", "quote")

    def __init__(self, options: Options):
        super().__init__(options)
        self.price = options.negotiator_list_price
        self.book = QuoteBook(list_price=options.negotiator_list_price,
                              reserve_price=options.negotiator_reserve_price, ttl=options.quote_ttl)

    def health(self) -> dict:
        return {**super().health(), "negotiable": True, "quoteEndpoint": "quote"}

    def quote(self, call: Call) -> Reply:
        body = call.body
        offer = None if body.get("offer") is None else decimal_value(body["offer"], "offer")
        quote_id = body.get("quoteId")
        if quote_id is not None and not isinstance(quote_id, str):
            raise invalid("quoteId", "Must be a string.")
        try:
            quote = self.book.bid(offer=offer, quote_id=quote_id)
        except QuoteError as exc:
            raise AgentError(exc.status, exc.code, exc.message, fields={exc.field or "quoteId": exc.message}) from None
        return Reply(None, raw=quote_reply(quote, book=self.book, agent=self.slug))

    def execute(self, call: Call) -> Reply:
        quote_id = call.body.get("quoteId") or call.config.get("quoteId")
        if quote_id is not None and not isinstance(quote_id, str):
            raise invalid("quoteId", "Must be a string.")
        price = self.book.list_price
        run_key = call.idempotency_key or call.execution_id or f"anonymous:{secrets.token_hex(8)}"
        if quote_id:
            try:
                price = self.book.redeem(quote_id, run_key=run_key)
            except QuoteError as exc:
                raise AgentError(exc.status if exc.status != 404 else 409, exc.code, exc.message,
                                 fields={"quoteId": exc.message}) from None
        try:
            result = _translation(call) if _wants_translation(call) else _summary(call)
        except Exception:
            if quote_id:
                self.book.release(quote_id, run_key=run_key)
            raise
        extra = {"quoteId": quote_id} if quote_id else {}
        return Reply(result, cost=price, extra=extra)


AGENT_CLASSES: tuple[type[Agent], ...] = (
    Summarizer, Translator, Search, MockBusy, MockHighPrice, MockNegotiator, Echo,
)
SLUGS = tuple(cls.slug for cls in AGENT_CLASSES)


def build_agents(options: Options) -> dict[str, Agent]:
    return {cls.slug: cls(options) for cls in AGENT_CLASSES}


def warm_up() -> None:
    """Load the lexicon and build the search index now, not on the first request."""
    translator_engine.lexicon()
    search_engine.index()
