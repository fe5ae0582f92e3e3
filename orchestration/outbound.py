"""The one place AgentHub makes outbound HTTP calls (agent /execute, /health, A2A, Agent Cards).

Every call:
- resolves the URL's host once through `agenthub.netguard`, which checks every address it
  resolved to, then dials one of those checked addresses: the connection pool is keyed by
  (scheme, address, port, host name), the Host header and the TLS server name (SNI and
  certificate check) carry the real name. A DNS answer that changes after the check is
  never consulted, so it cannot steer the call to an internal host;
- never follows redirects (a 3xx is a permanent failure naming its Location);
- has three deadlines: connect, per read, and total. The total one is enforced on every
  socket read and write (`_DeadlineSocket`), so a peer that trickles one byte a second,
  in the headers or the body, is cut off when the total runs out;
- reads at most `max_bytes` of reply;
- classifies every failure as `TransientCallError` (refused, reset, timeouts, 408/425/429,
  5xx; `retry_after` from the Retry-After header) or `PermanentCallError` (other 4xx, a
  redirect, a reply that is too big or malformed, an unsafe destination, a bad certificate).

Connections are kept alive in a small per-process pool (urllib3 pools are thread-safe;
this module's registry of them is guarded by a lock and forgotten in a forked child).
"""

import email.utils
import logging
import os
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import quote

import orjson
import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from agenthub import netguard
from orchestration.transports.base import CallTimeout, PermanentCallError, TransientCallError

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
USER_AGENT = "AgentHub/1 (+agent-call)"
MAX_RETRY_AFTER = 3600.0  # seconds; a longer Retry-After is read as "not soon"
_READ_CHUNK = 64 * 1024
_ERROR_SNIPPET_BYTES = 2048
_MAX_POOLS = 64  # distinct (scheme, address, port, host) destinations kept alive
_POOL_SIZE = 16  # idle keep-alive connections per destination
_TRANSIENT_STATUSES = {408, 425, 429}
# Set by this module only: the checked host, and how the body is framed.
_FRAMING_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str] = field(repr=False)  # names in lower case
    body: bytes = field(repr=False)
    elapsed_ms: int = 0

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON is the agent's fault: a permanent error."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise PermanentCallError(f"The agent's reply is not valid JSON ({exc}).", code="malformed_reply") from None


# --- Deadlines on every socket operation ----------------------------------------------------
#
# urllib3's read timeout applies to each recv() alone, and http.client loops over many recv()
# calls to fill one read (a status line, a header line, a body chunk), so a peer sending one
# byte a second is never "timed out". The sockets below look up the current call's total
# deadline (a thread-local: a pooled connection is used by one thread at a time) before each
# operation and shrink the socket timeout to what is left of it.

_budget = threading.local()


def _arm(sock: socket.socket) -> None:
    budget = getattr(_budget, "current", None)
    if budget is None:
        return
    deadline, read_timeout = budget
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("The call's total deadline passed.")
    sock.settimeout(min(read_timeout, remaining))


class _DeadlineSocket(socket.socket):
    def recv_into(self, buffer, nbytes=0, flags=0):
        _arm(self)
        return super().recv_into(buffer, nbytes, flags)

    def recv(self, bufsize, flags=0):
        _arm(self)
        return super().recv(bufsize, flags)

    def sendall(self, data, flags=0):
        _arm(self)
        return super().sendall(data, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    def recv_into(self, buffer, nbytes=0, flags=0):
        _arm(self)
        return super().recv_into(buffer, nbytes, flags)

    def recv(self, buflen=1024, flags=0):
        _arm(self)
        return super().recv(buflen, flags)

    def sendall(self, data, flags=0):
        _arm(self)
        return super().sendall(data, flags)


def _adopt(sock: socket.socket) -> socket.socket:
    timeout = sock.gettimeout()
    adopted = _DeadlineSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    adopted.settimeout(timeout)
    return adopted


class _HTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _adopt(super()._new_conn())


class _HTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _adopt(super()._new_conn())


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


@cache
def _tls_context() -> ssl.SSLContext:
    # The system's trust store (OpenSSL honours SSL_CERT_FILE / SSL_CERT_DIR), certificates
    # required, host names checked against the name we were given, not the address we dial.
    context = ssl.create_default_context()
    context.sslsocket_class = _DeadlineSSLSocket
    return context


# --- Connection pools -----------------------------------------------------------------------

_pools: OrderedDict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = OrderedDict()
_pools_lock = threading.Lock()


def _forget_pools() -> None:
    # A forked child (a Celery prefork worker) must not share its parent's sockets, and the
    # lock may have been held by a parent thread at fork time: start afresh.
    global _pools, _pools_lock
    _pools = OrderedDict()
    _pools_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools)


