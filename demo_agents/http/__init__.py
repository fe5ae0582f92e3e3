"""The demo HTTP agents of seed 004, served together by one process on loopback.

    python -m demo_agents --port 8700            # or: python manage.py run_demo_agents
    server, base_url = start_in_thread()         # tests and benchmarks (port 0 = a free port)
    ...
    server.stop()

Each agent lives under its own path: `{base_url}/{slug}` is the endpoint the platform registers,
and it answers seed 004's protocol: `POST {endpoint}/execute` with
`{"input": ..., "config": ..., "executionId": ...}` and an `Idempotency-Key` header gives
`{"result": ..., "cost": "0.0300"}`; `GET {endpoint}/health` gives `{"status": "ok", "load": 0..1, ...}`.
The negotiator also answers `POST {endpoint}/quote`.

Agents (slugs): summarizer, translator, search, mock-busy, mock-highprice, mock-negotiator, echo.
README.md next to this file documents each agent's input and output and the quote protocol;
catalog.py describes them for `seed_demo`.
"""

from demo_agents.http.agents import SLUGS, Options
from demo_agents.http.server import DemoAgentServer, start_in_thread

__all__ = ["SLUGS", "DemoAgentServer", "Options", "start_in_thread"]
