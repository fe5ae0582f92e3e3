"""Server-side request forgery defence: which addresses outbound agent calls may reach.

A URL is resolved once and every address it resolves to is checked; the caller then
connects to an address that was checked (see `resolve_public`), so a DNS answer that
changes between the check and the call cannot reach an internal host. Hosts named in
AGENT_ALLOWED_INTERNAL_HOSTS (the demo agents in development and tests) are exempt.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class UnsafeURL(ValueError):
    pass


def _is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return _is_internal(mapped)
    return (
        address in _METADATA
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def resolve_public(url: str) -> tuple[str, list[str]]:
    """Check `url` and return (host, addresses it may be reached at). Raises UnsafeURL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Only http and https URLs are allowed.")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeURL("The URL has no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL("The URL's port is not valid.") from None
    if parts.username or parts.password:
        raise UnsafeURL("URLs with credentials are not allowed.")
    try:
        # getaddrinfo also decodes odd spellings of addresses (2130706433, 0x7f.0.0.1) the way
        # the connection would, so the check sees the address that would really be dialled.
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeURL(f"The host {host!r} does not resolve.") from None
    addresses = sorted({info[4][0] for info in infos})
    allowed = {name.lower() for name in settings.AGENT_ALLOWED_INTERNAL_HOSTS}
    if host not in allowed:
        for address in addresses:
            if _is_internal(ipaddress.ip_address(address.split("%")[0])):
                raise UnsafeURL(f"The host {host!r} resolves to an internal address ({address}).")
    return host, addresses
