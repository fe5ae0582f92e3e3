"""Why a sandboxed run did not produce an output."""

# Every kind a SandboxError can carry. The hosted transport maps them onto call errors.
HASH_MISMATCH = "hash_mismatch"  # the zip's SHA-256 is not the code hash the version pins
BAD_PACKAGE = "bad_package"  # not a zip, unsafe paths, a zip bomb, or its code fails to import
BAD_ENTRY_POINT = "bad_entry_point"  # malformed, missing from the package, or not callable
BAD_INPUT = "bad_input"  # the input or config is not JSON
TIMEOUT = "timeout"  # the wall-time limit
CPU_LIMIT = "cpu_limit"  # the CPU-seconds limit
MEMORY = "memory"  # the address-space limit
FILE_SIZE = "file_size"  # a file grew past the file-size limit
CRASHED = "crashed"  # the process died without an answer (a signal, an exit, a broken runner)
BAD_OUTPUT = "bad_output"  # not JSON-serialisable, or larger than the output cap
AGENT_ERROR = "agent_error"  # the agent's code raised: it ran, and failed
ISOLATION_UNAVAILABLE = "isolation_unavailable"  # namespaces are required here and the OS refused them
UNSUPPORTED = "unsupported"  # not a POSIX system

KINDS = frozenset({
    HASH_MISMATCH, BAD_PACKAGE, BAD_ENTRY_POINT, BAD_INPUT, TIMEOUT, CPU_LIMIT, MEMORY, FILE_SIZE, CRASHED,
    BAD_OUTPUT, AGENT_ERROR, ISOLATION_UNAVAILABLE, UNSUPPORTED,
})


class SandboxError(Exception):
    """A run failed; `kind` says why. Resource figures are filled when a process ran."""

    def __init__(self, kind: str, message: str, *, cpu_seconds: float | None = None,
                 memory_bytes: int | None = None, disk_bytes: int | None = None, wall_ms: int | None = None,
                 stderr: str = ""):
        assert kind in KINDS, kind
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.cpu_seconds = cpu_seconds
        self.memory_bytes = memory_bytes
        self.disk_bytes = disk_bytes
        self.wall_ms = wall_ms
        self.stderr = stderr  # the tail of what the agent printed, for logs

    def __repr__(self) -> str:
        return f"SandboxError({self.kind!r}, {self.message!r})"
