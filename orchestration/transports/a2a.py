"""The a2a transport: the open Agent2Agent protocol (https://a2a-protocol.org), over JSON-RPC.

Discovery: an Agent Card, at `/.well-known/agent-card.json` under the agent's base URL. A 1.0
card lists `supportedInterfaces` ({url, protocolBinding, protocolVersion}); a 0.3 card has
`url`, `preferredTransport`, `additionalInterfaces` and a card-wide `protocolVersion`. We use
the card's JSON-RPC interface, preferring protocol 1.0.

A call sends one user message with the input (a text part for a string or {"text": ...}, a data part for
anything else) and reads the final Task or Message:

    1.0  POST <url>  A2A-Version: 1.0
         {"jsonrpc": "2.0", "id": "...", "method": "SendMessage", "params": {"message":
          {"messageId", "role": "ROLE_USER", "parts": [{"text": "..."} | {"data": ...}]},
          "configuration": {"returnImmediately": false}, "metadata": {"executionId", "config"}}}
         → {"result": {"task": {"id", "status": {"state": "TASK_STATE_COMPLETED", "message"},
                                "artifacts": [{"parts": [...]}]}}}  or  {"result": {"message": {...}}}
         polling: "GetTask" {"id"}
    0.3  POST <url>
         {"jsonrpc": "2.0", "id": "...", "method": "message/send", "params": {"message":
          {"kind": "message", "messageId", "role": "user", "parts": [{"kind": "text", "text"} |
          {"kind": "data", "data": {...}}]}, "configuration": {"blocking": true}, "metadata": {...}}}
         → {"result": {"kind": "task", "id", "status": {"state": "completed"}, "artifacts": [...]}}
                   or {"result": {"kind": "message", "parts": [...]}}
         polling: "tasks/get" {"id"}

Task states map onto our outcome: completed → CallResult; failed / rejected → CallResult with
status "failed" and the agent's reason; canceled → PermanentCallError (code "cancelled");
input-required / auth-required → PermanentCallError (a one-shot run cannot answer); submitted /
working / unknown → polled until terminal, and CallTimeout when the deadline comes first.
All HTTP goes through `orchestration.outbound` (SSRF guard, deadlines, size cap).
"""

import json
import re
import time
import uuid
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from django.utils.text import slugify

from marketplace.validation import SEMVER
from orchestration import outbound
from orchestration.transports.base import (
    CallError,
    CallRequest,
    CallResult,
    CallTimeout,
    HealthResult,
    PermanentCallError,
    Target,
    TransientCallError,
)
from orchestration.transports.http import parse_cost

PROTOCOL_1_0 = "1.0"
PROTOCOL_0_3 = "0.3"
CARD_PATH = "/.well-known/agent-card.json"
LEGACY_CARD_PATH = "/.well-known/agent.json"  # protocol 0.2 and early 0.3 agents
CARD_TIMEOUT = 10.0  # seconds, end to end, to fetch one Agent Card
CARD_MAX_BYTES = 512 * 1024
HEALTH_TIMEOUT = 5.0
POLL_FIRST_WAIT = 0.05  # seconds; doubles up to POLL_MAX_WAIT while a task is still running
POLL_MAX_WAIT = 1.0

TERMINAL = {"completed", "failed", "canceled", "rejected"}
INTERRUPTED = {"input-required", "auth-required"}
PENDING = {"submitted", "working", "unknown"}

_METHODS = {
    PROTOCOL_1_0: {"send": "SendMessage", "get": "GetTask"},
    PROTOCOL_0_3: {"send": "message/send", "get": "tasks/get"},
}
# JSON-RPC errors meaning "this server does not speak that protocol version".
_WRONG_VERSION = {-32601, -32009}
_INTERNAL_ERROR = -32603
_SEMVER_PREFIX = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?$")


class InvalidAgentCard(PermanentCallError):
    code = "invalid_agent_card"


class A2AProtocolError(PermanentCallError):
    """The agent answered with a JSON-RPC error."""

    code = "a2a_error"

    def __init__(self, message: str, *, rpc_code: Any = None, **kwargs):
        super().__init__(message, **kwargs)
        self.rpc_code = rpc_code


# --- Calls ----------------------------------------------------------------------------------


