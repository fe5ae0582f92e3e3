"""One stdlib HTTP/1.1 server (keep-alive, a thread per connection) for every demo HTTP agent.

    GET  /                      the agents and their endpoints
    GET  /health                the server itself
    GET  /<slug>/health         {"status": "ok", "load": 0..1, ...}
    POST /<slug>/execute        {"input", "config"?, "executionId"?} + Idempotency-Key -> {"result", "cost"}
    POST /mock-negotiator/quote {"offer"?, "quoteId"?, "input"?} -> a quote (see negotiation.py)

Every answer is JSON, errors included ({"error": {"code", "message", "fields"?}}); a bad request
never takes the server down. Requests carrying an Idempotency-Key are answered once per key: a
repeat with the same body gets the stored answer (header `Idempotent-Replayed: true`) without the
work being done again, a repeat while the first is still running waits for it, and the same key
with another body is refused (422). Only successful answers are stored, so a 503 can be retried.
"""

import hashlib
import http.server
import json
import logging
import socket
import socketserver
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

from demo_agents.http.agents import Options, build_agents, warm_up
from demo_agents.http.base import AgentError, Call

try:  # In requirements.txt; the stdlib json module does the same, more slowly.
    import orjson
except ImportError:  # pragma: no cover
    orjson = None

log = logging.getLogger("demo_agents.http")
access_log = logging.getLogger("demo_agents.http.access")

MAX_BODY = 1 << 20  # 1 MiB, the same cap the platform puts on an agent's reply
MAX_KEY_LENGTH = 255
IDLE_TIMEOUT = 30.0  # seconds a keep-alive connection may sit idle, or a client take to send a request


# -- JSON ----------------------------------------------------------------------------------------


def dumps(value) -> bytes:
    if orjson is not None:
        try:
            return orjson.dumps(value)
        except TypeError:  # integers past 64 bits: the stdlib handles them
            pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def loads(data: bytes):
    # The stdlib parser, not orjson's: orjson reads integers past 64 bits as floats, and an echo must
    # give back exactly what it got. NaN and Infinity are not JSON: refused.
    return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)


def fingerprint(body: dict) -> str:
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS) if orjson is not None else None
    if canonical is None:  # pragma: no cover
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


# -- idempotency ---------------------------------------------------------------------------------


@dataclass
class Stored:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _Entry:
    fingerprint: str
    done: threading.Event
    created: float
    response: Stored | None = None
    size: int = 0


class IdempotencyStore:
    """Answers by (agent, action, key), bounded by count and bytes, oldest dropped first."""

    def __init__(self, *, max_entries: int = 10_000, max_bytes: int = 64 << 20, ttl: float = 24 * 3600,
                 wait: float = 60.0):
        self.max_entries, self.max_bytes, self.ttl, self.wait = max_entries, max_bytes, ttl, wait
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def claim(self, key: tuple, fingerprint: str) -> tuple[str, Stored | None]:
        """"run" (the caller does the work, then `store` or `abort`), "replay", "conflict" or "in_progress"."""
        deadline = time.monotonic() + self.wait
        while True:
            with self._lock:
                self._expire()
                entry = self._entries.get(key)
                if entry is None:
                    self._entries[key] = _Entry(fingerprint, threading.Event(), time.monotonic())
                    return "run", None
                if entry.fingerprint != fingerprint:
                    return "conflict", None
                if entry.response is not None:
                    self._entries.move_to_end(key)
                    return "replay", entry.response
                done = entry.done
            # The same request is being worked on (a client retrying too early): wait for its answer.
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not done.wait(remaining):
                return "in_progress", None

    def store(self, key: tuple, response: Stored) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return
            entry.response = response
            entry.size = len(response.body) + 200
            self._bytes += entry.size
            entry.done.set()
            self._evict()

    def abort(self, key: tuple) -> None:
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._bytes -= entry.size
                entry.done.set()

    def __len__(self) -> int:
        return len(self._entries)

    def _expire(self) -> None:
        now = time.monotonic()
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.response is None or now - entry.created < self.ttl:
                return
            self._entries.popitem(last=False)
            self._bytes -= entry.size

    def _evict(self) -> None:
        # Oldest finished answers first. A request still running is never dropped (someone may be
        # waiting on it): it goes to the back of the line, and at most once per pass.
        skipped = 0
        while (len(self._entries) > self.max_entries or self._bytes > self.max_bytes) and \
                skipped < len(self._entries):
            key, entry = next(iter(self._entries.items()))
            if entry.response is None:
                self._entries.move_to_end(key)
                skipped += 1
                continue
            self._entries.popitem(last=False)
            self._bytes -= entry.size


