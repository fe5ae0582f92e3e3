"""The one outbound HTTP client, against real servers on loopback: deadlines, size cap, redirects,
failure classes, SSRF (zero hits on a canary) and connection pinning."""

import datetime
import email.utils
import ipaddress
import json
import socket
import ssl
import threading
import time

import pytest

from orchestration import outbound
from orchestration.tests.local_peers import Answer, Peer, hang_up, silent, trickle
from orchestration.transports import CallTimeout, PermanentCallError, TransientCallError


@pytest.fixture(autouse=True)
def _fresh_pools():
    outbound.close_pools()
    yield
    outbound.close_pools()


@pytest.fixture
def allow_localhost(settings):
    # Peers are called as "localhost"; 127.0.0.1 (where the canary listens) stays forbidden.
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["localhost"]


def echo(request):
    return Answer(200, {"method": request.method, "path": request.path, "body": request.body.decode()})


def failure(call) -> PermanentCallError | TransientCallError:
    with pytest.raises((PermanentCallError, TransientCallError)) as caught:
        call()
    return caught.value


# --- The ordinary call ------------------------------------------------------------------------


def test_a_json_call_sends_the_body_and_headers_and_reads_the_reply(allow_localhost):
    with Peer(echo) as agent:
        response = outbound.request(
            "POST", agent.url("/execute?x=1", host="localhost"), json={"input": "hi"},
            headers={"Idempotency-Key": "exec_1"}, total_timeout=5,
        )

    assert response.status == 200
    assert response.json() == {"method": "POST", "path": "/execute?x=1", "body": '{"input":"hi"}'}
    assert response.headers["content-type"] == "application/json"
    sent = agent.requests[0]
    assert sent.headers["host"] == f"localhost:{agent.port}"
    assert sent.headers["idempotency-key"] == "exec_1"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["accept-encoding"] == "identity"
    assert response.elapsed_ms >= 0


def test_a_caller_cannot_override_the_host_header(allow_localhost):
    with Peer(echo) as agent:
        for spelling in ("Host", "host", "HOST"):
            outbound.request("GET", agent.url(host="localhost"), headers={spelling: "internal.corp"}, total_timeout=5)

    assert [r.headers["host"] for r in agent.requests] == [f"localhost:{agent.port}"] * 3


def test_a_header_with_a_line_break_is_refused_before_sending(allow_localhost):
    with Peer(echo) as agent:
        error = failure(lambda: outbound.request(
            "GET", agent.url(host="localhost"), headers={"X-Note": "a\r\nX-Evil: 1"}, total_timeout=5
        ))

    assert error.code == "bad_request"
    assert agent.hits == 0


