"""API throttles per anonymous address, per user, per API key and for the email-sending endpoints.

Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (read at each request, so a changed
setting applies at once); a missing or empty rate turns a throttle off. Counting is one atomic
fixed-window counter per client in the cache (Redis in production; see accounts.counters),
rather than DRF's list of timestamps, which is read, trimmed and written back on every request.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from accounts.counters import counter_hit
from accounts.lockout import client_ip
from accounts.models import ApiKey

PREFIX = "throttle:"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """"100/minute" -> (100, 60); None, "" or "off" -> None. Raises ValueError for anything else."""
    if not rate or rate.strip().lower() in ("off", "none"):
        return None
    number, _, period = rate.strip().partition("/")
    if not number.strip().isdigit() or not period.strip() or period.strip()[0].lower() not in _PERIODS:
        raise ValueError(f"A rate is '<number>/<second|minute|hour|day>', got {rate!r}.")
    return int(number), _PERIODS[period.strip()[0].lower()]


class CounterThrottle(BaseThrottle):
    scope = ""

    def ident(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        parsed = parse_rate(api_settings.DEFAULT_THROTTLE_RATES.get(self.scope))
        if parsed is None:
            return True
        ident = self.ident(request)
        if ident is None:
            return True
        limit, period = parsed
        count, self.seconds_left = counter_hit(f"{PREFIX}{self.scope}:{ident}", window=period)
        return count <= limit

    def wait(self) -> float | None:
        return getattr(self, "seconds_left", None)


class AnonThrottle(CounterThrottle):
    scope = "anon"

    def ident(self, request):
        return None if request.user.is_authenticated else client_ip(request)


class UserThrottle(CounterThrottle):
    scope = "user"

    def ident(self, request):
        if not request.user.is_authenticated or isinstance(request.auth, ApiKey):
            return None
        return str(request.user.pk)


class ApiKeyThrottle(CounterThrottle):
    scope = "api_key"

    def ident(self, request):
        return str(request.auth.pk) if isinstance(request.auth, ApiKey) else None


class AuthEmailThrottle(CounterThrottle):
    """Per address, on the endpoints that send email (register, password reset, resend): no mail bombs."""

    scope = "auth"

    def ident(self, request):
        return client_ip(request)
