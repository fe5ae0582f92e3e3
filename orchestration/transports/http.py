"""The http transport: seed 004's agent protocol.

    POST {endpoint}/execute   {"input": ..., "config": {...}, "executionId": "exec_..."}
                              Idempotency-Key: <the same for every try of one execution>
        200 {"result": <any JSON>, "cost": 0.02}          cost optional: >= 0, at most 4 places
            optional too (seed 004): "externalCost": 0.01, a tool the agent paid for, charged to the
            user out of the run's hold; "requiresExternalTool": true; "externalVendor": "who"
        200 {"status": "failed", "error": "why"}           the agent says the run failed
    GET  {endpoint}/health    200 {"status": "ok", "load": 0.25}   load optional, 0..1

The reply is untrusted input: anything else is a permanent, malformed-reply failure.
Deadlines, redirects, size caps and the transient/permanent split of transport failures
come from `orchestration.outbound`.
"""

import math
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from orchestration import outbound
from orchestration.transports.base import (
    CallError,
    CallRequest,
    CallResult,
    HealthResult,
    PermanentCallError,
    Target,
)

HEALTH_TIMEOUT = 5.0  # seconds, end to end, for one /health probe
MAX_COST = Decimal("99999999.9999")  # what the 12-digit, 4-place money columns hold
_FOUR_PLACES = Decimal("0.0001")
_FAILED = {"failed", "failure", "error"}
_HEALTHY = {"ok", "healthy", "up", "available", "pass"}
_MAX_ERROR_LENGTH = 1000


def _url(target: Target, path: str) -> str:
    if not target.endpoint_url:
        raise PermanentCallError("The agent has no endpoint URL.", code="bad_target")
    return target.endpoint_url.rstrip("/") + path


def call(target: Target, request: CallRequest) -> CallResult:
    response = outbound.request(
        "POST",
        _url(target, "/execute"),
        json={"input": request.input, "config": request.config or {}, "executionId": request.execution_id},
        headers={"Idempotency-Key": request.idempotency_key},
        total_timeout=request.timeout,
    )
    reply = response.json()
    if not isinstance(reply, dict):
        raise PermanentCallError("The agent's reply is not a JSON object.", code="malformed_reply")
    cost = parse_cost(reply.get("cost"))
    status = reply.get("status")
    if (isinstance(status, str) and status.lower() in _FAILED) or ("result" not in reply and reply.get("error")):
        return CallResult(output=reply.get("result"), cost=cost, status="failed", error=_error_text(reply.get("error")))
    if "result" not in reply:
        raise PermanentCallError('The agent\'s reply has no "result".', code="malformed_reply")
    return CallResult(output=reply["result"], cost=cost, external_cost=parse_cost(reply.get("externalCost")),
                      external_vendor=_vendor(reply))


def _vendor(reply: dict) -> str:
    """Who the external tool's vendor was, as the agent named it (free text, shown to the user)."""
    vendor = reply.get("externalVendor", reply.get("vendor"))
    return " ".join(vendor.split())[:100] if isinstance(vendor, str) else ""


def health(target: Target) -> HealthResult:
    started = time.monotonic()
    try:
        response = outbound.request("GET", _url(target, "/health"), total_timeout=HEALTH_TIMEOUT)
    except CallError as exc:
        return HealthResult(ok=False, response_ms=_ms_since(started), detail=exc.message)
    try:
        reply = response.json()
    except CallError:
        reply = None
    if not isinstance(reply, dict):
        # Answering 2xx is the essential part; a plain "OK" body is tolerated.
        return HealthResult(ok=True, response_ms=response.elapsed_ms, detail="The health reply is not a JSON object.")
    status = reply.get("status")
    ok = status is None or (isinstance(status, str) and status.lower() in _HEALTHY)
    load = reply.get("load")
    detail = "" if ok else f"The agent reports status {str(status)[:100]!r}."
    if load is not None and not (
        isinstance(load, int | float) and not isinstance(load, bool) and math.isfinite(load) and 0 <= load <= 1
    ):
        detail = (detail + " " if detail else "") + f"Ignored a load outside 0..1 ({str(load)[:50]!r})."
        load = None
    load = None if load is None else float(load)
    return HealthResult(ok=ok, response_ms=response.elapsed_ms, load=load, detail=detail)


def parse_cost(value: Any) -> Decimal | None:
    """An agent's cost (a JSON number or a decimal string) as a Decimal; anything odd is a permanent error."""
    if value is None:
        return None
    shown = repr(value)[:50]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PermanentCallError(f"The agent's cost {shown} is not a number.", code="malformed_reply")
    try:
        # repr() of a float is its shortest exact spelling: 0.02 stays 0.02, not 0.0200000000000000004.
        cost = Decimal(repr(value) if isinstance(value, float) else value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise PermanentCallError(f"The agent's cost {shown} is not a number.", code="malformed_reply") from None
    if not cost.is_finite() or cost < 0:
        raise PermanentCallError(f"The agent's cost {shown} is not a non-negative amount.", code="malformed_reply")
    if cost > MAX_COST:
        raise PermanentCallError(f"The agent's cost {shown} is too large.", code="malformed_reply")
    if cost.quantize(_FOUR_PLACES) != cost:
        raise PermanentCallError(f"The agent's cost {shown} has more than 4 decimal places.", code="malformed_reply")
    return cost.quantize(_FOUR_PLACES)


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        error = error.get("message") or error.get("error") or error
    text = error if isinstance(error, str) else ("The agent reported a failure." if error is None else repr(error))
    return text[:_MAX_ERROR_LENGTH] or "The agent reported a failure."


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