def call(target: Target, request: CallRequest) -> CallResult:
    if not target.endpoint_url:
        raise PermanentCallError("The agent has no A2A endpoint URL.", code="bad_target")
    deadline = time.monotonic() + request.timeout
    version = protocol_of(target.protocol_version)
    if version:
        return _call(target.endpoint_url, version, request, deadline)
    # The card's protocol version was not recorded: speak 1.0, and 0.3 to a server that does not know 1.0.
    try:
        return _call(target.endpoint_url, PROTOCOL_1_0, request, deadline)
    except A2AProtocolError as exc:
        if exc.rpc_code not in _WRONG_VERSION:
            raise
    return _call(target.endpoint_url, PROTOCOL_0_3, request, deadline)


def _call(url: str, version: str, request: CallRequest, deadline: float) -> CallResult:
    params = {
        "message": _user_message(request, version),
        "configuration": {"returnImmediately": False} if version == PROTOCOL_1_0 else {"blocking": True},
        "metadata": {"executionId": request.execution_id, "config": request.config or {}},
    }
    result = _rpc(url, version, _METHODS[version]["send"], params, request.idempotency_key, deadline)
    kind, body = _task_or_message(result)
    if kind == "message":
        return CallResult(output=_output([body.get("parts")]), cost=_cost(body))
    wait = POLL_FIRST_WAIT
    while (state := _state(body)) in PENDING:
        task_id = body.get("id")
        if not isinstance(task_id, str) or not task_id:
            raise PermanentCallError("The agent's task has no id to follow.", code="malformed_reply")
        remaining = deadline - time.monotonic()
        if remaining <= wait:
            raise CallTimeout(f"The agent's task {task_id} was still {state} when the deadline came.")
        time.sleep(wait)
        wait = min(wait * 2, POLL_MAX_WAIT)
        result = _rpc(url, version, _METHODS[version]["get"], {"id": task_id}, request.idempotency_key, deadline)
        kind, body = _task_or_message(result)
        if kind != "task":
            raise PermanentCallError("The agent answered a task query with something else.", code="malformed_reply")
    return _outcome(state, body)


def _outcome(state: str, task: dict) -> CallResult:
    reason = _text(_status_message_parts(task))
    if state == "completed":
        return CallResult(output=_task_output(task), cost=_cost(task))
    if state in ("failed", "rejected"):
        default = "The agent reported that the task failed." if state == "failed" else "The agent rejected the task."
        prefix = "" if state == "failed" else "Rejected: "
        return CallResult(
            output=None, cost=_cost(task), status="failed", error=(prefix + reason if reason else default)[:1000]
        )
    if state == "canceled":
        raise PermanentCallError(f"The agent cancelled the task.{' ' + reason if reason else ''}", code="cancelled")
    if state in INTERRUPTED:
        what = "more input" if state == "input-required" else "authorization"
        raise PermanentCallError(
            f"The agent asked for {what}, which a single run cannot give.{' ' + reason if reason else ''}"[:1000],
            code=state.replace("-", "_"),
        )
    raise PermanentCallError(f"The agent's task is in an unknown state {state!r}.", code="malformed_reply")


def health(target: Target) -> HealthResult:
    """An A2A agent is healthy when its Agent Card can be fetched and read."""
    started = time.monotonic()
    try:
        # The card normally sits at the root of the agent's origin, whatever the endpoint's path.
        card = fetch_agent_card(_card_urls(target.endpoint_url, origin_first=True), timeout=HEALTH_TIMEOUT)
    except CallError as exc:
        return HealthResult(ok=False, response_ms=int((time.monotonic() - started) * 1000), detail=exc.message)
    return HealthResult(ok=True, response_ms=int((time.monotonic() - started) * 1000), detail=str(card["name"])[:200])


# --- JSON-RPC -------------------------------------------------------------------------------


