"""Real HTTP peers on loopback for the outbound client's and transports' tests.

`Peer(handler)` is an HTTP/1.1 server on 127.0.0.1 (raw sockets, one thread per connection,
keep-alive) that records every request and answers what `handler(request)` returns: an
`Answer`, or a callable that takes over the socket (to trickle bytes, hang, or hang up).

    with Peer(lambda request: Answer(200, {"result": "ok"})) as agent:
        outbound.request("POST", agent.url("/execute"), json={}, total_timeout=5)
        assert agent.hits == 1

A `Peer()` with no handler answers 200 and is the SSRF canary: a test asserts it got no hits.
"""

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes | str | dict | list | None = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False  # send the body with chunked transfer coding (no Content-Length)
    close: bool = False  # close the connection after answering

    def encode(self) -> bytes:
        body = self.body
        headers = dict(self.headers)
        if isinstance(body, dict | list):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        body = body or b""
        if self.chunked:
            headers["Transfer-Encoding"] = "chunked"
            payload = b"".join(
                b"%x\r\n%s\r\n" % (len(body[i : i + 65536]), body[i : i + 65536]) for i in range(0, len(body), 65536)
            ) + b"0\r\n\r\n"
        else:
            headers["Content-Length"] = str(len(body))
            payload = body
        if self.close:
            headers["Connection"] = "close"
        head = f"HTTP/1.1 {self.status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        return head.encode("latin-1") + payload


Handler = Callable[[Request], "Answer | Callable[[socket.socket], None]"]


def _canary(request: Request) -> Answer:
    return Answer(200, {"result": "the canary was reached"})


class Peer:
    def __init__(self, handler: Handler | None = None, *, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None):
        self.handler = handler or _canary
        self.tls = tls
        self.requests: list[Request] = []
        self.connections = 0
        self._lock = threading.Lock()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, 0), family=family, backlog=64)
        self.host = host
        self.port = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        host = host or self.host
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    @property
    def hits(self) -> int:
        """Connections accepted: a refused destination must leave this at zero."""
        return self.connections

    def __enter__(self) -> "Peer":
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            for conn in list(self._open):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.connections += 1
                self._open.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        raw = conn
        if self.tls:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except OSError:  # the client refused our certificate
                conn.close()
                return
        reader = conn.makefile("rb")
        try:
            while not self._stopping.is_set():
                request = _read_request(reader)
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                answer = self.handler(request)
                if callable(answer):
                    answer(conn)
                    return
                conn.sendall(answer.encode())
                if answer.close:
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._open.discard(raw)
            reader.close()
            conn.close()


def _read_request(reader) -> Request | None:
    line = reader.readline(65537)
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers = {}
    while (header := reader.readline(65537)) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", 0) or 0))
    return Request(method, path, headers, body)


def trickle(head: bytes, *, every: float = 0.1, byte: bytes = b"x") -> Callable[[socket.socket], None]:
    """Take over the socket: send `head`, then one byte every `every` seconds until the client leaves."""

    def run(conn: socket.socket) -> None:
        conn.sendall(head)
        for _ in range(100_000):
            time.sleep(every)
            conn.sendall(byte)

    return run


def hang_up(conn: socket.socket) -> None:
    """Take over the socket and close it without answering."""
    conn.close()


def silent(seconds: float) -> Callable[[socket.socket], None]:
    def run(conn: socket.socket) -> None:
        time.sleep(seconds)

    return run