def test_connections_are_kept_alive_and_each_thread_gets_its_own_answer(allow_localhost):
    errors, mismatches = [], []

    def worker(n: int, url: str):
        try:
            for i in range(40):
                body = {"worker": n, "i": i}
                got = outbound.request("POST", url, json=body, total_timeout=5).json()
                if json.loads(got["body"]) != body:
                    mismatches.append((body, got))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with Peer(echo) as agent:
        threads = [threading.Thread(target=worker, args=(n, agent.url(host="localhost"))) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == [] and mismatches == []
    assert len(agent.requests) == 320
    assert agent.connections <= 16  # reused: not one connection per call


def test_the_next_checked_address_is_tried_when_the_first_refuses(settings, monkeypatch):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["multi.test"]
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "multi.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in ("127.0.0.2", "127.0.0.1")]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with Peer(echo) as agent:  # listens on 127.0.0.1 only
        response = outbound.request("GET", agent.url(host="multi.test"), total_timeout=5)

    assert response.status == 200
    assert agent.requests[0].headers["host"] == f"multi.test:{agent.port}"


def test_an_ipv6_destination_is_dialled_and_named_in_brackets(settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["::1"]
    with Peer(echo, host="::1") as agent:
        response = outbound.request("GET", agent.url("/v6"), total_timeout=5)

    assert response.json()["path"] == "/v6"
    assert agent.requests[0].headers["host"] == f"[::1]:{agent.port}"


# --- Deadlines --------------------------------------------------------------------------------


def test_a_peer_trickling_the_body_is_cut_at_the_total_deadline(allow_localhost):
    slow = trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", every=0.05)
    with Peer(lambda request: slow) as agent:
        started = time.monotonic()
        with pytest.raises(CallTimeout):
            outbound.request("GET", agent.url(host="localhost"), total_timeout=1.0, read_timeout=10)
        took = time.monotonic() - started

    assert 0.9 <= took < 2.5  # cut near the total deadline, not after 100000 trickled bytes


def test_a_peer_trickling_its_headers_is_cut_at_the_total_deadline(allow_localhost):
    slow = trickle(b"HTTP/1.1 200 OK\r\nX-Slow: ", every=0.05)
    with Peer(lambda request: slow) as agent:
        started = time.monotonic()
        with pytest.raises(CallTimeout):
            outbound.request("GET", agent.url(host="localhost"), total_timeout=1.0, read_timeout=10)
        took = time.monotonic() - started

    assert 0.9 <= took < 2.5  # cut near the total deadline, not after 100000 trickled bytes


def test_a_silent_peer_is_cut_at_the_read_timeout(allow_localhost):
    with Peer(lambda request: silent(5)) as agent:
        started = time.monotonic()
        error = failure(lambda: outbound.request("GET", agent.url(host="localhost"), total_timeout=5, read_timeout=0.3))
        took = time.monotonic() - started

    assert isinstance(error, CallTimeout) and error.transient and error.code == "timeout"
    assert 0.25 <= took < 3


# --- Size cap ---------------------------------------------------------------------------------


def test_a_declared_oversized_body_is_refused(allow_localhost):
    with Peer(lambda request: Answer(200, b"x" * 2048)) as agent:
        error = failure(lambda: outbound.request("GET", agent.url(host="localhost"), total_timeout=5, max_bytes=2047))

    assert isinstance(error, PermanentCallError) and error.code == "reply_too_large"


def test_an_undeclared_oversized_body_is_cut_off_past_the_cap(allow_localhost):
    big = Answer(200, b"x" * (2 * outbound.MiB), chunked=True)
    with Peer(lambda request: big) as agent:
        error = failure(lambda: outbound.request("GET", agent.url(host="localhost"), total_timeout=5))

    assert isinstance(error, PermanentCallError) and error.code == "reply_too_large"


def test_a_body_of_exactly_the_cap_is_read(allow_localhost):
    with Peer(lambda request: Answer(200, b"y" * 4096, chunked=True)) as agent:
        response = outbound.request("GET", agent.url(host="localhost"), total_timeout=5, max_bytes=4096)

    assert response.body == b"y" * 4096


def test_a_compressed_reply_that_was_not_asked_for_is_refused(allow_localhost):
    gzip = Answer(200, b"\x1f\x8b...", headers={"Content-Encoding": "gzip"})
    with Peer(lambda request: gzip) as agent:
        error = failure(lambda: outbound.request("GET", agent.url(host="localhost"), total_timeout=5))

    assert isinstance(error, PermanentCallError) and error.code == "malformed_reply"


# --- Redirects and statuses -------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_permanent_failure_and_is_never_followed(allow_localhost, status):
    with Peer() as canary:
        # The target would even pass the guard (localhost is allowed here): it is still not followed.
        location = canary.url("/latest/meta-data/", host="localhost")
        with Peer(lambda request: Answer(status, headers={"Location": location})) as agent:
            error = failure(lambda: outbound.request("POST", agent.url(host="localhost"), json={}, total_timeout=5))

    assert isinstance(error, PermanentCallError) and error.code == "redirect"
    assert location in error.message
    assert canary.hits == 0


def test_429_is_transient_and_carries_retry_after(allow_localhost):
    with Peer(lambda request: Answer(429, "slow down", headers={"Retry-After": "7"})) as agent:
        error = failure(lambda: outbound.request("GET", agent.url(host="localhost"), total_timeout=5))

    assert isinstance(error, TransientCallError)
    assert (error.code, error.status, error.retry_after) == ("http_429", 429, 7.0)
    assert "slow down" in error.message


def test_503_with_a_retry_after_date_is_transient(allow_localhost):
    in_30_seconds = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    when = email.utils.format_datetime(in_30_seconds, usegmt=True)
    with Peer(lambda request: Answer(503, headers={"Retry-After": when})) as agent:
        error = failure(lambda: outbound.request("GET", agent.url(host="localhost"), total_timeout=5))

    assert isinstance(error, TransientCallError) and error.status == 503
    assert 25 <= error.retry_after <= 31


@pytest.mark.parametrize("status", [500, 502, 504, 408])
def test_server_errors_are_transient(allow_localhost, status):
    with Peer(lambda request: Answer(status, {"error": "boom"})) as agent:
        error = failure(lambda: outbound.request("GET", agent.url(host="localhost"), total_timeout=5))

    assert isinstance(error, TransientCallError) and error.status == status and error.retry_after is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_permanent_and_quote_the_agent(allow_localhost, status):
    with Peer(lambda request: Answer(status, {"error": "bad input: text is required"})) as agent:
        error = failure(lambda: outbound.request("POST", agent.url(host="localhost"), json={}, total_timeout=5))

    assert isinstance(error, PermanentCallError)
    assert (error.code, error.status) == (f"http_{status}", status)
    assert "text is required" in error.message


def test_the_connection_is_reusable_after_an_error_status(allow_localhost):
    answers = iter([Answer(500, "boom"), Answer(200, {"ok": True})])
    with Peer(lambda request: next(answers)) as agent:
        failure(lambda: outbound.request("GET", agent.url(host="localhost"), total_timeout=5))
        assert outbound.request("GET", agent.url(host="localhost"), total_timeout=5).json() == {"ok": True}


# --- Connection failures ----------------------------------------------------------------------


def test_a_refused_connection_is_transient(allow_localhost):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()

    error = failure(lambda: outbound.request("GET", f"http://localhost:{port}/", total_timeout=5))

    assert isinstance(error, TransientCallError) and not isinstance(error, CallTimeout)
    assert error.code == "connection_failed"


def test_a_peer_that_hangs_up_is_transient(allow_localhost):
    with Peer(lambda request: hang_up) as agent:
        error = failure(lambda: outbound.request("POST", agent.url(host="localhost"), json={}, total_timeout=5))

    assert isinstance(error, TransientCallError) and error.code == "connection_broken"


def test_a_reply_that_is_not_json_is_permanent(allow_localhost):
    with Peer(lambda request: Answer(200, "<html>oops</html>")) as agent:
        response = outbound.request("GET", agent.url(host="localhost"), total_timeout=5)

    with pytest.raises(PermanentCallError) as caught:
        response.json()
    assert caught.value.code == "malformed_reply"


# --- SSRF: refused before any connection -------------------------------------------------------

LOOPBACK_SPELLINGS = [
    "http://127.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://127.1:{port}/",
    "http://2130706433:{port}/",
    "http://0x7f.0.0.1:{port}/",
    "http://0x7f000001:{port}/",
    "http://017700000001:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://[::ffff:7f00:1]:{port}/",
    "http://[::127.0.0.1]:{port}/",
    "http://[::1]:{port}/",
    "http://[64:ff9b::7f00:1]:{port}/",
    "http://[2002:7f00:1::]:{port}/",
    "http://0.0.0.0:{port}/",
    "http://0:{port}/",
    "http://[::]:{port}/",
    "http://LOCALHOST.:{port}/",
    "https://127.0.0.1:{port}/",
    "http://169.254.169.254:{port}/latest/meta-data/",
    "http://10.0.0.1:{port}/",
    "http://192.168.0.1:{port}/",
    "http://[fd00:ec2::254]:{port}/",
    "http://[fe80::1]:{port}/",
    "http://255.255.255.255:{port}/",
    "http://224.0.0.1:{port}/",
    "ftp://127.0.0.1:{port}/",
    "file:///etc/passwd",
]


def test_every_internal_spelling_is_refused_with_zero_hits_on_the_canary(settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = []
    with Peer() as canary:
        for template in LOOPBACK_SPELLINGS:
            url = template.format(port=canary.port)
            error = failure(lambda url=url: outbound.request("POST", url, json={"input": 1}, total_timeout=2))
            assert isinstance(error, PermanentCallError) and error.code == "unsafe_destination", url

    assert canary.hits == 0


def test_a_dns_answer_that_changes_after_the_check_is_never_used(settings, monkeypatch):
    # The resolver stand-in answers a public address to the check and loopback to anyone who
    # asks again (a DNS rebinding attack); connections are recorded, and only loopback ones are
    # really made (this sandbox has no internet to reach the public address).
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = []
    lookups, dialled = [], []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "rebind.example":
            lookups.append(host)
            address = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    def connect(sock, address):
        dialled.append(address[0])
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise ConnectionRefusedError(111, "Connection refused (no internet in tests)")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    with Peer() as canary:
        url = f"http://rebind.example:{canary.port}/execute"
        error = failure(lambda: outbound.request("POST", url, json={"input": 1}, total_timeout=3))
        assert isinstance(error, TransientCallError)
        assert lookups == ["rebind.example"]  # resolved once
        assert dialled == ["93.184.216.34"]  # and the checked address is the one dialled

        # The next call resolves afresh, sees loopback, and refuses before dialling.
        error = failure(lambda: outbound.request("POST", url, json={"input": 1}, total_timeout=3))
        assert error.code == "unsafe_destination"
        assert dialled == ["93.184.216.34"]

    assert canary.hits == 0


# --- TLS: the checked address is dialled, the real name is verified ----------------------------


@pytest.fixture
def tls_peer_files(tmp_path, monkeypatch):
    """A test CA (trusted through SSL_CERT_FILE) and a certificate it signed for "localhost" only."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject, issuer, public_key, signing_key, *, ca: bool, names=()):
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AgentHub test CA")])
    ca = certificate(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    leaf = certificate(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), ca_name, leaf_key.public_key(), ca_key,
        ca=False, names=["localhost"],
    )
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (tmp_path / "leaf.key").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    outbound._tls_context.cache_clear()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    yield server
    outbound._tls_context.cache_clear()


def test_tls_dials_the_checked_address_and_verifies_the_name(settings, tls_peer_files):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["localhost", "127.0.0.1"]
    with Peer(echo, tls=tls_peer_files) as agent:
        response = outbound.request("POST", agent.url("/execute", host="localhost"), json={"a": 1}, total_timeout=5)
        # The same server by its address: the certificate names "localhost", not 127.0.0.1.
        error = failure(lambda: outbound.request("POST", agent.url("/execute"), json={"a": 1}, total_timeout=5))

    assert response.json()["path"] == "/execute"
    assert agent.requests[0].headers["host"] == f"localhost:{agent.port}"
    assert isinstance(error, PermanentCallError) and error.code == "tls_invalid"
    assert len(agent.requests) == 1


# --- Small parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("0", 0.0), ("120", 120.0), ("999999", outbound.MAX_RETRY_AFTER), ("soon", None),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_is_read_as_seconds(value, expected):
    assert outbound._retry_after(value) == expected


def test_a_tls_peer_trickling_the_body_is_cut_at_the_total_deadline(settings, tls_peer_files):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["localhost"]
    slow = trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", every=0.05)
    with Peer(lambda request: slow, tls=tls_peer_files) as agent:
        started = time.monotonic()
        with pytest.raises(CallTimeout):
            outbound.request("GET", agent.url(host="localhost"), total_timeout=1.0, read_timeout=10)
        took = time.monotonic() - started

    assert 0.9 <= took < 2.5  # cut near the total deadline, not after 100000 trickled bytes
