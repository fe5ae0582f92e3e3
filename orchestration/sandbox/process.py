"""Run one hosted agent package in a sandboxed subprocess and measure what it used.

The caller's side: verify, unpack, start `runner.py` with nothing of the server's environment,
feed it the request, read its report with a size cap, stop it at the wall-time backstop, reap it
with `os.wait4` for its own CPU time and peak memory, count the bytes it left in its folder, and
delete the folder. What happens inside is in runner.py.
"""

import errno
import fcntl
import json
import logging
import os
import pwd
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestration.sandbox.errors import (
    BAD_INPUT,
    CRASHED,
    ISOLATION_UNAVAILABLE,
    KINDS,
    MEMORY,
    TIMEOUT,
    UNSUPPORTED,
    SandboxError,
)
from orchestration.sandbox.limits import Limits
from orchestration.sandbox.package import extract, parse_entry_point, verify_hash

logger = logging.getLogger("orchestration.sandbox")

RUNNER = Path(__file__).with_name("runner.py")
# How the last run on this process was isolated: None until a run (or `probe()`) has said.
# NETWORK_ISOLATION is "namespace" (a network namespace with only a loopback that is down) or
# "audit_hook" (the in-interpreter fallback); ISOLATION holds the runner's whole report.
NETWORK_ISOLATION: str | None = None
ISOLATION: dict | None = None

# The only environment an agent gets. Nothing is copied from os.environ: no SECRET_KEY, no
# DATABASE_URL, no REDIS_URL, no STRIPE_*, no cloud credentials, whatever the server was given.
# (-I makes Python ignore PYTHON* variables, so hash seeds and paths come from the command line.)
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TZ": "UTC",
    "MALLOC_ARENA_MAX": "2",  # glibc reserves 64 MB of address space per thread arena otherwise
}
# Folders an agent never sees when the mount namespace is there (and is refused by the audit hook
# otherwise), besides the project's own (BASE_DIR, MEDIA_ROOT, ...) and SANDBOX_HIDE_PATHS.
SYSTEM_HIDDEN = ("/root", "/home", "/run", "/var/run", "/var/tmp", "/var/lib", "/var/log", "/var/spool",
                 "/var/mail", "/var/backups", "/dev/shm", "/dev/mqueue", "/srv", "/mnt", "/media", "/opt")
_STDERR_TAIL = 16 * 1024
_BACKSTOP_GRACE = 5.0  # the runner enforces the wall time; this catches a runner that does not


@dataclass(frozen=True)
class SandboxResult:
    output: Any
    cpu_seconds: float  # user + system of the agent's process and its children (os.wait4)
    memory_bytes: int  # the agent's peak resident set size (os.wait4)
    disk_bytes: int  # bytes the agent left in its folder (new or changed files)
    wall_ms: int  # start to result, as the caller saw it
    isolation: str = ""  # "namespaces" or "audit"


