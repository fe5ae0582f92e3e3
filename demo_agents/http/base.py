"""What every demo HTTP agent shares: the call it gets, the reply it gives, its errors, input checks."""

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.0001")


def money(value: Decimal) -> str:
    """Money on the wire: a decimal string with four places ("0.0300"), never a float."""
    return str(value.quantize(CENT))


class AgentError(Exception):
    """A refusal with an HTTP status and the house error shape: {"error": {"code", "message", "fields"?}}."""

    def __init__(self, status: int, code: str, message: str, *, fields: dict | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields or {}
        self.headers = headers or {}

    def body(self) -> dict:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


def invalid(field_name: str, message: str) -> AgentError:
    return AgentError(400, "invalid", f"{field_name}: {message}", fields={field_name: message})


@dataclass(frozen=True)
class Call:
    """One POST to an agent action, already parsed: the seed 004 body plus the Idempotency-Key header."""

    body: dict
    idempotency_key: str | None = None

    @property
    def input(self) -> Any:
        return self.body.get("input")

    @property
    def config(self) -> dict:
        return self.body.get("config") or {}

    @property
    def execution_id(self) -> str | None:
        return self.body.get("executionId")

    def option(self, *names: str) -> Any:
        """An option from the input object first, then from the config (the hiring's defaults)."""
        for source in (self.input if isinstance(self.input, dict) else {}, self.config):
            for name in names:
                if source.get(name) is not None:
                    return source[name]
        return None


@dataclass
class Reply:
    result: Any
    cost: Decimal | None = None
    status: int = 200
    extra: dict = field(default_factory=dict)
    raw: dict | None = None  # actions other than /execute answer with their own shape

    def body(self, *, execution_id: str | None) -> dict:
        if self.raw is not None:
            return self.raw
        body: dict[str, Any] = {"result": self.result}
        if self.cost is not None:
            body["cost"] = money(self.cost)
        if execution_id is not None:
            body["executionId"] = execution_id
        body.update(self.extra)
        return body


class Agent:
    """One demo agent. Subclasses set the class attributes and implement `execute`."""

    slug = ""
    name = ""
    version = "1.0.0"
    price = Decimal("0")
    capacity = 8  # in-flight calls at which /health reports a load of 1.0
    actions: tuple[str, ...] = ("execute",)

    def __init__(self, options):
        self.options = options
        self._lock = threading.Lock()
        self._in_flight = 0
        self.served = 0
        self.started = time.monotonic()

    # -- load ----------------------------------------------------------------------------

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self.served += 1

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def load(self) -> float:
        return round(min(1.0, self._in_flight / self.capacity), 4)

    def health(self) -> dict:
        return {
            "status": "ok",
            "agent": self.slug,
            "name": self.name,
            "version": self.version,
            "load": self.load(),
            "inFlight": self._in_flight,
            "capacity": self.capacity,
            "price": money(self.price),
            "currency": "BB",
            "requestsServed": self.served,
            "uptimeSeconds": round(time.monotonic() - self.started, 3),
        }

    # -- actions -------------------------------------------------------------------------

    def handle(self, action: str, call: Call) -> Reply:
        if action == "execute":
            check_execute_body(call.body)
            return self.execute(call)
        return getattr(self, action)(call)

    def execute(self, call: Call) -> Reply:  # pragma: no cover - every agent overrides it
        raise NotImplementedError


def check_execute_body(body: dict) -> None:
    """Seed 004's /execute body: {"input": ..., "config"?: {...}, "executionId"?: "..."}."""
    if "input" not in body:
        raise invalid("input", "This field is required.")
    config = body.get("config")
    if config is not None and not isinstance(config, dict):
        raise invalid("config", "Must be an object.")
    execution_id = body.get("executionId")
    if execution_id is not None and (not isinstance(execution_id, str) or len(execution_id) > 200):
        raise invalid("executionId", "Must be a string of at most 200 characters.")


# -- input helpers ---------------------------------------------------------------------------


def text_input(call: Call, *, names: Iterable[str] = ("text", "content"), limit: int = 200_000,
               field_name: str = "text") -> str:
    """The text to work on: the input itself when it is a string, else the first of `names` present."""
    value = call.input
    if isinstance(value, dict):
        value = next((value[name] for name in names if value.get(name) is not None), None)
        if value is None:
            raise invalid(f"input.{field_name}", "This field is required.")
    if not isinstance(value, str):
        raise invalid(f"input.{field_name}", "Must be a string (or the input an object with one).")
    if not value.strip():
        raise invalid(f"input.{field_name}", "Must not be blank.")
    if len(value) > limit:
        raise invalid(f"input.{field_name}", f"At most {limit} characters.")
    return value


def int_option(call: Call, *names: str, low: int, high: int) -> int | None:
    value = call.option(*names)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(names[0], f"Must be a whole number from {low} to {high}.")
    return value


def number_option(call: Call, *names: str, low: float, high: float, low_open: bool = False) -> float | None:
    value = call.option(*names)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high or \
            (low_open and value == low):
        bound = f"more than {low}" if low_open else f"from {low}"
        raise invalid(names[0], f"Must be a number {bound} up to {high}.")
    return float(value)


def decimal_value(value: Any, field_name: str) -> Decimal:
    """A price from a request: a decimal string or a number, finite, 0 to 1,000,000."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise invalid(field_name, "Must be a decimal string such as \"0.0400\" or a number.")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise invalid(field_name, "Must be a decimal string such as \"0.0400\" or a number.") from None
    if not amount.is_finite() or not Decimal("0") <= amount <= Decimal("1000000"):
        raise invalid(field_name, "Must be between 0 and 1000000.")
    return amount.quantize(CENT)