def _pool(destination: netguard.Destination, address: str) -> urllib3.HTTPConnectionPool:
    key = (destination.scheme, address, destination.port, destination.host)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is not None:
            _pools.move_to_end(key)
            return pool
        if destination.scheme == "https":
            pool = _HTTPSPool(
                address, destination.port, maxsize=_POOL_SIZE, block=False, retries=False,
                ssl_context=_tls_context(), server_hostname=destination.host,
            )
        else:
            pool = _HTTPPool(address, destination.port, maxsize=_POOL_SIZE, block=False, retries=False)
        _pools[key] = pool
        if len(_pools) > _MAX_POOLS:
            _, oldest = _pools.popitem(last=False)
            oldest.close()  # idle connections only; one in use is closed when it comes back
        return pool


def close_pools() -> None:
    """Close every kept-alive connection (tests, shutdown)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


# --- The call -------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def request(
    method: str,
    url: str,
    *,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    total_timeout: float,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    max_bytes: int | None = None,
) -> Response:
    """Make one HTTP call to an agent-supplied URL; 2xx → Response, anything else raises a CallError.

    `json` (when not None) is sent as the body. `connect_timeout` and `read_timeout` default to
    AGENT_CONNECT_TIMEOUT and AGENT_READ_TIMEOUT, `max_bytes` to AGENT_MAX_RESPONSE_BYTES; no
    part of the call outlives `total_timeout` seconds.
    """
    started = time.monotonic()
    deadline = started + total_timeout
    connect_timeout = settings.AGENT_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
    read_timeout = settings.AGENT_READ_TIMEOUT if read_timeout is None else read_timeout
    max_bytes = settings.AGENT_MAX_RESPONSE_BYTES if max_bytes is None else max_bytes

    try:
        destination = netguard.resolve_destination(url)
    except netguard.UnsafeURL as exc:
        raise PermanentCallError(f"Refused to call {url!r}: {exc}", code="unsafe_destination") from None

    send_headers = {"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": "identity"}
    body = None
    if json is not None:
        try:
            body = orjson.dumps(json, default=_json_default)
        except TypeError as exc:
            raise PermanentCallError(f"The request body is not JSON: {exc}", code="bad_request") from None
        send_headers["Content-Type"] = "application/json"
    for name, value in (headers or {}).items():
        if any(ch in f"{name}{value}" for ch in "\r\n\0"):
            raise PermanentCallError(f"The header {name!r} is malformed.", code="bad_request")
        if name.lower() not in _FRAMING_HEADERS:
            send_headers[name] = value
    send_headers["Host"] = destination.host_header  # last: the checked name, whatever the caller said
    target = destination.target
    if not target.isascii():  # the request line is ASCII: percent-encode the rest, as a browser would
        target = quote(target, safe="!#$%&'()*+,/:;=?@[]~")

    _budget.current = (deadline, read_timeout)
    try:
        return _call(method, url, destination, target, body, send_headers, started, deadline, connect_timeout,
                     read_timeout, max_bytes)
    finally:
        _budget.current = None


def _call(method, url, destination, target, body, headers, started, deadline, connect_timeout, read_timeout,
          max_bytes) -> Response:
    unreachable: list[str] = []
    for address in destination.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        timeout = urllib3.Timeout(connect=min(connect_timeout, remaining), read=min(read_timeout, remaining))
        try:
            response = _pool(destination, address).urlopen(
                method, target, body=body, headers=headers, retries=False, redirect=False,
                assert_same_host=False, timeout=timeout, preload_content=False, decode_content=False,
            )
        except NewConnectionError as exc:
            # Nothing was sent: the next checked address (another A/AAAA answer) may answer.
            unreachable.append(f"{address}: {_reason(exc)}")
            continue
        except ConnectTimeoutError:
            unreachable.append(f"{address}: connect timed out")
            continue
        except HTTPError as exc:
            raise _classify(exc, url, deadline) from None
        try:
            return _finish(response, url, started, max_bytes)
        except HTTPError as exc:
            raise _classify(exc, url, deadline) from None
    if time.monotonic() >= deadline or (unreachable and all(u.endswith("timed out") for u in unreachable)):
        raise CallTimeout(f"Could not connect to {url} in time ({'; '.join(unreachable) or 'no time left'}).")
    raise TransientCallError(f"Could not connect to {url} ({'; '.join(unreachable)}).", code="connection_failed")


def _finish(response, url: str, started: float, max_bytes: int) -> Response:
    ok = False
    try:
        status = response.status
        headers = {name.lower(): value for name, value in response.headers.items()}
        if 300 <= status < 400:
            location = headers.get("location", "")
            raise _status_error(
                PermanentCallError, f"{url} answered {status}, a redirect to {location!r}; redirects are not followed.",
                status, code="redirect",
            )
        if not 200 <= status < 300:
            snippet = _snippet(response.read(_ERROR_SNIPPET_BYTES))
            detail = f"{url} answered {status}" + (f": {snippet}" if snippet else ".")
            if status in _TRANSIENT_STATUSES or status >= 500:
                raise _status_error(
                    TransientCallError, detail, status, code=f"http_{status}",
                    retry_after=_retry_after(headers.get("retry-after")),
                )
            raise _status_error(PermanentCallError, detail, status, code=f"http_{status}")
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise PermanentCallError(
                f"{url} answered with Content-Encoding {encoding!r}, which was not asked for.", code="malformed_reply"
            )
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise _too_big(url, max_bytes)
        chunks, size = [], 0
        while chunk := response.read(min(_READ_CHUNK, max_bytes + 1 - size)):
            size += len(chunk)
            if size > max_bytes:
                raise _too_big(url, max_bytes)
            chunks.append(chunk)
        ok = True
        return Response(status, headers, b"".join(chunks), int((time.monotonic() - started) * 1000))
    finally:
        if not ok:
            response.close()  # a half-read reply leaves the connection unusable
        response.release_conn()


def _too_big(url: str, max_bytes: int) -> PermanentCallError:
    return PermanentCallError(f"{url} answered with more than {max_bytes} bytes.", code="reply_too_large")


def _status_error(cls, message: str, status: int, **kwargs):
    error = cls(message, **kwargs)
    error.status = status
    return error


def _classify(exc: HTTPError, url: str, deadline: float) -> Exception:
    if time.monotonic() >= deadline or isinstance(exc, ReadTimeoutError) or _caused_by(exc, TimeoutError):
        return CallTimeout(f"{url} did not answer in time.")
    if isinstance(exc, SSLError):
        if _caused_by(exc, ssl.SSLCertVerificationError) or _caused_by(exc, ssl.CertificateError):
            return PermanentCallError(f"{url}: the TLS certificate is not valid ({_reason(exc)}).", code="tls_invalid")
        return TransientCallError(f"{url}: TLS failed ({_reason(exc)}).", code="tls_failed")
    if isinstance(exc, ProtocolError):
        return TransientCallError(f"{url}: the connection broke ({_reason(exc)}).", code="connection_broken")
    return TransientCallError(f"{url}: {_reason(exc)}", code="connection_failed")


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind) or any(isinstance(arg, kind) for arg in getattr(exc, "args", ())):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    return text.split(": ", 1)[-1] if "Failed to establish" in text else text


def _snippet(raw: bytes) -> str:
    """What an error reply says, for the error message: its JSON "message" if it has one, else its start."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        reply = orjson.loads(raw)
    except orjson.JSONDecodeError:
        reply = None
    if isinstance(reply, dict):
        error = reply.get("error")
        message = error.get("message") if isinstance(error, dict) else error if isinstance(error, str) else None
        message = message if isinstance(message, str) else reply.get("message") or reply.get("detail")
        if isinstance(message, str) and message.strip():
            text = message.strip()
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text[:200] + ("…" if len(text) > 200 else "")


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER)