# -- HTTP ----------------------------------------------------------------------------------------


class _Refused(Exception):
    """A request refused before its body was read: the connection is closed after the answer."""

    def __init__(self, error: AgentError):
        super().__init__(error.message)
        self.error = error


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AgentHubDemoAgents/1.0"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    disable_nagle_algorithm = True
    server: "DemoAgentServer"

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    # -- logging: the access log is DEBUG, so 300 requests a second do not flood stderr --

    def log_message(self, format: str, *args) -> None:
        access_log.debug("%s %s", self.address_string(), format % args)

    def log_error(self, format: str, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # -- methods --

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The stdlib calls this for requests it cannot parse (bad request line, headers too long...).
        phrase = self.responses.get(code, ("Error",))[0]
        self.close_connection = True
        self._send(code, {"error": {"code": phrase.lower().replace(" ", "_"), "message": message or phrase}})

    def _dispatch(self, method: str) -> None:
        self._body_read = False
        try:
            self._route(method)
        except _Refused as refused:
            self.close_connection = True
            self._send_error(refused.error)
        except AgentError as error:
            if not self._body_read:
                self._drain_or_close()
            self._send_error(error)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception:
            log.exception("demo agents: %s %s failed", method, self.path)
            self._send(500, {"error": {"code": "internal_error", "message": "The agent failed unexpectedly."}})

    def _route(self, method: str) -> None:
        parts = [part for part in urlsplit(self.path).path.split("/") if part]
        agents = self.server.agents
        agent = agents.get(parts[0]) if parts else None
        if not parts or parts == ["health"]:
            allowed = ("GET",)
        elif agent is not None and len(parts) == 2 and parts[1] == "health":
            allowed = ("GET",)
        elif agent is not None and len(parts) == 2 and parts[1] in agent.actions:
            allowed = ("POST",)
        elif agent is not None and len(parts) == 1:
            allowed = ("GET",)
        else:
            raise AgentError(404, "not_found", f"No such endpoint: {self.path}. GET / lists the agents.")
        if method not in allowed:
            raise AgentError(405, "method_not_allowed", f"Use {', '.join(allowed)} here.",
                             headers={"Allow": ", ".join(allowed)})
        if method == "GET":
            if not parts:
                self._send(200, self.server.describe())
            elif parts == ["health"]:
                self._send(200, {"status": "ok", "agents": len(agents), "idempotencyEntries": len(self.server.idem)})
            elif len(parts) == 2:
                self._send(200, agent.health())
            else:
                self._send(200, self.server.describe_agent(agent))
            return
        self._post(agent, parts[1])

    def _post(self, agent, action: str) -> None:
        raw = self._read_body()
        try:
            body = loads(raw)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise AgentError(400, "invalid_json", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise AgentError(400, "invalid_body", "The request body must be a JSON object.")
        key = self.headers.get("Idempotency-Key")
        if key is not None and (not key or len(key) > MAX_KEY_LENGTH or not key.isprintable()):
            raise AgentError(400, "invalid_idempotency_key",
                             f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
                             fields={"Idempotency-Key": "Invalid."})
        call = Call(body=body, idempotency_key=key)
        if key is None:
            self._perform(agent, action, call, store_key=None)
            return
        store_key = (agent.slug, action, key)
        state, stored = self.server.idem.claim(store_key, fingerprint(body))
        if state == "replay":
            self._send_raw(stored.status, stored.body, (*stored.headers, ("Idempotent-Replayed", "true")))
        elif state == "conflict":
            raise AgentError(422, "idempotency_key_reused",
                             "This Idempotency-Key was used with a different request body.")
        elif state == "in_progress":
            raise AgentError(409, "idempotency_key_in_progress",
                             "A request with this Idempotency-Key is still running; retry later.",
                             headers={"Retry-After": "1"})
        else:
            self._perform(agent, action, call, store_key=store_key)

    def _perform(self, agent, action: str, call: Call, *, store_key: tuple | None) -> None:
        agent.enter()
        try:
            reply = agent.handle(action, call)
            payload = dumps(reply.body(execution_id=call.execution_id))
        except BaseException:
            if store_key is not None:
                self.server.idem.abort(store_key)
            raise
        finally:
            agent.leave()
        if store_key is not None:
            if reply.status == 200:
                self.server.idem.store(store_key, Stored(reply.status, payload))
            else:
                self.server.idem.abort(store_key)
        self._send_raw(reply.status, payload)

    # -- request bodies --

    def _read_body(self) -> bytes:
        encoding = self.headers.get("Transfer-Encoding", "").lower()
        if encoding == "chunked":
            data = self._read_chunked()
            self._body_read = True
            return data
        if encoding:
            raise _Refused(AgentError(501, "unsupported_transfer_encoding", "Only chunked transfer encoding."))
        length = self.headers.get("Content-Length")
        if length is None:
            raise _Refused(AgentError(411, "length_required", "A Content-Length header is required."))
        try:
            size = int(length)
        except ValueError:
            raise _Refused(AgentError(400, "invalid_content_length", "Content-Length is not a number.")) from None
        if size < 0:
            raise _Refused(AgentError(400, "invalid_content_length", "Content-Length is negative."))
        if size > MAX_BODY:
            raise _Refused(AgentError(413, "body_too_large", f"The request body is over {MAX_BODY} bytes."))
        data = self.rfile.read(size)
        if len(data) < size:
            raise ConnectionResetError("the client closed the connection mid-body")
        self._body_read = True
        return data

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _Refused(AgentError(400, "invalid_chunked_body", "Malformed chunked body.")) from None
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise _Refused(AgentError(413, "body_too_large", f"The request body is over {MAX_BODY} bytes."))
            chunks.append(self.rfile.read(size))
            self.rfile.readline(16)

    def _drain_or_close(self) -> None:
        # A refused request's body must not be read as the next request on this connection.
        self._body_read = True
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) <= MAX_BODY:
            self.rfile.read(int(length))
        elif length or self.headers.get("Transfer-Encoding"):
            self.close_connection = True

    # -- responses --

    def _send_error(self, error: AgentError) -> None:
        self._send(error.status, error.body(), tuple(error.headers.items()))

    def _send(self, status: int, payload: dict, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self._send_raw(status, dumps(payload), headers)

    def _send_raw(self, status: int, body: bytes, headers: tuple[tuple[str, str], ...] = ()) -> None:
        phrase = self.responses.get(status, ("",))[0]
        lines = [
            f"HTTP/1.1 {status} {phrase}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            f"Date: {self.date_time_string()}",
            f"Server: {self.server_version}",
        ]
        lines.extend(f"{name}: {value}" for name, value in headers)
        if self.close_connection:
            lines.append("Connection: close")
        elif getattr(self, "request_version", "") == "HTTP/1.0":
            lines.append("Connection: keep-alive")  # an HTTP/1.0 client that asked for keep-alive
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + (b"" if self.command == "HEAD" else body))
        self.log_request(status)


class DemoAgentServer(http.server.ThreadingHTTPServer):
    """The demo agents on one port. `stop()` shuts it down and closes open keep-alive connections."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 1024  # bursts of new connections from a benchmark must not be refused

    def __init__(self, host: str = "127.0.0.1", port: int = 8700, *, options: Options | None = None):
        self.options = options or Options()
        self.agents = build_agents(self.options)
        warm_up()
        self.idem = IdempotencyStore()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._serving = threading.Event()
        self.thread: threading.Thread | None = None
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host's name up in DNS; that can stall, and nothing needs it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = host, port

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def describe(self) -> dict:
        return {"service": "AgentHub demo agents", "agents": [self.describe_agent(a) for a in self.agents.values()]}

    def describe_agent(self, agent) -> dict:
        endpoint = f"{self.base_url}/{agent.slug}"
        return {
            "slug": agent.slug,
            "name": agent.name,
            "endpoint": endpoint,
            "health": f"{endpoint}/health",
            "actions": {action: f"{endpoint}/{action}" for action in agent.actions},
        }

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def serve_forever(self, poll_interval: float = 0.2) -> None:
        self._serving.set()
        try:
            super().serve_forever(poll_interval)
        finally:
            self._serving.clear()

    def stop(self) -> None:
        if self._serving.is_set():
            self.shutdown()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:  # wake threads blocked on idle keep-alive reads
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server_close()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout=5)


def start_in_thread(port: int = 0, *, host: str = "127.0.0.1",
                    options: Options | None = None) -> tuple[DemoAgentServer, str]:
    """Serve the demo agents from a background thread; port 0 picks a free port.

    Returns the server (call `server.stop()` when done) and its base URL: agent `slug` is at
    `f"{base_url}/{slug}"`.
    """
    server = DemoAgentServer(host, port, options=options)
    server.thread = threading.Thread(target=server.serve_forever, name="demo-agents", daemon=True)
    server.thread.start()
    server._serving.wait(5)
    return server, server.base_url
