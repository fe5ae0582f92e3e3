"""The hosted-agent sandbox, run for real: real subprocesses, real limits, a real canary server.

Most tests run twice where it matters: with the namespaces this machine gives us ("auto") and with
the audit-hook fallback forced ("audit"), because the fallback is what hosts without namespaces get.
"""

import io
import os
import socket
import stat
import tempfile
import textwrap
import threading
import time
import zipfile

import pytest
from django.conf import settings

from orchestration import transports
from orchestration.sandbox import Limits, SandboxError, probe, run_package, sha256_hex
from orchestration.sandbox import process as sandbox_process
from orchestration.transports import CallRequest, CallTimeout, PermanentCallError, Target

MB = 1024 * 1024
FAST = Limits(cpu_seconds=5, memory_bytes=256 * MB, wall_seconds=10, file_bytes=1 * MB, max_processes=16)
MODES = ["auto", "audit"]


def zip_of(files: dict, *, links: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, textwrap.dedent(content) if isinstance(content, str) else content)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def run(source, *, entry="main.py:main", input=None, config=None, mode="auto", **limits):
    files = source if isinstance(source, dict) else {"main.py": source}
    package = zip_of(files)
    return run_package(package, code_hash=sha256_hex(package), entry_point=entry, input=input, config=config or {},
                       limits=Limits(**{**FAST.__dict__, "isolation": mode, **limits}))


def fails(kind: str, source, **kwargs) -> SandboxError:
    with pytest.raises(SandboxError) as caught:
        run(source, **kwargs)
    assert caught.value.kind == kind, caught.value.message
    return caught.value


@pytest.fixture(scope="module")
def namespaces() -> bool:
    return probe(FAST)["mode"] == "namespaces"


