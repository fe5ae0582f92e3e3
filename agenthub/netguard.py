"""Server-side request forgery defence: which addresses outbound agent calls may reach.

A URL is resolved once and every address it resolves to is checked; the caller then
connects to an address that was checked (`orchestration.outbound` does, with the
`Destination` that `resolve_destination` returns), so a DNS answer that changes between
the check and the call cannot reach an internal host. Hosts named in
AGENT_ALLOWED_INTERNAL_HOSTS (the demo agents in development and tests) are exempt.

Odd spellings of addresses (`2130706433`, `0x7f.0.0.1`, `017700000001`, `127.1`) are
decoded by getaddrinfo exactly as a connection would decode them, so the check sees the
address that would really be dialled; IPv6 forms that embed an IPv4 address (mapped,
compatible, 6to4, NAT64, Teredo) are judged by the address inside, or refused outright
where it cannot be trusted.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
# IPv6 ranges that carry an IPv4 address in their last 32 bits and reach it when dialled.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Never reachable from here in a way we could check: deprecated IPv4-compatible addresses,
# local-use NAT64, SIIT-translated addresses and Teredo (whose client address is obfuscated).
_REFUSED_V6 = tuple(
    ipaddress.ip_network(net)
    for net in ("::/96", "64:ff9b:1::/48", "::ffff:0:0:0/96", "2001::/32")
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeURL(ValueError):
    pass


@dataclass(frozen=True)
class Destination:
    """A checked URL: connect only to `addresses`, and name `host` in the Host header and TLS."""

    scheme: str  # "http" | "https"
    host: str  # lower-case, IDNA-encoded; what the Host header and the certificate name
    port: int
    target: str  # path and query, as sent on the request line
    addresses: tuple[str, ...]  # every address the host resolved to, all checked, in dial order

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def is_internal(address: IPAddress) -> bool:
    """True for any address an agent call must not reach unless its host is allowed by name."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_internal(address.ipv4_mapped)
        if any(address in net for net in _REFUSED_V6):
            return True
        if address.sixtofour is not None:
            return is_internal(address.sixtofour)
        if address in _NAT64:
            return is_internal(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return (
        address in _METADATA
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global  # also shared address space (100.64/10), documentation ranges...
    )


def _dialled(address: IPAddress) -> str:
    # An IPv4-mapped answer is dialled as the IPv4 address it stands for.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def resolve_destination(url: str) -> Destination:
    """Parse and resolve `url` once, check every address; raises UnsafeURL."""
    if not isinstance(url, str) or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        raise UnsafeURL("The URL is malformed (it contains spaces or control characters).")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UnsafeURL("Only http and https URLs are allowed.")
    try:
        raw_host = parts.hostname or ""
        port = _DEFAULT_PORTS[scheme] if parts.port is None else parts.port
    except ValueError:
        raise UnsafeURL("The URL's host or port is not valid.") from None
    if not 0 < port < 65536:
        raise UnsafeURL("The URL's port is not valid.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("URLs with credentials are not allowed.")
    host = raw_host.rstrip(".").lower()
    if not host or "%" in host or "\\" in host:
        raise UnsafeURL("The URL has no valid host.")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise UnsafeURL(f"The host {raw_host!r} is not a valid name.") from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeURL(f"The host {host!r} does not resolve.") from None
    resolved = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not resolved:
        raise UnsafeURL(f"The host {host!r} does not resolve.")
    allowed = {name.lower().rstrip(".") for name in settings.AGENT_ALLOWED_INTERNAL_HOSTS}
    if host not in allowed:
        for address in resolved:
            if is_internal(address):
                raise UnsafeURL(f"The host {host!r} resolves to an internal address ({address}).")
    addresses = tuple(dict.fromkeys(_dialled(address) for address in resolved))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(scheme=scheme, host=host, port=port, target=target, addresses=addresses)


def resolve_public(url: str) -> tuple[str, list[str]]:
    """Check `url` and return (host, addresses it may be reached at). Raises UnsafeURL."""
    destination = resolve_destination(url)
    return destination.host, list(destination.addresses)