def run_package(package: bytes, *, code_hash: str, entry_point: str, input, config: dict,
                limits: Limits | None = None) -> SandboxResult:
    """Run `entry_point` of the zip `package` on `input` in a fresh sandbox. Raises SandboxError."""
    started = time.monotonic()
    if os.name != "posix":
        raise SandboxError(UNSUPPORTED, "Hosted agents run only on POSIX systems (Linux for full isolation).")
    limits = limits or Limits.from_settings()
    verify_hash(package, code_hash)  # before anything reads the zip
    entry = parse_entry_point(entry_point)
    try:
        payload = {"input": input, "config": config if config is not None else {}}
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise SandboxError(BAD_INPUT, f"The input or config is not JSON ({error}).") from None

    uid, uid_lock = _claim_uid() if os.geteuid() == 0 else (None, None)
    try:
        workdir = tempfile.mkdtemp(prefix="agenthub-sandbox-")
        try:
            stdout, stderr, usage, backstop, disk = _run_in(workdir, package, entry, payload, uid, limits,
                                                            deadline=started + limits.wall_seconds + _BACKSTOP_GRACE)
        finally:
            _remove(workdir)
    finally:
        if uid_lock is not None:
            os.close(uid_lock)

    # Until the runner reports the agent's own figures: the runner's, as the caller reaped it
    # (its peak memory includes this server's, inherited across fork and exec, so it is left out).
    measured = {
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 4),
        "memory_bytes": None,
        "disk_bytes": disk,
        "wall_ms": int((time.monotonic() - started) * 1000),
    }
    tail = stderr.decode("utf-8", "replace")
    if backstop:
        raise SandboxError(TIMEOUT, f"The agent ran past its wall-time limit ({limits.wall_seconds:g} s).",
                           stderr=tail, **measured)
    try:
        report = json.loads(stdout)
        isolation = report["isolation"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise SandboxError(CRASHED, "The sandbox runner ended without a report." + _excerpt(tail),
                           stderr=tail, **measured) from None
    if isinstance(agent := report.get("usage"), dict):
        measured.update(cpu_seconds=round(float(agent["cpu_seconds"]), 4), memory_bytes=int(agent["memory_bytes"]))
    _note_isolation(isolation)
    if report.get("ok") is True:
        return SandboxResult(output=report.get("output"), isolation=isolation.get("mode", ""), **measured)
    kind = report.get("kind") if report.get("kind") in KINDS else CRASHED
    message = str(report.get("message") or "The agent failed.")
    if kind == CRASHED and "MemoryError" in tail:
        kind, message = MEMORY, f"The agent ran out of memory ({limits.memory_bytes // 1048576} MB)."
    if kind == CRASHED:
        message += _excerpt(tail)
    raise SandboxError(kind, message, stderr=tail, **measured)


def _run_in(workdir: str, package: bytes, entry, payload: dict, uid: int | None, limits: Limits, *,
            deadline: float):
    """Unpack into `workdir`, run the runner there; (stdout, stderr, rusage, backstop, disk bytes)."""
    root = extract(package, workdir, entry, package_bytes=limits.package_bytes,
                   unpacked_bytes=limits.unpacked_bytes, max_files=limits.max_files)
    if uid is not None:
        _chown_tree(workdir, uid)
    before = _files(workdir)
    request = {
        **payload,
        "entry": {"path": entry.path, "attr": entry.attr},
        "root": root,
        "workdir": workdir,
        "uid": uid,
        "isolation": limits.isolation,
        "hide": _hidden_paths(workdir),
        "expose": _interpreter_paths(),
        "limits": {
            "cpu_seconds": limits.cpu_seconds, "memory_bytes": limits.memory_bytes,
            "wall_seconds": limits.wall_seconds, "file_bytes": limits.file_bytes,
            "max_processes": limits.max_processes, "max_open_files": limits.max_open_files,
            "output_bytes": limits.output_bytes,
        },
    }
    stdout, stderr, usage, backstop = _spawn(request, workdir, deadline=deadline, output_bytes=limits.output_bytes)
    if os.geteuid() != 0:
        _unlock(workdir)
    return stdout, stderr, usage, backstop, _written(workdir, before)


def probe(limits: Limits | None = None) -> dict:
    """Run a trivial package once and return how this host isolates agents (also logged once)."""
    import io
    import zipfile

    from orchestration.sandbox.package import sha256_hex

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", "def main(input):\n    return input\n")
    package = buffer.getvalue()
    run_package(package, code_hash=sha256_hex(package), entry_point="main.py:main", input=1, config={},
                limits=limits)
    return dict(ISOLATION or {})


def _note_isolation(isolation: dict) -> None:
    global NETWORK_ISOLATION, ISOLATION
    changed = ISOLATION is None or ISOLATION.get("mode") != isolation.get("mode")
    NETWORK_ISOLATION, ISOLATION = isolation.get("network"), isolation
    if not changed:
        return
    if isolation.get("mode") == "namespaces":
        logger.info("sandbox isolation: pid, network and mount namespaces (user: %s, /proc: %s)",
                    isolation.get("user"), isolation.get("proc"))
    else:
        logger.warning(
            "sandbox isolation: AUDIT-HOOK FALLBACK (%s); network: %s. Sockets, processes and native code "
            "are refused inside the interpreter only; set SANDBOX_ISOLATION=namespaces to refuse to run "
            "like this.", isolation.get("reason") or "unknown reason", isolation.get("network"),
        )


def _spawn(request: dict, workdir: str, *, deadline: float, output_bytes: int):
    """Start the runner, talk to it, reap it. Returns (stdout, stderr tail, rusage, backstop fired)."""
    python = getattr(sys, "_base_executable", "") or sys.executable  # the interpreter, not the venv
    if not os.path.exists(python):
        python = sys.executable
    env = {**BASE_ENV, "HOME": workdir, "TMPDIR": workdir}
    try:
        process = subprocess.Popen(
            [python, "-I", "-S", "-B", "-X", "utf8", str(RUNNER)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=workdir, env=env, close_fds=True, start_new_session=True,  # its own process group to kill
        )
    except OSError as error:  # no interpreter, no processes left, no file descriptors left
        raise SandboxError(CRASHED, f"The sandbox could not be started ({error}).") from None
    stdout_cap = 2 * output_bytes + 256 * 1024  # the runner caps the answer; this caps the runner
    stdout, stderr, backstop = bytearray(), bytearray(), False
    pending = memoryview(json.dumps(request, ensure_ascii=False).encode())
    try:
        with selectors.DefaultSelector() as selector:
            for stream in (process.stdout, process.stderr):
                os.set_blocking(stream.fileno(), False)
                selector.register(stream, selectors.EVENT_READ)
            os.set_blocking(process.stdin.fileno(), False)
            selector.register(process.stdin, selectors.EVENT_WRITE)
            reading = True  # until the runner's stdout ends; stderr is drained once it has exited
            while reading:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    backstop = True
                    break
                for key, _ in selector.select(remaining):
                    if key.fileobj is process.stdin:
                        try:
                            pending = pending[os.write(process.stdin.fileno(), pending[:65536]):]
                        except BlockingIOError:
                            continue
                        except BrokenPipeError:
                            pending = pending[:0]
                        if not pending:
                            selector.unregister(process.stdin)
                            process.stdin.close()
                        continue
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        reading = reading and key.fileobj is not process.stdout
                    elif key.fileobj is process.stdout:
                        stdout += chunk
                        if len(stdout) > stdout_cap:
                            backstop = True  # a runner that floods its report is broken: stop it
                            break
                    else:
                        stderr += chunk
                        del stderr[:-_STDERR_TAIL]
                if backstop:
                    break
        if backstop:
            _kill_group(process.pid)
        usage = _reap(process, deadline=deadline)
        # Whatever stderr still holds (the runner has exited; only escapees could keep it open).
        try:
            while chunk := os.read(process.stderr.fileno(), 65536):
                stderr += chunk
                del stderr[:-_STDERR_TAIL]
        except (BlockingIOError, OSError):
            pass
    except BaseException:
        # Also a Celery soft time limit arriving mid-run: never leave the sandbox behind.
        _kill_group(process.pid)
        _reap(process, deadline=time.monotonic() + 5)
        raise
    finally:
        for stream in (process.stdin, process.stdout, process.stderr):
            if not stream.closed:
                stream.close()
    return bytes(stdout), bytes(stderr), usage, backstop


def _reap(process: subprocess.Popen, *, deadline: float):
    """Wait for the runner, kill its process group while its pid still pins the group, then reap."""
    while True:
        try:
            if os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break
        except ChildProcessError:
            break
        if time.monotonic() > deadline:
            _kill_group(process.pid)
            break
        time.sleep(0.002)
    _kill_group(process.pid)  # leftovers of the audit-hook mode (namespaces leave none)
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except ChildProcessError:
        return _zero_usage()
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _zero_usage():
    import resource

    return resource.struct_rusage((0.0, 0.0) + (0,) * 14)


def _excerpt(tail: str) -> str:
    lines = [line for line in tail.strip().splitlines() if line.strip()][-5:]
    return (" Last output: " + " | ".join(lines))[:1500] if lines else ""


# --- The work folder ---------------------------------------------------------------------------


def _files(folder: str) -> dict[str, tuple[int, int]]:
    found = {}
    for path, size, mtime in _walk(folder):
        found[path] = (size, mtime)
    return found


def _walk(folder: str, limit: int = 100_000):
    """(path, size, mtime) of regular files under `folder`, never following a link."""
    stack, seen = [folder], 0
    while stack and seen < limit:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    yield entry.path, info.st_size, info.st_mtime_ns
            except OSError:
                continue


def _written(folder: str, before: dict[str, tuple[int, int]]) -> int:
    """Bytes in files the agent created or changed. Files it deleted before the end are not counted."""
    return sum(size for path, size, mtime in _walk(folder) if before.get(path) != (size, mtime))


def _chown_tree(folder: str, uid: int) -> None:
    for path, _dirs, files in os.walk(folder):
        os.lchown(path, uid, uid)
        for name in files:
            os.lchown(os.path.join(path, name), uid, uid)


def _unlock(folder: str) -> None:
    """Give the caller back every folder the agent locked (chmod 000): only root ignores that."""
    os.chmod(folder, 0o700)
    for path, dirs, _files in os.walk(folder):
        for name in dirs:
            inner = os.path.join(path, name)
            if not os.path.islink(inner):
                try:
                    os.chmod(inner, 0o700)
                except OSError:
                    pass


def _remove(folder: str) -> None:
    try:
        shutil.rmtree(folder)
        return
    except OSError:
        pass
    _unlock(folder)
    shutil.rmtree(folder, ignore_errors=True)
    if os.path.exists(folder):
        logger.warning("sandbox: could not delete the work folder %s", folder)


# --- Who the agent runs as, what it sees -------------------------------------------------------


def _claim_uid() -> tuple[int, int]:
    """A uid for this run alone (when we are root), held by a lock for the run's length.

    Its own uid gives each run its own process limit (RLIMIT_NPROC counts per user) and keeps one
    run's files and processes out of another's reach.
    """
    from django.conf import settings

    base = getattr(settings, "SANDBOX_UID_BASE", 61000) if settings.configured else 61000
    count = getattr(settings, "SANDBOX_UID_COUNT", 4000) if settings.configured else 4000
    locks = os.path.join(tempfile.gettempdir(), "agenthub-sandbox-uid-locks")
    os.makedirs(locks, mode=0o700, exist_ok=True)
    info = os.lstat(locks)
    if info.st_uid != 0 or not os.path.isdir(locks) or os.path.islink(locks) or info.st_mode & 0o022:
        raise SandboxError(ISOLATION_UNAVAILABLE, f"{locks} is not a private root-owned folder.")
    for _ in range(64):
        uid = base + secrets.randbelow(count)
        try:
            pwd.getpwuid(uid)
            continue  # a real account: never run agents as it
        except KeyError:
            pass
        fd = os.open(os.path.join(locks, str(uid)), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return uid, fd
        except OSError as error:
            os.close(fd)
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
    raise SandboxError(ISOLATION_UNAVAILABLE, "No free sandbox uid (SANDBOX_UID_BASE/SANDBOX_UID_COUNT).")


def _interpreter_paths() -> list[str]:
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix)}
    python = getattr(sys, "_base_executable", "") or sys.executable
    paths.add(os.path.dirname(os.path.realpath(python)))
    return _outermost(paths)


def _hidden_paths(workdir: str) -> list[str]:
    from django.conf import settings

    paths = set(SYSTEM_HIDDEN)
    paths.add(os.path.expanduser("~"))
    paths.add(os.path.dirname(workdir))  # other runs' folders (/tmp itself is covered by the work folder)
    if settings.configured:
        for name in ("BASE_DIR", "MEDIA_ROOT", "STATIC_ROOT", "EMAIL_FILE_PATH"):
            if value := getattr(settings, name, None):
                paths.add(str(value))
        database = settings.DATABASES.get("default", {})
        if "sqlite" in database.get("ENGINE", "") and str(database.get("NAME", "")).startswith("/"):
            paths.add(os.path.dirname(str(database["NAME"])))
        paths.update(getattr(settings, "SANDBOX_HIDE_PATHS", []))
    real = {os.path.realpath(path) for path in paths if path and os.path.isabs(path)}
    # /tmp is replaced by the work folder itself, and "/" would hide everything.
    return _outermost(path for path in real if path not in ("/", "/tmp"))


def _outermost(paths) -> list[str]:
    """Sorted, without any path that lies inside another of them."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(path == parent or path.startswith(parent.rstrip("/") + "/") for parent in kept):
            kept.append(path)
    return kept