@pytest.fixture
def canary():
    """A TCP server on loopback that counts every connection it accepts."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.1)
    hits, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            hits.append(1)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    stop.set()
    thread.join()
    server.close()


# --- The interface (seed 002) -----------------------------------------------------------------


def test_a_function_is_called_with_the_input_and_the_config():
    result = run("""
        def main(input, config):
            return {"got": input, "config": config}
    """, input={"message": "hi"}, config={"prefix": ">"})

    assert result.output == {"got": {"message": "hi"}, "config": {"prefix": ">"}}
    assert result.wall_ms > 0 and result.cpu_seconds > 0 and result.memory_bytes > 0


def test_a_function_that_takes_only_the_input_gets_only_the_input():
    assert run("def main(data):\n    return data * 2\n", input=21).output == 42


def test_a_class_is_built_with_its_config_and_run():
    result = run("""
        class Agent:
            def __init__(self, config):
                self.prefix = config["prefix"]

            def run(self, input):
                return self.prefix + input["message"]
    """, entry="main.py:Agent", input={"message": "hi"}, config={"prefix": "Echo: "})

    assert result.output == "Echo: hi"


def test_a_class_without_a_constructor_may_execute_asynchronously():
    result = run("""
        import asyncio

        class Agent:
            async def execute(self, input, config=None):
                await asyncio.sleep(0)
                return {"n": input["n"] + 1, "config": config}
    """, entry="main.py:Agent", input={"n": 1})

    assert result.output == {"n": 2, "config": {}}


def test_helpers_next_to_the_entry_point_are_importable_from_a_zipped_folder():
    files = {
        "agent/main.py": "from helpers import shout\n\ndef main(input):\n    return shout(input)\n",
        "agent/helpers.py": "def shout(text):\n    return text.upper()\n",
    }
    assert run(files, input="hi").output == "HI"


def test_the_agents_prints_do_not_spoil_its_answer():
    result = run("""
        import os, sys

        def main(input):
            print("a log line")
            print('{"ok": false}', file=sys.stderr)
            os.write(1, b"raw bytes on fd 1")
            return "answer"
    """)

    assert result.output == "answer"


def test_an_exception_in_the_agent_is_its_answer():
    error = fails("agent_error", "def main(input):\n    raise ValueError('Cannot divide by zero.')\n")

    assert error.message == "ValueError: Cannot divide by zero."
    assert "Traceback" in error.stderr  # the agent's log keeps the traceback
    assert error.cpu_seconds is not None and error.memory_bytes


@pytest.mark.parametrize("source, entry, expected", [
    ("def main(input): return 1\n", "main.py", "is not like"),
    ("def main(input): return 1\n", "../main.py:main", "is not like"),
    ("def main(input): return 1\n", "/etc/main.py:main", "is not like"),
    ("def main(input): return 1\n", "other.py:main", "not in the package"),
    ("def main(input): return 1\n", "main.py:missing", "has no 'missing'"),
    ("VALUE = 3\n", "main.py:VALUE", "not a class or a function"),
    ("class Agent:\n    pass\n", "main.py:Agent", "no run() or execute()"),
])
def test_a_bad_entry_point_is_refused(source, entry, expected):
    error = fails("bad_entry_point", source, entry=entry)

    assert expected in error.message


def test_code_that_does_not_import_is_a_bad_package():
    error = fails("bad_package", "def main(input)\n    return 1\n")

    assert "SyntaxError" in error.message


@pytest.mark.parametrize("source, expected", [
    ("def main(input):\n    return object()\n", "not JSON"),
    ("def main(input):\n    return float('nan')\n", "not JSON"),
    ("def main(input):\n    return 'x' * 5000\n", "larger than"),
])
def test_an_answer_that_is_not_json_or_too_big_is_refused(source, expected):
    error = fails("bad_output", source, output_bytes=4096)

    assert expected in error.message


def test_input_that_is_not_json_is_refused_before_running():
    with pytest.raises(SandboxError) as caught:
        run("def main(input): return 1\n", input={"when": object()})
    assert caught.value.kind == "bad_input"


# --- The package ------------------------------------------------------------------------------


def test_a_package_whose_hash_is_not_the_pinned_one_is_refused():
    package = zip_of({"main.py": "def main(input): return 1\n"})
    for code_hash in (sha256_hex(package + b"x"), "", "not-a-hash"):
        with pytest.raises(SandboxError) as caught:
            run_package(package, code_hash=code_hash, entry_point="main.py:main", input=1, config={}, limits=FAST)
        assert caught.value.kind == "hash_mismatch"
        assert caught.value.cpu_seconds is None  # nothing ran


def test_the_hash_may_be_given_in_capitals_or_prefixed():
    package = zip_of({"main.py": "def main(input): return 1\n"})
    for code_hash in (sha256_hex(package).upper(), "sha256:" + sha256_hex(package)):
        assert run_package(package, code_hash=code_hash, entry_point="main.py:main", input=1, config={},
                           limits=FAST).output == 1


@pytest.mark.parametrize("files, links, expected", [
    ({"main.py": "x = 1", "../evil.py": "x = 1"}, None, "climbs out"),
    ({"main.py": "x = 1", "a/../../evil.py": "x = 1"}, None, "climbs out"),
    ({"main.py": "x = 1", "/etc/cron.d/evil": "x = 1"}, None, "absolute path"),
    ({"main.py": "x = 1", "C:/evil.py": "x = 1"}, None, "absolute path"),
    ({"main.py": "x = 1", "a\\..\\..\\evil.py": "x = 1"}, None, "unsafe file name"),
    ({"main.py": "x = 1"}, {"passwd": "/etc/passwd"}, "not a plain file"),
])
def test_zip_slip_and_links_are_refused(files, links, expected, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "work"))
    (tmp_path / "work").mkdir()
    package = zip_of(files, links=links)
    with pytest.raises(SandboxError) as caught:
        run_package(package, code_hash=sha256_hex(package), entry_point="main.py:main", input=1, config={},
                    limits=FAST)

    assert caught.value.kind == "bad_package"
    assert expected in caught.value.message
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "passwd").exists()
    leftovers = [p for p in (tmp_path / "work").iterdir() if p.name.startswith("agenthub-sandbox-")]
    assert [p.name for p in leftovers] in ([], ["agenthub-sandbox-uid-locks"])


def test_zip_bombs_are_refused():
    # 60 MB of zeros deflate to about 60 kB: refused by the declared size before a byte is written
    fails("bad_package", {"main.py": "def main(input): return 1\n", "zeros.bin": b"\0" * (60 * MB)},
          unpacked_bytes=50 * MB)
    fails("bad_package", {"main.py": "def main(input): return 1\n", **{f"f{n}.py": "" for n in range(20)}},
          max_files=10)
    with pytest.raises(SandboxError) as caught:
        package = b"not a zip at all"
        run_package(package, code_hash=sha256_hex(package), entry_point="main.py:main", input=1, config={},
                    limits=FAST)
    assert caught.value.kind == "bad_package"


def test_a_zip_that_lies_about_its_sizes_is_stopped_while_unpacking():
    package = bytearray(zip_of({"main.py": "def main(input): return 1\n", "big.bin": b"\0" * MB}))
    # Declare big.bin as 100 bytes in its central directory entry (the last one); it still inflates to 1 MB.
    entry = package.rfind(b"PK\x01\x02")
    package[entry + 24:entry + 28] = (100).to_bytes(4, "little")  # the uncompressed size
    package = bytes(package)
    with pytest.raises(SandboxError) as caught:
        run_package(package, code_hash=sha256_hex(package), entry_point="main.py:main", input=1, config={},
                    limits=FAST)
    assert caught.value.kind == "bad_package"


def test_the_work_folder_is_deleted_afterwards(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = run("""
        import os

        def main(input):
            os.makedirs("deep/er", exist_ok=True)
            with open("deep/er/notes.txt", "w") as f:
                f.write("x" * 1000)
            os.chmod("deep", 0)  # try to make it undeletable
            return "done"
    """)

    assert result.output == "done"
    assert result.disk_bytes == 1000
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith("agenthub-sandbox-")]
    assert [p.name for p in leftovers] in ([], ["agenthub-sandbox-uid-locks"])


# --- Isolation --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_the_sandbox_refuses_a_socket_connection(mode, canary):
    port, hits = canary
    result = run(f"""
        import socket

        def main(input):
            outcomes = []
            for host in ("127.0.0.1", "localhost", "::1"):
                try:
                    socket.create_connection((host, {port}), timeout=2).close()
                    outcomes.append("connected")
                except OSError as error:
                    outcomes.append(type(error).__name__ + ": " + str(error))
            return outcomes
    """, mode=mode)

    assert not any(outcome == "connected" for outcome in result.output)
    assert hits == []
    socket.create_connection(("127.0.0.1", port), timeout=2).close()  # the canary itself works
    deadline = time.monotonic() + 2
    while not hits and time.monotonic() < deadline:
        time.sleep(0.01)
    assert hits == [1]


def test_in_a_network_namespace_there_is_only_a_loopback_that_is_down(namespaces):
    if not namespaces:
        pytest.skip("this host refuses namespaces")
    result = run("""
        import os

        def main(input):
            with open("/proc/net/dev") as f:
                interfaces = [line.split(":")[0].strip() for line in f.readlines()[2:]]
            with open("/sys/class/net/lo/flags") as f:
                flags = int(f.read(), 16)
            return {"interfaces": interfaces, "sysfs": sorted(os.listdir("/sys/class/net")), "lo_up": bool(flags & 1)}
    """)

    assert result.output["interfaces"] == ["lo"]
    assert result.output["sysfs"] == ["lo"]
    assert result.output["lo_up"] is False
    assert result.isolation == "namespaces"
    assert sandbox_process.NETWORK_ISOLATION == "namespace"


@pytest.mark.parametrize("mode", MODES)
def test_the_agent_holds_none_of_the_servers_secrets(mode, monkeypatch):
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, f"canary-{name.lower()}")
    result = run("""
        import os

        def main(input):
            found = []
            for pid in [p for p in os.listdir("/proc") if p.isdigit()] + ["self"]:
                for name in ("environ", "cmdline"):
                    try:
                        with open(f"/proc/{pid}/{name}", "rb") as f:
                            if b"canary-" in f.read():
                                found.append(f"/proc/{pid}/{name}")
                    except OSError:
                        pass
            return {"environ": dict(os.environ), "found": found}
    """, mode=mode)

    environ = result.output["environ"]
    assert set(environ) <= {"PATH", "LANG", "LC_ALL", "TZ", "MALLOC_ARENA_MAX", "HOME", "TMPDIR", "PWD"}
    assert not any("canary-" in value for value in environ.values())
    assert result.output["found"] == []


@pytest.mark.parametrize("mode", MODES)
def test_the_servers_files_are_out_of_sight(mode):
    settings_file = str(settings.BASE_DIR / "agenthub" / "settings.py")
    result = run(f"""
        import os

        def main(input):
            seen = {{}}
            for path in ({settings_file!r}, "/root", "/home", "/run"):
                try:
                    seen[path] = os.listdir(path) if os.path.isdir(path) else open(path).read()[:20]
                except OSError as error:
                    seen[path] = type(error).__name__
            return seen
    """, mode=mode)

    assert result.output[settings_file] in ("FileNotFoundError", "PermissionError")
    if result.isolation == "namespaces":
        assert result.output["/run"] == [] and result.output["/home"] == []
        assert set(result.output["/root"]) <= {".pyenv"}  # only the way to the interpreter


def test_the_audit_hook_refuses_processes_and_native_code():
    result = run("""
        import os

        def main(input):
            outcomes = {}
            for name, attempt in {
                "fork": os.fork,
                "subprocess": lambda: __import__("subprocess").run(["true"]),
                "system": lambda: os.system("true"),
                "ctypes": lambda: __import__("ctypes").CDLL(None),
                "kill": lambda: os.kill(1, 0),
            }.items():
                try:
                    attempt()
                    outcomes[name] = "allowed"
                except PermissionError as error:
                    outcomes[name] = str(error)
            return outcomes
    """, mode="audit")

    assert all(outcome.startswith("sandbox:") for outcome in result.output.values()), result.output
    assert result.isolation == "audit"
    assert sandbox_process.NETWORK_ISOLATION == "audit_hook"


def test_namespaces_required_where_the_kernel_gives_them(namespaces):
    if not namespaces:
        with pytest.raises(SandboxError) as caught:
            run("def main(input): return 1\n", mode="namespaces")
        assert caught.value.kind == "isolation_unavailable"
    else:
        assert run("def main(input): return 1\n", mode="namespaces").isolation == "namespaces"


# --- Limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["while True:\n        pass", "import time\n    time.sleep(60)"])
def test_an_endless_agent_is_killed_at_the_wall_time_limit(body):
    started = time.monotonic()
    error = fails("timeout", f"def main(input):\n    {body}\n", wall_seconds=1)

    assert time.monotonic() - started < 4
    assert "wall-time limit (1 s)" in error.message


def test_the_cpu_limit_stops_an_agent_even_one_that_swallows_the_signal():
    error = fails("cpu_limit", "def main(input):\n    while True:\n        pass\n", cpu_seconds=1)
    assert error.cpu_seconds >= 0.9

    stubborn = """
        def main(input):
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass
    """
    error = fails("cpu_limit", stubborn, cpu_seconds=1)
    assert error.cpu_seconds >= 1.5  # SIGKILL at the hard limit, a second after the soft one


@pytest.mark.parametrize("source", [
    "def main(input):\n    return len(bytearray(2 * 1024 ** 3))\n",
    "HOARD = []\n\ndef main(input):\n    while True:\n        HOARD.append(b'x' * 1024 * 1024)\n",
])
def test_a_huge_allocation_hits_the_memory_limit(source):
    error = fails("memory", source, memory_bytes=128 * MB)

    assert "out of memory (128 MB)" in error.message


@pytest.mark.parametrize("mode", MODES)
def test_a_fork_bomb_is_bounded_and_leaves_nothing_behind(mode, namespaces):
    result = run("""
        import os, time

        def main(input):
            forked = 0
            try:
                while forked < 500:
                    if os.fork() == 0:
                        time.sleep(30)
                        os._exit(0)
                    forked += 1
            except OSError as error:
                return {"forked": forked, "error": type(error).__name__, "uid": os.getuid()}
            return {"forked": forked, "uid": os.getuid()}
    """, mode=mode, max_processes=8)

    if result.isolation == "audit":  # asked for, or all this host allows
        assert result.output["forked"] == 0 and result.output["error"] == "PermissionError"
        return
    assert result.output["forked"] < 8 and result.output["error"] == "BlockingIOError"
    if os.geteuid() == 0 and namespaces:  # a uid of its own: none of its processes may remain
        uid = result.output["uid"]
        assert uid != 0
        assert [pid for pid in os.listdir("/proc") if pid.isdigit() and _uid_of(pid) == uid] == []


def _uid_of(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
    except (OSError, StopIteration):
        return None


def test_a_file_past_the_size_limit_cannot_be_written():
    error = fails("file_size", """
        def main(input):
            with open("big.bin", "wb") as f:
                for _ in range(5):
                    f.write(b"x" * 1024 * 1024)
    """, file_bytes=1 * MB)

    assert error.disk_bytes == 1 * MB  # what it did write is counted


def test_cpu_memory_and_disk_figures_are_plausible():
    result = run("""
        import time

        def main(input):
            started = time.process_time()
            while time.process_time() - started < 0.3:
                pass
            hoard = b"x" * (50 * 1024 * 1024)
            with open("out.bin", "wb") as f:
                f.write(b"y" * 100_000)
            return len(hoard)
    """)

    assert result.cpu_seconds > 0.1
    assert result.memory_bytes > 50 * MB
    assert result.disk_bytes == 100_000


def test_an_idle_agent_is_measured_small():
    result = run("def main(input):\n    return input\n", input=1)

    assert result.memory_bytes < 40 * MB  # the agent's own process, not the server's it was forked from
    assert result.cpu_seconds < 1


# --- The hosted transport ---------------------------------------------------------------------


def _target(source, entry="main.py:main", *, code_hash=None, package=None):
    zipped = zip_of({"main.py": source})
    return Target(transport="hosted", entry_point=entry, code_hash=code_hash or sha256_hex(zipped),
                  package=package or (lambda: zipped))


def _request(input=None, timeout=10.0):
    return CallRequest(execution_id="exec_test", idempotency_key="exec_test", input=input, config={},
                       timeout=timeout)


def test_the_hosted_transport_answers_with_the_output_and_the_resources_used():
    result = transports.call(_target("def main(input):\n    return {'twice': input * 2}\n"), _request(4))

    assert result.status == "completed"
    assert result.output == {"twice": 8}
    assert result.usage.cpu_seconds > 0 and result.usage.memory_bytes > 0 and result.usage.disk_bytes == 0


def test_the_hosted_transport_reports_an_agents_exception_as_a_failed_run():
    result = transports.call(_target("def main(input):\n    raise ValueError('no')\n"), _request())

    assert result.status == "failed"
    assert result.error == "ValueError: no"
    assert result.usage.cpu_seconds is not None


def test_the_hosted_transport_times_out_within_the_tries_deadline():
    started = time.monotonic()
    with pytest.raises(CallTimeout):
        transports.call(_target("import time\n\ndef main(input):\n    time.sleep(30)\n"), _request(timeout=1))
    assert time.monotonic() - started < 4


def test_the_hosted_transport_refuses_a_tampered_package_permanently():
    target = _target("def main(input): return 1\n", code_hash="0" * 64)
    with pytest.raises(PermanentCallError) as caught:
        transports.call(target, _request())
    assert caught.value.code == "hash_mismatch" and not caught.value.transient


def test_hosted_health_checks_the_package_without_running_it():
    assert transports.health(_target("def main(input): return 1\n")).ok

    mismatch = transports.health(_target("def main(input): return 1\n", code_hash="0" * 64))
    assert not mismatch.ok and "SHA-256" in mismatch.detail

    def missing():
        raise transports.PermanentCallError("The agent's package was not uploaded.", code="no_package")

    gone = transports.health(_target("x = 1\n", package=missing))
    assert not gone.ok and "not uploaded" in gone.detail
    assert not transports.health(_target("def main(input): return 1\n", entry="other.py:main")).ok
