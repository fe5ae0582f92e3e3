"""A fake LLM provider on loopback that speaks the real wire formats, scripted per test.

One server answers both APIs the SDKs call:
- Anthropic's Messages API: `POST /v1/messages` with `anthropic-version` and the key in `x-api-key`
  or, as the 2.x SDK sends it, `Authorization: Bearer <key>`; a reply
  is `{"type": "message", "content": [{"type": "tool_use", "name", "input"}] or [{"type": "text"}],
  "stop_reason", "usage", ...}`, an error `{"type": "error", "error": {"type", "message"}}`;
- OpenAI's Chat Completions (and OpenAI-compatible servers): `POST /v1/chat/completions` with
  `Authorization: Bearer <key>`; a reply is `{"object": "chat.completion", "choices": [{"message":
  {"role": "assistant", "content"}, "finish_reason"}], "usage", ...}`, an error `{"error": {...}}`.

    with LLMServer(api_key="sk-ant-test") as llm:
        llm.script(answer({"subtasks": [...]}))       # the next call gets this; the last one repeats
        provider = AnthropicProvider(model="claude-test", api_key="sk-ant-test", base_url=llm.url)
        ...
        assert llm.requests[0].json()["tools"][0]["input_schema"] == PLAN_SCHEMA

Replies: `answer(data)` (structured output: a tool call, or JSON in the message), `text(...)`,
`garbage()` (200 that is not JSON), `status(500)`, `overloaded()` (529), `hang(seconds)`,
`trickle()` (a byte now and then, never done), `refusal()`. A wrong API key gets 401 whatever is
scripted; `rejects_response_format=True` plays an OpenAI-compatible server that answers 400 to it.
"""

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    kind: str  # answer | text | garbage | status | hang | trickle | refusal
    data: object = None
    status: int = 200
    error_type: str = ""
    seconds: float = 0.0


def answer(data) -> Reply:
    return Reply("answer", data)


def text(content: str) -> Reply:
    return Reply("text", content)


def garbage() -> Reply:
    return Reply("garbage", "<html><body>502 Bad Gateway… or is it?</body></html>")


def status(code: int, error_type: str = "api_error") -> Reply:
    return Reply("status", status=code, error_type=error_type)


def overloaded() -> Reply:
    return Reply("status", status=529, error_type="overloaded_error")


def hang(seconds: float = 30.0, then: Reply | None = None) -> Reply:
    return Reply("hang", then, seconds=seconds)


def trickle() -> Reply:
    return Reply("trickle")


def refusal() -> Reply:
    return Reply("refusal")


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes = field(repr=False)

    def json(self):
        return json.loads(self.body)


class LLMServer:
    def __init__(self, *, api_key: str | None = None, rejects_response_format: bool = False):
        self.api_key = api_key  # None: any key is accepted
        self.rejects_response_format = rejects_response_format
        self.requests: list[Recorded] = []
        self._replies: list[Reply] = [text("Hello from the fake LLM.")]
        self._next = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorded = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with server._lock:
                    server.requests.append(recorded)
                if self.path.rstrip("/").endswith("/v1/messages"):
                    server._anthropic(self, recorded)
                elif self.path.rstrip("/").endswith("/chat/completions"):
                    server._openai(self, recorded)
                else:
                    self._send(404, {"error": {"type": "not_found_error", "message": f"No route {self.path}"}})

            def _send(self, code: int, payload, content_type: str = "application/json"):
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting (a timeout test): nobody to answer
                    self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"  # Anthropic's base URL; OpenAI's is url + "/v1"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    def script(self, *replies: Reply) -> "LLMServer":
        with self._lock:
            self._replies = list(replies)
            self._next = 0
        return self

    def __enter__(self) -> "LLMServer":
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()  # hanging handlers return
        self._server.shutdown()
        self._server.server_close()

    # --- Scripting -----------------------------------------------------------------------------------

    def _take(self) -> Reply:
        with self._lock:
            reply = self._replies[min(self._next, len(self._replies) - 1)]
            self._next += 1
        return reply

    def _delay(self, handler, reply: Reply) -> Reply | None:
        """Play `hang` and `trickle`; the reply to send after them, or None when the client has gone."""
        if reply.kind == "hang":
            if self._stopping.wait(reply.seconds):
                return None
            return reply.data or text("Too late.")
        if reply.kind == "trickle":
            try:
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", "1000000")
                handler.end_headers()
                while not self._stopping.wait(0.1):
                    handler.wfile.write(b" ")
                    handler.wfile.flush()
            except OSError:
                pass  # the client gave up, as it should
            return None
        return reply

    # --- Anthropic's Messages API --------------------------------------------------------------------

    @staticmethod
    def anthropic_key(request: Recorded) -> str | None:
        """The API key a Messages request carries: `x-api-key`, or (the SDK's 2.x way) a bearer token."""
        bearer = request.headers.get("authorization", "")
        return request.headers.get("x-api-key") or (bearer[7:] if bearer.startswith("Bearer ") else None)

    def _anthropic(self, handler, request: Recorded) -> None:
        if "anthropic-version" not in request.headers:
            return handler._send(400, _anthropic_error("invalid_request_error", "anthropic-version header is required"))
        if self.api_key is not None and self.anthropic_key(request) != self.api_key:
            return handler._send(401, _anthropic_error("authentication_error", "invalid x-api-key"))
        body = request.json()
        reply = self._delay(handler, self._take())
        if reply is None:
            return None
        if reply.kind == "status":
            return handler._send(reply.status, _anthropic_error(reply.error_type, "Scripted failure"))
        if reply.kind == "garbage":
            return handler._send(200, reply.data, "text/html")
        message = {
            "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": body["model"],
            "stop_sequence": None, "usage": {"input_tokens": 120, "output_tokens": 48},
        }
        if reply.kind == "answer":
            tool = (body.get("tool_choice") or {}).get("name") or body["tools"][0]["name"]
            message |= {"content": [{"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": tool,
                                     "input": reply.data}], "stop_reason": "tool_use"}
        elif reply.kind == "refusal":
            message |= {"content": [], "stop_reason": "refusal"}
        else:
            message |= {"content": [{"type": "text", "text": reply.data}], "stop_reason": "end_turn"}
        return handler._send(200, message)

    # --- OpenAI's Chat Completions -------------------------------------------------------------------

    def _openai(self, handler, request: Recorded) -> None:
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return handler._send(401, _openai_error(401, "invalid_request_error", "Incorrect API key provided."))
        body = request.json()
        if self.rejects_response_format and "response_format" in body:
            return handler._send(400, _openai_error(400, "invalid_request_error", "response_format is not supported"))
        reply = self._delay(handler, self._take())
        if reply is None:
            return None
        if reply.kind == "status":
            return handler._send(reply.status, _openai_error(reply.status, reply.error_type, "Scripted failure"))
        if reply.kind == "garbage":
            return handler._send(200, reply.data, "text/html")
        message = {"role": "assistant", "content": None, "refusal": None}
        if reply.kind == "answer":
            message["content"] = json.dumps(reply.data)
        elif reply.kind == "refusal":
            message["refusal"] = "I can't help with that."
        else:
            message["content"] = reply.data
        return handler._send(200, {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": body["model"], "choices": [{"index": 0, "message": message, "finish_reason": "stop",
                                                 "logprobs": None}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 48, "total_tokens": 168},
        })


def _anthropic_error(error_type: str, message: str) -> dict:
    return {"type": "error", "error": {"type": error_type, "message": message}}


def _openai_error(code: int, error_type: str, message: str) -> dict:
    return {"error": {"message": message, "type": error_type, "param": None, "code": str(code)}}
