"""The one interface every agent call goes through, whatever the protocol.

The execution service builds a `Target` from the agent version it pins, hands it a `CallRequest`,
and gets back a `CallResult` or a `CallError`. Transports classify failures; they never retry:
retries, attempts and deadlines across tries belong to the execution service, which records
one attempt per try.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Target:
    """Where and how to reach one version of an agent."""

    transport: str  # "http" | "a2a" | "hosted"
    endpoint_url: str = ""
    entry_point: str = ""
    code_hash: str = ""
    # Hosted agents: returns the uploaded package's bytes (loaded lazily, only when called).
    package: Callable[[], bytes] | None = None
    # A2A agents: the protocol version their card declared ("0.3", "1.0", ...).
    protocol_version: str = ""


@dataclass(frozen=True)
class CallRequest:
    execution_id: str  # "exec_..."
    idempotency_key: str  # the same for every try of one execution
    input: Any
    config: dict = field(default_factory=dict)
    timeout: float = 30.0  # total seconds this try may take, end to end


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float | None = None
    memory_bytes: int | None = None
    disk_bytes: int | None = None


@dataclass(frozen=True)
class CallResult:
    output: Any
    cost: Decimal | None = None  # what the agent says the run cost, if it said
    external_cost: Decimal | None = None  # what it paid an outside tool (seed 004's externalCost), if it said
    external_vendor: str = ""  # who that tool's vendor was, if it said
    usage: Usage = field(default_factory=Usage)
    status: str = "completed"  # "completed" or "failed" (the agent answered that it failed)
    error: str = ""


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    response_ms: int
    load: float | None = None  # 0..1
    detail: str = ""


class CallError(Exception):
    """A try failed. `transient` says whether another try may succeed."""

    transient = False
    code = "agent_error"

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        if code:
            self.code = code


class TransientCallError(CallError):
    """Connection refused or reset, 429, 5xx, a timeout: worth another try after a backoff."""

    transient = True


class PermanentCallError(CallError):
    """4xx, a malformed or oversized reply, a refused destination, a bad package: fail at once."""


class CallTimeout(TransientCallError):
    code = "timeout"
