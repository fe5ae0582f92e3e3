"""The sandbox's inside: isolate, limit, then run one hosted agent. Standard library only.

Started by orchestration.sandbox.process as `python -I -S -B runner.py` with a minimal environment,
in the unpacked package's folder, in a session of its own. It reads one JSON request on stdin and
writes one JSON report on stdout. Nothing of the agent's runs in this process: it forks a child
that becomes the agent, and stays outside to watch the wall clock and read the answer.

    runner (trusted)                          child (becomes the agent)
    unshare: pid, net, mount (+ user          pid 1 of the new pid namespace: a fresh /proc,
    namespace when not root); mount empty     rlimits, a uid of its own (root) or no capabilities
    tmpfs over the server's folders; bind     (user namespace), no_new_privs; writes a setup line,
    the work folder at /tmp; fork ----------> imports the entry point and calls it; writes the
    wait (wall clock), read the answer        answer on fd 3
    <------------------------------------------ exits; the kernel kills whatever it left behind

Where the OS refuses namespaces (no privilege, a container's seccomp profile, not Linux) the
runner says so in its report and the child installs an audit hook instead (see `_audit_hook`):
a speed bump in the interpreter, not a wall in the kernel.
"""

import ctypes
import errno
import json
import os
import resource
import select
import signal
import sys
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 1, 24, 28, 38
SECBIT_NOROOT, SECBIT_NOROOT_LOCKED = 1 << 0, 1 << 1
O_PATH = getattr(os, "O_PATH", 0)
RESULT_FD = 3
HIDE_OPTIONS = "size=64k,nr_inodes=256,mode=755"
# What the child may report; timeouts, isolation and the like are for the runner alone to say.
CHILD_KINDS = frozenset({"agent_error", "bad_entry_point", "bad_package", "bad_output", "cpu_limit", "memory",
                         "file_size"})

_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def _bytes(value):
    return None if value is None else os.fsencode(value)


def mount(source, target, fstype, flags, data=None) -> None:
    _check(libc().mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data)), f"mount {target}")


def prctl(option, arg2=0) -> None:
    _check(libc().prctl(option, arg2, 0, 0, 0), f"prctl {option}")


def _under(path: str, roots) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


# --- The runner's side ------------------------------------------------------------------------