def _rpc(url: str, version: str, method: str, params: dict, idempotency_key: str, deadline: float) -> Any:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise CallTimeout("No time was left to call the agent.")
    rpc_id = str(uuid.uuid4())
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    if version == PROTOCOL_1_0:
        headers["A2A-Version"] = PROTOCOL_1_0  # without it a 1.0 server reads the request as 0.3
    response = outbound.request(
        "POST", url, json={"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params},
        headers=headers, total_timeout=remaining,
    )
    reply = response.json()
    if not isinstance(reply, dict) or reply.get("jsonrpc") != "2.0":
        raise PermanentCallError("The agent's reply is not a JSON-RPC 2.0 response.", code="malformed_reply")
    error = reply.get("error")
    if error is not None:
        raise _rpc_error(error, method)
    if str(reply.get("id")) != rpc_id:
        raise PermanentCallError("The agent's reply answers another request id.", code="malformed_reply")
    if "result" not in reply:
        raise PermanentCallError("The agent's JSON-RPC reply has neither result nor error.", code="malformed_reply")
    return reply["result"]


def _rpc_error(error: Any, method: str) -> CallError:
    if not isinstance(error, dict):
        return PermanentCallError("The agent's JSON-RPC error is malformed.", code="malformed_reply")
    code = error.get("code")
    message = str(error.get("message") or "no message")[:500]
    text = f"The agent answered {method} with error {code}: {message}"
    if code == _INTERNAL_ERROR:
        return TransientCallError(text, code="agent_internal_error")
    return A2AProtocolError(text, rpc_code=code)


# --- Reading tasks and messages (either protocol's spelling) --------------------------------


def _task_or_message(result: Any) -> tuple[str, dict]:
    if isinstance(result, dict):
        for kind in ("task", "message"):  # 1.0: {"task": {...}} | {"message": {...}}
            if isinstance(result.get(kind), dict):
                return kind, result[kind]
        kind = result.get("kind")  # 0.3: the object itself, tagged with its kind
        if kind == "task" or (kind is None and "status" in result and "id" in result):
            return "task", result
        if kind == "message" or (kind is None and "parts" in result):
            return "message", result
    raise PermanentCallError("The agent's result is neither a task nor a message.", code="malformed_reply")


def _state(task: dict) -> str:
    status = task.get("status")
    raw = status.get("state") if isinstance(status, dict) else None
    if not isinstance(raw, str):
        raise PermanentCallError("The agent's task has no status.", code="malformed_reply")
    state = raw.strip().lower().removeprefix("task_state_").replace("_", "-")
    return {"cancelled": "canceled", "unspecified": "unknown"}.get(state, state)


def _status_message_parts(task: dict) -> list:
    status = task.get("status") or {}
    message = status.get("message") if isinstance(status, dict) else None
    return message.get("parts") or [] if isinstance(message, dict) else []


def _task_output(task: dict) -> Any:
    artifacts = task.get("artifacts") or []
    if not isinstance(artifacts, list):
        raise PermanentCallError("The agent's task artifacts are not a list.", code="malformed_reply")
    parts = [artifact.get("parts") for artifact in artifacts if isinstance(artifact, dict)]
    if any(parts):
        return _output(parts)
    if status_parts := _status_message_parts(task):
        return _output([status_parts])
    for message in reversed(task.get("history") or []):  # the agent's last word, if it only spoke there
        if isinstance(message, dict) and str(message.get("role", "")).lower() in ("agent", "role_agent"):
            return _output([message.get("parts")])
    return None


def _values(parts_lists: list) -> list[tuple[str, Any]]:
    values = []
    for parts in parts_lists:
        if parts is None:
            continue
        if not isinstance(parts, list):
            raise PermanentCallError("The agent's parts are not a list.", code="malformed_reply")
        for part in parts:
            if not isinstance(part, dict):
                raise PermanentCallError("One of the agent's parts is not an object.", code="malformed_reply")
            kind = part.get("kind")
            if isinstance(part.get("text"), str) and kind in (None, "text"):
                values.append(("text", part["text"]))
            elif "data" in part and kind in (None, "data"):
                values.append(("data", part["data"]))
            elif isinstance(part.get("file"), dict):  # 0.3: {"kind": "file", "file": {uri | bytes, name, mimeType}}
                values.append(("file", _pick(part["file"], "uri", "bytes", "name", "mimeType")))
            elif "url" in part or "raw" in part:  # 1.0: {"url" | "raw", "filename", "mediaType"}
                values.append(("file", _pick(part, "url", "raw", "filename", "mediaType")))
    return values


def _pick(mapping: dict, *keys: str) -> dict:
    return {key: mapping[key] for key in keys if key in mapping}


def _output(parts_lists: list) -> Any:
    """One part → its value; only text → the texts joined; a mixture → the list of values."""
    values = _values(parts_lists)
    if not values:
        return None
    if len(values) == 1:
        return values[0][1]
    if all(kind == "text" for kind, _ in values):
        return "\n".join(value for _, value in values)
    return [value for _, value in values]


def _text(parts: list) -> str:
    try:
        values = _values([parts])
    except PermanentCallError:
        return ""
    texts = [value if kind == "text" else json.dumps(value)[:500] for kind, value in values]
    return " ".join(texts).strip()[:1000]


def _cost(body: dict) -> Any:
    # Not part of A2A: an agent may state its price as metadata {"cost": "0.02"}.
    metadata = body.get("metadata")
    return parse_cost(metadata.get("cost")) if isinstance(metadata, dict) else None


def _user_message(request: CallRequest, version: str) -> dict:
    value = request.input
    if isinstance(value, dict) and set(value) == {"text"} and isinstance(value["text"], str):
        value = value["text"]  # AgentHub inputs are objects; {"text": "..."} is a plain text message
    message_id = request.idempotency_key or request.execution_id or str(uuid.uuid4())
    if version == PROTOCOL_1_0:
        part = {"text": value, "mediaType": "text/plain"} if isinstance(value, str) else {
            "data": value, "mediaType": "application/json"}
        return {"messageId": message_id, "role": "ROLE_USER", "parts": [part]}
    if isinstance(value, str):
        part = {"kind": "text", "text": value}
    else:  # a 0.3 data part holds an object
        part = {"kind": "data", "data": value if isinstance(value, dict) else {"input": value}}
    return {"kind": "message", "messageId": message_id, "role": "user", "parts": [part]}


# --- Agent Cards ----------------------------------------------------------------------------


def protocol_of(raw: Any) -> str:
    """"1.0" or "0.3" for a declared protocol version; "" when none was declared."""
    text = str(raw or "").strip()
    if not text:
        return ""
    return PROTOCOL_0_3 if text.startswith("0.") else PROTOCOL_1_0


def _card_urls(url: str, *, origin_first: bool = False) -> list[str]:
    """Where the card may be: `url` itself when it names a card, else the well-known paths under it
    (and under its origin, when `url` has a path)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if path.endswith(".json"):
        return [urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))]
    bases = [path.rstrip("/")] + ([""] if path.rstrip("/") else [])
    if origin_first:
        bases.reverse()
    return [
        urlunsplit((parts.scheme, parts.netloc, base + well_known, "", ""))
        for well_known in (CARD_PATH, LEGACY_CARD_PATH)
        for base in bases
    ]


def fetch_agent_card(url: str | list[str], *, timeout: float = CARD_TIMEOUT) -> dict:
    """Fetch and validate an Agent Card from a card URL or an agent's base URL.

    Raises PermanentCallError / TransientCallError (unreachable, unsafe URL, 4xx, ...) or
    InvalidAgentCard (a reply that is not a usable card). Returns the card as sent.
    """
    candidates = url if isinstance(url, list) else _card_urls(url)
    deadline = time.monotonic() + timeout
    for index, candidate in enumerate(candidates):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CallTimeout(f"The Agent Card at {candidate} did not arrive in time.")
        try:
            response = outbound.request("GET", candidate, total_timeout=remaining, max_bytes=CARD_MAX_BYTES)
        except PermanentCallError as exc:
            if getattr(exc, "status", None) == 404 and index + 1 < len(candidates):
                continue  # not there: try the next well-known place
            raise
        try:
            card = response.json()
        except PermanentCallError:
            raise InvalidAgentCard(f"The Agent Card at {candidate} is not valid JSON.") from None
        _validate_card(card, candidate)
        return card
    raise InvalidAgentCard("No Agent Card was found.")  # unreachable: the loop returns or raises


def _validate_card(card: Any, card_url: str) -> None:
    if not isinstance(card, dict):
        raise InvalidAgentCard(f"The Agent Card at {card_url} is not a JSON object.")
    if not isinstance(card.get("name"), str) or not card["name"].strip():
        raise InvalidAgentCard("The Agent Card has no name.")
    for key, kind in (("description", str), ("version", str), ("skills", list), ("capabilities", dict)):
        if card.get(key) is not None and not isinstance(card[key], kind):
            raise InvalidAgentCard(f"The Agent Card's {key} is not a {kind.__name__}.")
    for skill in card.get("skills") or []:
        if not isinstance(skill, dict) or not any(_str(skill.get(key)) for key in ("id", "name")):
            raise InvalidAgentCard("Each skill in the Agent Card needs an id or a name.")
        if skill.get("tags") is not None and not (
            isinstance(skill["tags"], list) and all(isinstance(tag, str) for tag in skill["tags"])
        ):
            raise InvalidAgentCard("A skill's tags in the Agent Card are not a list of strings.")
    _interface(card, card_url)


def _interface(card: dict, card_url: str) -> tuple[str, str]:
    """The card's JSON-RPC endpoint (absolute) and protocol version, preferring 1.0."""
    chosen: tuple[str, str] | None = None
    interfaces = card.get("supportedInterfaces")  # 1.0
    if interfaces is not None and not isinstance(interfaces, list):
        raise InvalidAgentCard("The Agent Card's supportedInterfaces is not a list.")
    for interface in interfaces or []:
        if not isinstance(interface, dict) or str(interface.get("protocolBinding", "")).upper() != "JSONRPC":
            continue
        version = protocol_of(interface.get("protocolVersion")) or PROTOCOL_1_0
        if isinstance(interface.get("url"), str) and interface["url"] and (chosen is None or (
            version == PROTOCOL_1_0 and chosen[1] != PROTOCOL_1_0
        )):
            chosen = (interface["url"], version)
    if chosen is None:  # 0.3: url + preferredTransport (JSONRPC unless said otherwise) + additionalInterfaces
        version = protocol_of(card.get("protocolVersion")) or PROTOCOL_0_3
        main = {"url": card.get("url"), "transport": card.get("preferredTransport") or "JSONRPC"}
        for interface in [main, *(card.get("additionalInterfaces") or [])]:
            if (
                isinstance(interface, dict)
                and str(interface.get("transport", "")).upper() == "JSONRPC"
                and isinstance(interface.get("url"), str)
                and interface["url"]
            ):
                chosen = (interface["url"], version)
                break
    if chosen is None:
        raise InvalidAgentCard("The Agent Card declares no JSON-RPC interface, the only A2A binding AgentHub speaks.")
    endpoint = urljoin(card_url, chosen[0])
    if urlsplit(endpoint).scheme not in ("http", "https"):
        raise InvalidAgentCard(f"The Agent Card's endpoint {chosen[0]!r} is not an http(s) URL.")
    return endpoint, chosen[1]


def agent_fields_from_card(card: dict, source_url: str) -> dict:
    """Agent field values for a draft agent described by `card` (as `fetch_agent_card` returned it).

    Every key is an Agent field except `protocol_version` ("1.0" or "0.3"), which a2a calls
    use (Target.protocol_version) and which has no Agent column of its own: pop it before
    `Agent(**fields)`. `slug` is a suggestion (it may be taken); `author` is present only when
    the card names its provider.
    """
    card_url = _card_urls(source_url)[0]
    _validate_card(card, card_url)
    endpoint_url, protocol_version = _interface(card, card_url)
    name = card["name"].strip()[:255]
    description = (card.get("description") or "").strip()
    skills, tags, capabilities = [], [], []
    for skill in card.get("skills") or []:
        ident, label, summary = _str(skill.get("id")), _str(skill.get("name")), _str(skill.get("description"))
        skills.append((ident or label).lower()[:100])
        tags.extend(tag.strip().lower()[:50] for tag in skill.get("tags") or [] if tag.strip())
        label = label or ident
        capabilities.append(f"{label}: {summary}"[:200] if summary else label[:200])
    flags = card.get("capabilities") or {}
    if flags.get("streaming"):
        capabilities.append("Streaming responses")
    if flags.get("pushNotifications"):
        capabilities.append("Push notifications")
    provider = card.get("provider") if isinstance(card.get("provider"), dict) else {}
    fields = {
        "name": name,
        "slug": slugify(name)[:80].strip("-") or "a2a-agent",
        "description": description,
        "short_description": _first_sentence(description)[:500],
        "version": _version(card.get("version")),
        "transport": "a2a",
        "endpoint_url": endpoint_url,
        "protocol_version": protocol_version,
        "skills": _unique(skills + tags)[:50],
        "tags": _unique(tags)[:50],
        "capabilities": _unique(capabilities)[:50],
        "inputs": _unique(_strings(card.get("defaultInputModes")))[:20],
        "outputs": _unique(_strings(card.get("defaultOutputModes")))[:20],
    }
    if organization := _str(provider.get("organization")):
        fields["author"] = organization[:255]  # else the registering user, as for any new agent
    return fields


def _version(raw: Any) -> str:
    """The card's version as semantic versioning: "2" → "2.0.0"; unreadable → "1.0.0"."""
    text = str(raw or "").strip().removeprefix("v")
    if SEMVER.match(text) and len(text) <= 50:
        return text
    match = _SEMVER_PREFIX.match(text)
    if not match:
        return "1.0.0"
    return ".".join(str(int(number or 0)) for number in match.groups())


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.!?])(\s|$)", text, re.S)
    return (match.group(1) if match else text).strip()


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str) and item] if isinstance(value, list) else []


def _unique(items: list[str]) -> list[str]:
    return [item for item in dict.fromkeys(items) if item]
