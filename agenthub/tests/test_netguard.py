"""The SSRF guard: every spelling of an internal address is refused unless its host is allowed by name."""

import ipaddress
import socket

import pytest

from agenthub.netguard import UnsafeURL, is_internal, resolve_destination, resolve_public

# Every form the issue lists, and the neighbours an attacker would try next.
INTERNAL_URLS = [
    "http://127.0.0.1/",
    "http://localhost/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f.0.0.1/",
    "http://017700000001/",
    "http://0x7f000001/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[64:ff9b:1::a00:1]/",  # local-use NAT64
    "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://169.254.1.1/",
    "http://[fe80::1]/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://255.255.255.255/",
    "http://224.0.0.1/",
    "http://239.255.255.250/",
    "http://[ff02::1]/",
    "http://[ff0e::1]/",
    "http://192.0.2.1/",  # documentation ranges are not the internet either
    "http://240.0.0.1/",
]

NOT_HTTP = [
    "ftp://93.184.216.34/",
    "file:///etc/passwd",
    "gopher://93.184.216.34/",
    "//93.184.216.34/",
    "93.184.216.34",
    "javascript:alert(1)",
]

MALFORMED = [
    "http://user:secret@93.184.216.34/",
    "http://evil.example\\@127.0.0.1/",
    "http:///path-only",
    "http://93.184.216.34:0/",
    "http://93.184.216.34:99999/",
    "http://93.184.216.34/a b",
    "http://93.184.216.34/\r\nX-Injected: 1",
    "http://[fe80::1%25eth0]/",
]


@pytest.fixture
def no_internal_hosts(settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = []


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_destinations_are_refused(no_internal_hosts, url):
    with pytest.raises(UnsafeURL):
        resolve_destination(url)


@pytest.mark.parametrize("url", NOT_HTTP + MALFORMED)
def test_other_schemes_and_malformed_urls_are_refused(no_internal_hosts, url):
    with pytest.raises(UnsafeURL):
        resolve_destination(url)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_pass(address):
    assert not is_internal(ipaddress.ip_address(address))


def test_a_public_literal_resolves_to_itself_and_keeps_its_path(no_internal_hosts):
    destination = resolve_destination("https://93.184.216.34:8443/agents/x/execute?mode=fast#frag")

    assert destination.addresses == ("93.184.216.34",)
    assert (destination.scheme, destination.host, destination.port) == ("https", "93.184.216.34", 8443)
    assert destination.target == "/agents/x/execute?mode=fast"
    assert destination.host_header == "93.184.216.34:8443"


def test_a_mapped_public_address_is_dialled_as_ipv4(no_internal_hosts):
    assert resolve_destination("http://[::ffff:8.8.8.8]/").addresses == ("8.8.8.8",)


def test_allowed_hosts_are_exempt_by_name_only(settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["localhost", "127.0.0.1"]

    assert resolve_destination("http://localhost:8001/").addresses == ("127.0.0.1",)
    assert resolve_destination("http://127.0.0.1:8001/").host_header == "127.0.0.1:8001"
    # Another spelling of the same address is another name: not allowed.
    for url in ("http://127.1:8001/", "http://2130706433/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/"):
        with pytest.raises(UnsafeURL):
            resolve_destination(url)


def test_production_default_allows_nothing_internal(no_internal_hosts):
    with pytest.raises(UnsafeURL, match="internal address"):
        resolve_public("http://localhost:8001/")


def _fake_dns(monkeypatch, answers: dict[str, list[str]]):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in answers[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_with_one_internal_answer_among_public_ones_is_refused(no_internal_hosts, monkeypatch):
    _fake_dns(monkeypatch, {"mixed.example": ["93.184.216.34", "10.0.0.7"]})

    with pytest.raises(UnsafeURL, match="10.0.0.7"):
        resolve_destination("http://mixed.example/")


def test_a_public_name_gives_every_checked_address_in_order(no_internal_hosts, monkeypatch):
    _fake_dns(monkeypatch, {"agent.example": ["2606:4700::1111", "93.184.216.34", "93.184.216.34"]})

    destination = resolve_destination("http://Agent.Example./run")

    assert destination.host == "agent.example"
    assert destination.addresses == ("2606:4700::1111", "93.184.216.34")
    assert destination.host_header == "agent.example"


def test_a_name_that_does_not_resolve_is_refused(no_internal_hosts):
    with pytest.raises(UnsafeURL, match="does not resolve"):
        resolve_destination("http://no-such-host.invalid/")


def test_resolve_public_keeps_its_shape(settings):
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["localhost"]

    assert resolve_public("http://localhost:9/") == ("localhost", ["127.0.0.1"])