def isolate(request: dict) -> dict:
    """Enter new namespaces and hide the server's files. Returns the isolation report."""
    wanted = request["isolation"]
    report = {"mode": "audit", "network": "audit_hook", "pid": False, "user": "unchanged", "proc": "host",
              "home": request["workdir"], "reason": ""}
    if wanted == "audit":
        report["reason"] = "the audit-hook mode was asked for"
        return report
    if not sys.platform.startswith("linux"):
        report["reason"] = f"no namespaces on {sys.platform}"
        return report
    uid, gid = os.geteuid(), os.getegid()  # before unshare: inside, unmapped ids read as 65534
    root = uid == 0
    flags = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | (0 if root else CLONE_NEWUSER)
    try:
        _check(libc().unshare(flags), "unshare")
    except OSError as error:
        report["reason"] = f"the kernel refused new namespaces ({error.strerror})"
        return report
    # From here on the network is the new namespace's: an unconfigured loopback and nothing else.
    report.update(network="namespace", pid=True)
    try:
        if not root:
            # Map our own uid to root inside: needed to mount; the child gives the capabilities up.
            report["user"] = "user namespace"
            for name, line in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
                try:
                    with open(f"/proc/self/{name}", "w") as f:
                        f.write(line)
                except OSError as error:
                    raise OSError(error.errno, f"writing /proc/self/{name}: {error.strerror}") from None
        mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks back to the host
        workdir = os.open(request["workdir"], O_PATH | os.O_DIRECTORY)
        try:
            mount(f"/proc/self/fd/{workdir}", "/tmp", None, MS_BIND)
        finally:
            os.close(workdir)
        report["home"] = "/tmp"
        failed = _hide(request)
        try:  # a sysfs of the new network namespace: /sys/class/net lists its loopback, not the host's cards
            mount("sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        except OSError as error:
            failed.append(f"/sys ({error.strerror})")
    except OSError as error:
        report["reason"] = f"mounts were refused ({error})"
        return report
    if failed:
        report["reason"] = "could not hide " + "; ".join(failed)
        return report
    report["mode"] = "namespaces"
    return report


def _hide(request: dict) -> list[str]:
    """Empty read-only tmpfs over the server's folders; the interpreter stays, bound back in.

    The work folder is already bound over /tmp: the one place the agent can write, so every byte it
    writes lands where the caller measures it.
    """
    keep = {path: os.open(path, O_PATH | os.O_DIRECTORY) for path in request["expose"] if os.path.isdir(path)}
    failed = []
    try:
        for hide in request["hide"]:
            if not os.path.isdir(hide) or os.path.islink(hide) or _under(hide, keep):
                continue
            try:
                mount("tmpfs", hide, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, HIDE_OPTIONS)
                for path, fd in keep.items():
                    if _under(path, [hide]) and path != hide:
                        os.makedirs(path, mode=0o755, exist_ok=True)
                        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
                mount(None, hide, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, HIDE_OPTIONS)
            except OSError as error:
                failed.append(f"{hide} ({error.strerror})")
    finally:
        for fd in keep.values():
            os.close(fd)
    return failed


def supervise(pid: int, read_fd: int, *, deadline: float, output_bytes: int):
    """Wait for the child until the deadline while reading its answer. Returns (status, rusage, data, why)."""
    cap = output_bytes + 64 * 1024  # the answer's JSON envelope and the setup line
    data, why = bytearray(), ""
    pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    poller = select.poll()
    poller.register(read_fd, select.POLLIN)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            why = "timeout"
            break
        if pidfd is None and os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            break
        events = poller.poll(max(1, int(min(remaining, 0.02 if pidfd is None else remaining) * 1000)))
        exited = False
        for fd, _ in events:
            if fd == read_fd:
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    poller.unregister(read_fd)
                data += chunk
                if len(data) > cap:
                    why = "too_big"
            else:
                exited = True
        if why or exited:
            break
    if why:
        os.kill(pid, signal.SIGKILL)  # pid 1 of its namespace: everything it started dies with it
    _, status, usage = os.wait4(pid, 0)
    if not why:
        os.set_blocking(read_fd, False)
        try:
            while len(data) <= cap and (chunk := os.read(read_fd, 65536)):
                data += chunk
        except BlockingIOError:
            pass  # only a process that escaped cleanup (audit mode) could still hold the pipe open
        if len(data) > cap:
            why = "too_big"
    if pidfd is not None:
        os.close(pidfd)
    return status, usage, bytes(data), why


def verdict(request: dict, status: int, usage, data: bytes, why: str, report: dict) -> dict:
    limits = request["limits"]
    if why == "timeout":
        return _error("timeout", f"The agent ran past its wall-time limit ({limits['wall_seconds']:g} s).")
    if why == "too_big":
        return _error("bad_output", f"The agent's answer is larger than {limits['output_bytes']} bytes.")
    setup, newline, body = data.partition(b"\n")
    try:
        setup = json.loads(setup) if newline else None
    except ValueError:
        setup = None
    if not isinstance(setup, dict):
        return _error("crashed", f"The sandbox's setup died ({_status_text(status)}).")
    if "setup_error" in setup:
        return _error("isolation_unavailable", f"The sandbox could not be set up: {setup['setup_error']}")
    report.update(setup)
    try:
        answer = json.loads(body) if body else None
    except (ValueError, RecursionError):  # bytes the agent wrote to the pipe itself
        answer = None
    if isinstance(answer, dict) and os.WIFEXITED(status):
        # The agent owns that pipe and may have written this itself: keep only what a child may say.
        if answer.get("ok") is True:
            return {"ok": True, "output": answer.get("output")}
        if answer.get("ok") is False and answer.get("kind") in CHILD_KINDS:
            return _error(answer["kind"], str(answer.get("message", ""))[:2000])
    cpu = usage.ru_utime + usage.ru_stime
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number in (signal.SIGKILL, signal.SIGXCPU) and cpu >= limits["cpu_seconds"] - 0.05:
            return _error("cpu_limit", f"The agent used up its CPU time ({limits['cpu_seconds']} s).")
        if number == signal.SIGXFSZ:
            return _error("file_size", f"The agent wrote a file past {limits['file_bytes']} bytes.")
    if body and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return _error("bad_output", "The agent's answer could not be read (did it write to the result pipe?).")
    return _error("crashed", f"The agent's process ended without an answer ({_status_text(status)}).")


def _status_text(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        return f"killed by {name}"
    return f"exit status {os.WEXITSTATUS(status)}"


def _error(kind: str, message: str) -> dict:
    return {"ok": False, "kind": kind, "message": message}


def main() -> int:
    started = time.monotonic()
    request = json.loads(sys.stdin.buffer.read())
    deadline = started + request["limits"]["wall_seconds"]
    report = isolate(request)
    if request["isolation"] == "namespaces" and report["mode"] != "namespaces":
        answer = _error("isolation_unavailable", f"Namespaces are required and unavailable: {report['reason']}.")
    else:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            child(request, report, write_fd)  # never returns
        os.close(write_fd)
        status, usage, data, why = supervise(pid, read_fd, deadline=deadline,
                                             output_bytes=request["limits"]["output_bytes"])
        answer = verdict(request, status, usage, data, why, report)
        # The agent's own figures, from wait4 on it (and on everything it started, reaped with it).
        # The caller's wait4 on this runner would count the server's memory too: a forked process
        # keeps its parent's peak RSS as its own, even across exec.
        answer["usage"] = {"cpu_seconds": usage.ru_utime + usage.ru_stime,
                           "memory_bytes": usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)}
    sys.stdout.write(json.dumps({**answer, "isolation": report}, ensure_ascii=False))
    sys.stdout.flush()
    return 0


# --- The child's side: everything below runs in the process that becomes the agent -------------


class CpuLimitExceeded(BaseException):
    """SIGXCPU: the soft CPU limit. A BaseException, so an agent's `except Exception` cannot eat it."""


def _raise_cpu_limit(signum, frame):
    raise CpuLimitExceeded()


def child(request: dict, report: dict, write_fd: int) -> None:
    try:
        os.dup2(write_fd, RESULT_FD)
        if write_fd != RESULT_FD:
            os.close(write_fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(2, 1)  # the agent's prints go to the log, never into the answer
        os.closerange(RESULT_FD + 1, 65536)
        setup = confine(request, report)
    except BaseException as error:  # noqa: BLE001 - whatever broke, say it and stop
        _write(json.dumps({"setup_error": f"{type(error).__name__}: {error}"}).encode() + b"\n")
        os._exit(70)
    _write(json.dumps(setup).encode() + b"\n")
    report.update(setup)
    # Written as-is when memory runs out: nothing left to allocate with then.
    out_of_memory = json.dumps(_error("memory", "The agent ran out of memory "
                                      f"({request['limits']['memory_bytes'] // 1048576} MB).")).encode()
    try:
        answer = run_agent(request, report)
    except MemoryError:
        answer = None
    _flush_stdio()
    _write(out_of_memory if answer is None else answer)
    os._exit(0)


def _write(data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(RESULT_FD, view):]


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - the agent may have closed or replaced them
            pass


def confine(request: dict, report: dict) -> dict:
    """Make this process the agent's prison: /proc, limits, user, privileges. Returns what it got."""
    setup = {}
    home = report["home"]
    if report["pid"] and home == "/tmp":  # a pid and a mount namespace of our own
        try:
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            setup["proc"] = "private"
        except OSError:
            # Some containers mask parts of /proc, and then a fresh one may not be mounted.
            try:
                mount("tmpfs", "/proc", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, HIDE_OPTIONS)
                setup["proc"] = "hidden"
            except OSError:
                setup["mode"] = "audit"
                setup["reason"] = "/proc could not be replaced"
    if request["isolation"] == "namespaces" and setup.get("mode", report["mode"]) != "namespaces":
        raise OSError(errno.EPERM, "namespaces are required and /proc could not be replaced")
    limits = request["limits"]
    cpu = int(limits["cpu_seconds"])
    _limit(resource.RLIMIT_CPU, cpu, cpu + 1)  # SIGXCPU at the soft limit, SIGKILL a second later
    _limit(resource.RLIMIT_AS, limits["memory_bytes"])
    _limit(resource.RLIMIT_FSIZE, limits["file_bytes"])
    _limit(resource.RLIMIT_NPROC, limits["max_processes"])
    _limit(resource.RLIMIT_NOFILE, limits["max_open_files"])
    _limit(resource.RLIMIT_CORE, 0)
    uid = request.get("uid")
    if sys.platform.startswith("linux"):
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        if os.geteuid() == 0:  # real root, or root inside our user namespace: give it all up
            _drop_capability_bounding_set()
            prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED)
    if uid is not None and home != "/tmp" and os.geteuid() == 0:
        _stdlib_through_fds()  # the interpreter may live where the sandbox's uid cannot look
    if uid is not None and report["user"] != "user namespace":
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        setup["user"] = f"uid {uid}"
    if sys.platform.startswith("linux"):
        _drop_capabilities()
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGXCPU, _raise_cpu_limit)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG instead
    os.environ.update(HOME=home, TMPDIR=home)
    root = os.path.join(home, request["root"]) if request["root"] else home
    os.chdir(root)
    os.environ["PWD"] = root
    return setup


