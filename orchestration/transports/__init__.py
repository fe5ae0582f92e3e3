"""Agent transports: `call(target, request)` and `health(target)` dispatch on `target.transport`."""

from orchestration.transports.base import (
    CallError,
    CallRequest,
    CallResult,
    CallTimeout,
    HealthResult,
    PermanentCallError,
    Target,
    TransientCallError,
    Usage,
)

__all__ = [
    "CallError",
    "CallRequest",
    "CallResult",
    "CallTimeout",
    "HealthResult",
    "PermanentCallError",
    "Target",
    "TransientCallError",
    "Usage",
    "call",
    "health",
]


def _module(transport: str):
    if transport == "http":
        from orchestration.transports import http as module
    elif transport == "a2a":
        from orchestration.transports import a2a as module
    elif transport == "hosted":
        from orchestration.transports import hosted as module
    else:
        raise PermanentCallError(f"Unknown transport {transport!r}.", code="bad_transport")
    return module


def call(target: Target, request: CallRequest) -> CallResult:
    return _module(target.transport).call(target, request)


def health(target: Target) -> HealthResult:
    return _module(target.transport).health(target)
