"""The sandbox that runs hosted agents: uploaded Python packages, one subprocess per run.

    from orchestration.sandbox import Limits, SandboxError, run_package

    result = run_package(zip_bytes, code_hash=sha256, entry_point="main.py:main",
                         input={"message": "hi"}, config={}, limits=Limits(wall_seconds=5))
    result.output, result.cpu_seconds, result.memory_bytes, result.disk_bytes, result.wall_ms

Before anything else the zip's SHA-256 must be the pinned code hash. The package is unpacked
with checks (no absolute or climbing paths, no links or devices, caps on entries and unpacked
size) into a fresh folder that is deleted afterwards. The agent runs in a subprocess (the base
interpreter with -I -S -B: the standard library only, none of the project's packages) that is
given none of the server's environment, with limits on CPU seconds, address space, file size,
processes and open files, and a wall-time limit. Its answer comes back as JSON, at most 1 MiB.

How it is cut off, by host:

- Linux, running as root: new pid, network and mount namespaces. No network but a loopback that
  is down; a /proc and /sys of its own; the server's folders (the project, media, the database's
  folder, /root, /home, /run, /var/lib, /opt, ...) under empty read-only mounts, the interpreter
  bound back in; its work folder as /tmp, the only place it can write. It runs under a uid of its
  own (SANDBOX_UID_BASE..), with no capabilities and no_new_privs; when it ends, the kernel kills
  whatever it started.
- Linux, not root: the same inside a user namespace of its own (it is "root" there, mapped to
  the worker's uid, with every capability dropped once the mounts are made, so it cannot undo them).
- Where the kernel refuses namespaces (a container's seccomp profile, user namespaces switched
  off, macOS): `SANDBOX_ISOLATION=namespaces` (the production default) refuses to run the agent
  (SandboxError "isolation_unavailable"); `auto` (the development default) runs it with an audit
  hook in its interpreter that refuses sockets (except socketpairs), starting or signalling
  processes, ctypes and the hidden folders and other processes' /proc entries, logs a WARNING
  once, and reports `NETWORK_ISOLATION == "audit_hook"`. Rlimits and, as root, the uid of its own
  still apply. An audit hook is a speed bump, not a wall: native code that gets past it gets past
  everything, so do not run untrusted agents that way.

The entry point interface (seed 002): `file.py:Name`; a class is instantiated (with the config
when its constructor takes one) and its `run` or `execute` method is called with the input (and
the config when it takes it); a function is called with the input (and the config when it takes
it); a coroutine is awaited. The output must be JSON.
"""

from orchestration.sandbox import errors
from orchestration.sandbox.errors import SandboxError
from orchestration.sandbox.limits import Limits
from orchestration.sandbox.package import check_package, parse_entry_point, sha256_hex, verify_hash
from orchestration.sandbox.process import SandboxResult, probe, run_package

__all__ = [
    "Limits",
    "SandboxError",
    "SandboxResult",
    "check_package",
    "errors",
    "isolation",
    "parse_entry_point",
    "probe",
    "run_package",
    "sha256_hex",
    "verify_hash",
]


def isolation() -> str | None:
    """How the last run in this process was cut off from the network: "namespace", "audit_hook" or None."""
    from orchestration.sandbox import process

    return process.NETWORK_ISOLATION