def _limit(which: int, soft: int, hard: int | None = None) -> None:
    hard = soft if hard is None else hard
    _, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:  # without privilege a hard limit only goes down
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(which, (soft, hard))


def _drop_capability_bounding_set() -> None:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 40
    for capability in range(last + 1):
        try:
            prctl(PR_CAPBSET_DROP, capability)
        except OSError:
            pass  # EINVAL: a capability this kernel does not know


def _drop_capabilities() -> None:
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words
    _check(libc().capset(ctypes.byref(header), data), "capset")


def _stdlib_through_fds() -> None:
    """Keep the standard library importable after dropping root, without namespaces.

    The interpreter may be installed under a folder only root may enter (pyenv under /root). A
    folder opened now stays usable through /proc/self/fd after the uid changes: the lookup starts
    at the open folder, not at the root of the file system.
    """
    moved = {}
    for entry in sys.path:
        try:
            moved[entry] = f"/proc/self/fd/{os.open(entry, os.O_RDONLY | os.O_DIRECTORY)}"
        except OSError:
            pass

    def through_fds(path: str) -> str:
        for entry, fd_path in moved.items():
            if path == entry or path.startswith(entry + "/"):
                return fd_path + path[len(entry):]
        return path

    sys.path[:] = [through_fds(entry) for entry in sys.path]
    for module in list(sys.modules.values()):  # packages already imported look for submodules here
        search = getattr(module, "__path__", None)
        if isinstance(search, list):
            search[:] = [through_fds(entry) for entry in search]
    sys.path_importer_cache.clear()


