"""The hosted transport: run an uploaded package in the sandbox (orchestration.sandbox).

A try's deadline (`request.timeout`) caps the sandbox's wall time. Failures of the package itself
are permanent: the same zip on the same input fails the same way. An exception raised by the
agent's own code is an answer, not a transport failure: a CallResult with status "failed", so the
execution records the resources the run used.
"""

import time
from dataclasses import replace

from orchestration.sandbox import Limits, SandboxError, check_package, errors, verify_hash
from orchestration.sandbox import run_package as sandbox_run
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


def call(target: Target, request: CallRequest) -> CallResult:
    if request.timeout <= 0:
        raise CallTimeout("No time was left for this try.")
    package = _package(target)
    limits = Limits.from_settings()
    limits = replace(limits, wall_seconds=min(limits.wall_seconds, request.timeout))
    try:
        result = sandbox_run(package, code_hash=target.code_hash, entry_point=target.entry_point,
                             input=request.input, config=request.config or {}, limits=limits)
    except SandboxError as error:
        usage = Usage(cpu_seconds=error.cpu_seconds, memory_bytes=error.memory_bytes, disk_bytes=error.disk_bytes)
        if error.kind == errors.AGENT_ERROR:
            return CallResult(output=None, usage=usage, status="failed", error=error.message)
        if error.kind == errors.TIMEOUT:
            raise CallTimeout(error.message) from None
        raise PermanentCallError(error.message, code=error.kind) from None
    return CallResult(
        output=result.output,
        usage=Usage(cpu_seconds=result.cpu_seconds, memory_bytes=result.memory_bytes, disk_bytes=result.disk_bytes),
    )


def health(target: Target) -> HealthResult:
    """Healthy when the package is there, its hash is the pinned one, and its entry point is in it."""
    started = time.monotonic()
    try:
        package = _package(target)
        verify_hash(package, target.code_hash)
        limits = Limits.from_settings()
        check_package(package, target.entry_point, package_bytes=limits.package_bytes,
                      unpacked_bytes=limits.unpacked_bytes, max_files=limits.max_files)
    except (CallError, SandboxError) as error:
        return HealthResult(ok=False, response_ms=_ms(started), detail=error.message)
    return HealthResult(ok=True, response_ms=_ms(started), detail="package present, hash verified")


def _package(target: Target) -> bytes:
    if target.package is None:
        raise PermanentCallError("The hosted agent has no package.", code="no_package")
    try:
        package = target.package()
    except CallError:
        raise
    except FileNotFoundError as error:
        raise PermanentCallError(f"The agent's package is missing ({error}).", code="no_package") from None
    except OSError as error:  # storage that may answer next time
        raise TransientCallError(f"The agent's package could not be read ({error}).", code="package_unreadable") \
            from None
    if not isinstance(package, (bytes, bytearray, memoryview)):
        raise PermanentCallError("The agent's package is not bytes.", code="no_package")
    return bytes(package)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
