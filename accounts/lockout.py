"""Brute-force protection for every login: the API, the pages and the Django admin.

Each attempt takes a slot in two fixed-window counters, one for the account and one for the
client's address, *before* the password is checked; a successful login gives its slots back.
Taking the slot first is what bounds concurrent guessing: of fifty simultaneous attempts at most
`LOGIN_FAILURE_LIMIT` reach the password check, the rest are refused (429) without one. The guard
lives in the authentication backend (accounts.backends), so no login form can bypass it.

The client's address is REMOTE_ADDR. X-Forwarded-For is read only when REMOTE_ADDR is one of
`TRUSTED_PROXIES`, and then from the right: the first hop that is not a trusted proxy is the
client as the outermost proxy saw it; whatever the client itself wrote further left is ignored.
"""

import hashlib
import ipaddress
import logging
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

from accounts.counters import counter_hit, counter_release, counters_clear
from accounts.errors import LoginLocked

logger = logging.getLogger(__name__)

PREFIX = "login-guard:"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _parse(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address: IPAddress | None) -> bool:
    return address is not None and any(address in net for net in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, believing X-Forwarded-For only as far as trusted proxies wrote it."""
    remote = _parse(request.META.get("REMOTE_ADDR") or "")
    if not _trusted(remote):
        return str(remote) if remote else None
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    client = remote
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            break  # not written by a proxy of ours: stop at the last address we can vouch for
        client = address
        if not _trusted(address):
            break
    return str(client)


def _address_key(ip: str) -> str:
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        # One IPv6 client owns a whole /64: counting single addresses would give it 2^64 tries.
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _account_key(account: str) -> str:
    # Hashed: people type passwords into the username box, and cache keys end up in tools and logs.
    return hashlib.sha256(account.strip().lower().encode()).hexdigest()[:32]


@dataclass
class LoginAttempt:
    """The counter slots one attempt holds; `succeeded()` gives them back."""

    keys: list[str] = field(default_factory=list)

    def succeeded(self) -> None:
        for key in self.keys:
            counter_release(key)
        self.keys = []


def login_attempt_begin(*, request: HttpRequest | None, account: str) -> LoginAttempt:
    """Take a slot for one login attempt at `account`, or raise LoginLocked (with Retry-After)."""
    limit, window = settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_FAILURE_WINDOW
    attempt = LoginAttempt()
    ip = client_ip(request) if request is not None else None
    counters = [("ip", _address_key(ip))] if ip else []
    counters.append(("account", _account_key(account)))
    for kind, value in counters:
        key = f"{PREFIX}{kind}:{value}"
        count, seconds_left = counter_hit(key, window=window)
        attempt.keys.append(key)
        if count > limit:
            if count == limit + 1:  # once per window, not once per refused request
                logger.warning("login locked", extra={"by": kind, "retry_after": seconds_left})
            raise LoginLocked(retry_after=seconds_left)
    return attempt


def login_attempts_clear() -> None:
    """Unlock every account and address (tests; an operator after an incident)."""
    counters_clear(PREFIX)