def run_agent(request: dict, report: dict) -> bytes:
    """Import the entry point, call it, and encode the answer. Never raises (except MemoryError)."""
    limits = request["limits"]
    try:
        if report["mode"] != "namespaces":
            _audit_hook(request, report)
        target = _load(request["entry"])
        if isinstance(target, bytes):  # the entry point's own failure, already encoded
            return target
        output = _call(target, request["input"], request["config"])
        encoded = json.dumps({"ok": True, "output": output}, ensure_ascii=False, allow_nan=False).encode()
        if len(encoded) > limits["output_bytes"]:
            return _encoded_error("bad_output", f"The agent's answer is larger than {limits['output_bytes']} bytes.")
        return encoded
    except MemoryError:
        raise
    except CpuLimitExceeded:
        return _encoded_error("cpu_limit", f"The agent used up its CPU time ({limits['cpu_seconds']} s).")
    except _BadOutput as error:
        return _encoded_error("bad_output", str(error))
    except _NoMethod as error:
        return _encoded_error("bad_entry_point", str(error))
    except OSError as error:
        if error.errno == errno.EFBIG:
            return _encoded_error("file_size", f"The agent wrote a file past {limits['file_bytes']} bytes.")
        return _agent_failed(error)
    except BaseException as error:  # noqa: BLE001 - SystemExit and the like are the agent's too
        return _agent_failed(error)


