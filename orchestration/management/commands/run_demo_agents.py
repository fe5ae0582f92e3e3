"""`manage.py run_demo_agents`: the same server as `python -m demo_agents`, with the project's settings.

The default address comes from `settings.DEMO_AGENTS_URL` when it is set (else 127.0.0.1:8700).
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo_agents.http.cli import DEFAULT_HOST, DEFAULT_PORT, add_arguments, options_from, serve


def _default_address() -> tuple[str, int]:
    url = getattr(settings, "DEMO_AGENTS_URL", "") or ""
    if not url:
        return DEFAULT_HOST, DEFAULT_PORT
    parts = urlsplit(url)
    return parts.hostname or DEFAULT_HOST, parts.port or DEFAULT_PORT


class Command(BaseCommand):
    requires_system_checks = []  # it touches no model or database: start at once
    help = "Serve the demo HTTP agents (summarizer, translator, search, mock-busy, mock-highprice, " \
           "mock-negotiator, echo) on one loopback port, each under /<slug>."

    def add_arguments(self, parser):
        host, port = _default_address()
        add_arguments(parser, host=host, port=port)

    def handle(self, *args, **options):
        try:
            options_from(options)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        serve(options, out=self.stdout)
