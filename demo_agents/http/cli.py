"""The command line shared by `python -m demo_agents` and `manage.py run_demo_agents`."""

import argparse
import logging
import signal
import sys
import threading
from decimal import Decimal, InvalidOperation

from demo_agents.http.agents import Options
from demo_agents.http.server import DemoAgentServer

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700


def _rate(value: str) -> float:
    rate = float(value)
    if not 0 <= rate <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return rate


def _price(value: str) -> Decimal:
    try:
        price = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError("must be a decimal such as 0.05") from None
    if not price.is_finite() or price < 0:
        raise argparse.ArgumentTypeError("must be a decimal of 0 or more")
    return price


def add_arguments(parser: argparse.ArgumentParser, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    defaults = Options()
    parser.add_argument("--host", default=host, help=f"Address to listen on (default {host}; keep it loopback).")
    parser.add_argument("--port", type=int, default=port, help=f"Port (default {port}; 0 picks a free one).")
    parser.add_argument("--busy-rate", type=_rate, default=defaults.busy_rate,
                        help=f"Share of mock-busy runs answered 503 (default {defaults.busy_rate}).")
    parser.add_argument("--busy-retry-after", type=int, default=defaults.busy_retry_after,
                        help=f"Seconds in mock-busy's Retry-After (default {defaults.busy_retry_after}).")
    parser.add_argument("--busy-delay-ms", type=int, default=defaults.busy_delay_ms,
                        help=f"How slowly mock-busy answers when it does (default {defaults.busy_delay_ms} ms).")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="Seed for mock-busy's coin.")
    parser.add_argument("--negotiator-list-price", type=_price, default=defaults.negotiator_list_price,
                        help=f"mock-negotiator's asking price (default {defaults.negotiator_list_price}).")
    parser.add_argument("--negotiator-reserve-price", type=_price, default=defaults.negotiator_reserve_price,
                        help=f"The lowest price it accepts (default {defaults.negotiator_reserve_price}).")
    parser.add_argument("--quote-ttl", type=float, default=defaults.quote_ttl,
                        help=f"Seconds a quote stays valid (default {defaults.quote_ttl:g}).")
    parser.add_argument("--access-log", action="store_true", help="Log every request (to stderr).")


def options_from(args: dict) -> Options:
    if args["negotiator_reserve_price"] > args["negotiator_list_price"]:
        raise ValueError("--negotiator-reserve-price must not be above --negotiator-list-price")
    return Options(
        busy_rate=args["busy_rate"],
        busy_retry_after=args["busy_retry_after"],
        busy_delay_ms=args["busy_delay_ms"],
        seed=args["seed"],
        negotiator_list_price=args["negotiator_list_price"],
        negotiator_reserve_price=args["negotiator_reserve_price"],
        quote_ttl=args["quote_ttl"],
    )


def serve(args: dict, *, out=sys.stdout) -> None:
    """Run the server in the foreground until Ctrl-C or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.get("access_log"):
        logging.getLogger("demo_agents.http.access").setLevel(logging.DEBUG)
        logging.getLogger("demo_agents.http.access").addHandler(logging.StreamHandler())
        logging.getLogger("demo_agents.http.access").propagate = False
    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    server = DemoAgentServer(args["host"], args["port"], options=options_from(args))
    if args["host"] not in ("127.0.0.1", "localhost", "::1"):
        say(f"warning: listening on {args['host']}: the demo agents are meant for loopback only")
    say(f"AgentHub demo agents at {server.base_url}")
    for agent in server.agents.values():
        extra = "  (+ POST quote)" if "quote" in agent.actions else ""
        say(f"  {agent.slug:<16} {server.base_url}/{agent.slug}{extra}")
    say("POST <endpoint>/execute, GET <endpoint>/health. Ctrl-C stops.")

    def terminate(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = signal.signal(signal.SIGTERM, terminate) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        say("demo agents stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m demo_agents", description="Serve AgentHub's demo HTTP agents.")
    add_arguments(parser)
    args = vars(parser.parse_args(argv))
    try:
        options_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    serve(args)