class _BadOutput(Exception):
    pass


def _encoded_error(kind: str, message: str) -> bytes:
    return json.dumps(_error(kind, message)).encode()


def _agent_failed(error: BaseException) -> bytes:
    _print_traceback(error)  # the agent's own log
    if isinstance(error, SystemExit):
        return _encoded_error("agent_error", f"The agent exited (sys.exit({error.code!r})) without an answer.")
    return _encoded_error("agent_error", f"{type(error).__name__}: {error}"[:2000])


def _print_traceback(error: BaseException) -> None:
    try:
        import traceback

        traceback.print_exception(error)
    except Exception:  # noqa: BLE001 - a log line is not worth failing the report for
        print(f"{type(error).__name__}: {error}", file=sys.stderr)


def _load(entry: dict):
    import importlib.util

    path = os.path.abspath(entry["path"])
    module_name = os.path.splitext(os.path.basename(path))[0]
    for folder in (os.getcwd(), os.path.dirname(path)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except (MemoryError, CpuLimitExceeded):
        raise
    except OSError as error:
        if error.errno == errno.EFBIG:
            raise
        return _import_failed(entry, error)
    except BaseException as error:  # noqa: BLE001 - a SyntaxError, an ImportError, a raise at import time
        return _import_failed(entry, error)
    target = module
    for name in entry["attr"].split("."):
        target = getattr(target, name, None)
        if target is None:
            return _encoded_error("bad_entry_point", f"{entry['path']} has no {entry['attr']!r}.")
    if not callable(target):
        return _encoded_error("bad_entry_point", f"{entry['path']}:{entry['attr']} is not a class or a function.")
    return target


def _import_failed(entry: dict, error: BaseException) -> bytes:
    _print_traceback(error)
    return _encoded_error("bad_package", f"Importing {entry['path']} failed: {type(error).__name__}: {error}"[:2000])


def _call(target, payload, config):
    if isinstance(target, type):
        agent = _invoke(target.__init__, (), config, bound=True, constructor=target)
        method = _method(agent)
        if method is None:
            raise _NoMethod(f"{target.__name__} has no run() or execute() method.")
        result = _invoke(method, (payload,), config, bound=getattr(method, "__self__", None) is not None)
    else:
        result = _invoke(target, (payload,), config, bound=getattr(target, "__self__", None) is not None)
    if hasattr(result, "__await__"):  # async def run(...)
        import asyncio

        async def wait():
            return await result

        result = asyncio.run(wait())
    try:
        json.dumps(result, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        raise _BadOutput(f"The agent's output is not JSON: {error}"[:2000]) from None
    return result


def _method(agent):
    for name in ("run", "execute"):
        method = getattr(agent, name, None)
        if callable(method):
            return method
    if any("__call__" in vars(cls) for cls in type(agent).__mro__[:-1]):
        return agent.__call__
    return None


class _NoMethod(Exception):
    pass


def _invoke(function, args: tuple, config, *, bound: bool, constructor=None):
    """Call with `args`, adding the config when the function's signature has room for it."""
    call = constructor or function
    code = getattr(getattr(function, "__func__", function), "__code__", None)
    if code is None:  # object.__init__, a builtin, a C extension: only what is certain to fit
        return call(*args)
    positional = list(code.co_varnames[: code.co_argcount])
    keyword_only = code.co_varnames[code.co_argcount: code.co_argcount + code.co_kwonlyargcount]
    if bound and positional:
        positional = positional[1:]  # self
    varargs = bool(code.co_flags & 0x04)
    if "config" in positional[len(args):] or "config" in keyword_only:
        return call(*args, config=config)
    if len(positional) > len(args) or varargs:
        return call(*args, config)
    if not positional and not varargs and args:
        return call()  # def main(): an agent that takes nothing
    return call(*args)


def _audit_hook(request: dict, report: dict) -> None:
    """Where namespaces are refused: refuse sockets, processes and native code inside the interpreter.

    PEP 578 hooks were made for auditing, not for sandboxing: code that reaches native calls can get
    around them, which is why ctypes and process creation are refused too. The report says this
    mode is in use; production should run where namespaces work (SANDBOX_ISOLATION=namespaces).
    """
    for name in [name for name in sys.modules if name == "ctypes" or name.startswith(("ctypes.", "_ctypes"))]:
        del sys.modules[name]  # the runner's own ctypes: the agent must import it, and be refused
    # asyncio imports subprocess, which imports _posixsubprocess: let the import happen, but its
    # fork_exec (which raises no audit event of its own) is gone before the agent gets there.
    import _posixsubprocess

    def fork_exec(*args, **kwargs):
        raise PermissionError("sandbox: starting processes is blocked (_posixsubprocess.fork_exec)")

    _posixsubprocess.fork_exec = fork_exec
    hidden = (*request["hide"], os.path.dirname(request["workdir"]))  # other runs' folders too
    allowed = (*request["expose"], report["home"])
    try:  # our pid as the mounted /proc numbers it (in a new pid namespace getpid() says 1)
        own_pid = os.readlink("/proc/self")
    except OSError:
        own_pid = str(os.getpid())
    own_proc = (f"/proc/{own_pid}", "/proc/self", "/proc/thread-self")
    processes = frozenset({"os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system",
                           "subprocess.Popen", "pty.spawn", "os.kill", "os.killpg", "signal.pthread_kill",
                           "os.setns", "os.unshare"})
    introspection = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents"})
    modules = frozenset({"ctypes", "_ctypes", "_posixsubprocess", "_testcapi", "_testinternalcapi",
                         "_xxsubinterpreters", "_xxinterpchannels"})
    paths = frozenset({"open", "os.listdir", "os.scandir", "os.chdir", "os.mkdir", "os.rename", "os.remove",
                       "os.rmdir", "os.link", "os.symlink", "os.truncate", "os.chmod", "os.chown", "os.utime"})
    realpath, fsdecode, fspath = os.path.realpath, os.fsdecode, os.fspath

    def refuse(path) -> bool:
        if path is None or isinstance(path, int):
            return False
        if not isinstance(path, (str, bytes)):
            if type(path).__module__ != "pathlib":
                return True  # an object of the agent's own making could run code in __fspath__
            path = fspath(path)
        try:
            path = realpath(fsdecode(path))
        except (TypeError, ValueError, OSError):
            return True
        if path.startswith("/proc/") and path.split("/")[2].isdigit() and not _under(path, own_proc):
            return True  # another process's environment, command line, open files
        return _under(path, hidden) and not _under(path, allowed)

    def hook(event: str, args: tuple) -> None:
        if event.startswith("socket."):
            if event == "socket.__new__" and len(args) > 1 and args[1] == 1:  # AF_UNIX: socketpair, asyncio
                return
            raise PermissionError(f"sandbox: network access is blocked ({event})")
        if event.startswith("ctypes.") or (event == "import" and args[0] in modules):
            raise PermissionError(f"sandbox: native code is blocked ({event} {args[0] if args else ''})")
        if event in processes:
            raise PermissionError(f"sandbox: starting or signalling processes is blocked ({event})")
        if event in introspection or (event == "object.__setattr__" and args and args[0] in guarded):
            raise PermissionError(f"sandbox: {event} is blocked")
        if event in paths and args and (refuse(args[0]) or (event in ("os.rename", "os.link", "os.symlink")
                                                          and len(args) > 1 and refuse(args[1]))):
            raise PermissionError(f"sandbox: {args[0]!r} is outside the sandbox")

    guarded = (hook, refuse)  # their code, defaults and closures are not the agent's to replace
    sys.addaudithook(hook)


if __name__ == "__main__":
    sys.exit(main())
