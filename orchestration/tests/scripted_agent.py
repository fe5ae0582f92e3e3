"""A real HTTP agent for tests, speaking seed 004's protocol, whose answers a test scripts.

    with ScriptedAgent() as agent:
        agent.script(Reply(503), Reply(200, {"result": {"ok": True}, "cost": "0.05"}))
        ...  agent.url is the endpoint; agent.calls records each /execute request

Replies are used in order; the last one repeats. Each reply may wait before answering, which
lets a test hold a call open (to cancel it, or kill the worker in the middle of it).
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: dict | str | None = field(default_factory=lambda: {"result": {"ok": True}})
    delay: float = 0.0
    headers: dict = field(default_factory=dict)


@dataclass
class Call:
    body: dict
    headers: dict


class ScriptedAgent:
    def __init__(self):
        self._replies = [Reply()]
        self._next = 0
        self.calls: list[Call] = []
        self.health = Reply(200, {"status": "ok", "load": 0.2})
        self._lock = threading.Lock()
        agent = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, reply: Reply):
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = payload.encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path.endswith("/health"):
                    self._answer(agent.health)
                else:
                    self._answer(Reply(404, {"error": "not found"}))

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with agent._lock:
                    agent.calls.append(Call(body=body, headers=dict(self.headers)))
                    reply = agent._replies[min(agent._next, len(agent._replies) - 1)]
                    agent._next += 1
                self._answer(reply)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}/agent"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._replies, self._next = list(replies), 0

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
