"""What one sandboxed run may use. Defaults come from the SANDBOX_* settings."""

from dataclasses import dataclass, replace

AUTO, NAMESPACES, AUDIT = "auto", "namespaces", "audit"
ISOLATION_MODES = (AUTO, NAMESPACES, AUDIT)

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 10  # RLIMIT_CPU: user + system time
    memory_bytes: int = 256 * MB  # RLIMIT_AS: the address space, so a bit above what the agent can touch
    wall_seconds: float = 30.0  # enforced by the runner, with a backstop in the caller
    file_bytes: int = 16 * MB  # RLIMIT_FSIZE: the largest file the agent may write
    max_processes: int = 32  # RLIMIT_NPROC: processes and threads of the sandbox's user
    max_open_files: int = 64  # RLIMIT_NOFILE
    output_bytes: int = 1 * MB  # the largest answer (JSON) read back
    package_bytes: int = 10 * MB  # the largest zip accepted
    unpacked_bytes: int = 50 * MB  # the zip's contents, all files together (zip bombs)
    max_files: int = 1000  # entries in the zip
    # "auto": namespaces where the OS allows them, else the audit-hook fallback (logged);
    # "namespaces": refuse to run without them; "audit": always the fallback (tests, odd hosts).
    isolation: str = AUTO

    def __post_init__(self):
        if self.isolation not in ISOLATION_MODES:
            raise ValueError(f"isolation must be one of {ISOLATION_MODES}, got {self.isolation!r}")
        for name in ("cpu_seconds", "memory_bytes", "wall_seconds", "file_bytes", "max_processes",
                     "max_open_files", "output_bytes", "package_bytes", "unpacked_bytes", "max_files"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    @classmethod
    def from_settings(cls, **overrides) -> "Limits":
        from django.conf import settings

        defaults = cls()
        limits = cls(
            cpu_seconds=getattr(settings, "SANDBOX_CPU_SECONDS", defaults.cpu_seconds),
            memory_bytes=getattr(settings, "SANDBOX_MEMORY_MB", defaults.memory_bytes // MB) * MB,
            wall_seconds=float(getattr(settings, "SANDBOX_WALL_SECONDS", defaults.wall_seconds)),
            file_bytes=getattr(settings, "SANDBOX_FILE_MB", defaults.file_bytes // MB) * MB,
            max_processes=getattr(settings, "SANDBOX_MAX_PROCESSES", defaults.max_processes),
            max_open_files=getattr(settings, "SANDBOX_MAX_OPEN_FILES", defaults.max_open_files),
            output_bytes=getattr(settings, "SANDBOX_OUTPUT_BYTES", defaults.output_bytes),
            package_bytes=getattr(settings, "SANDBOX_PACKAGE_MB", defaults.package_bytes // MB) * MB,
            unpacked_bytes=getattr(settings, "SANDBOX_UNPACKED_MB", defaults.unpacked_bytes // MB) * MB,
            max_files=getattr(settings, "SANDBOX_MAX_PACKAGE_FILES", defaults.max_files),
            isolation=getattr(settings, "SANDBOX_ISOLATION", defaults.isolation),
        )
        return replace(limits, **overrides) if overrides else limits
