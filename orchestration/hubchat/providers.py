"""LLM planners and answer writers behind one interface, tried in order, with a fallback.

Three kinds of provider, each through its official SDK:
- **anthropic**: the Messages API; structured output is a forced call of one tool whose
  `input_schema` is the schema;
- **openai**: Chat Completions with `response_format={"type": "json_schema", ...}`;
- **openai-compatible** (Ollama, vLLM, llama.cpp, LM Studio...): the same request; a server that
  ignores `response_format` is read by finding the JSON object in the message text, and one that
  refuses it (400) is asked once more without it.

The SDKs get `max_retries=0` (falling back to the next provider is our retry) and an HTTP client
of ours whose sockets obey one deadline per call (`_DeadlineBackend`): a server that hangs, or
trickles a byte now and then, is cut off when the call's time is up, whatever the SDK's own
per-read timeouts would allow. Every failure (an HTTP error, a timeout, a refused connection, a
malformed reply, a refusal) becomes a `ProviderError` whose reason is short and safe to show on
the task: it never quotes the key or the reply.

Order: the user's own keys (accounts.ProviderKey, oldest first), then settings.HUBCHAT_PROVIDERS;
after them the caller's fallback (the built-in planner, the template answer). A user's own
OpenAI-compatible server is someone else's URL: it is checked by `agenthub.netguard` on every
call and the connection is pinned to the addresses checked (no DNS rebinding, no redirects).
"""

import dataclasses
import json
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

import anthropic
import httpcore2
import httpx2
import jsonschema
import openai
from django.conf import settings

from agenthub import netguard
from orchestration.hubchat.plan import PLAN_SCHEMA, InvalidPlan, Plan, plan_from_json

logger = logging.getLogger(__name__)

TOOL_NAME = "answer"  # the one tool an Anthropic model is made to call
MIN_CALL_SECONDS = 1.0  # less time than this left in the budget: the remaining providers are skipped
MAX_RESULT_CHARS = 8000  # of each step's result, when an LLM writes the answer
_STATUS_WORDS = {
    401: "the API key was refused",
    403: "not permitted",
    404: "not found (check the model name and the base URL)",
    429: "rate limited",
    529: "overloaded",
}


class ProviderError(Exception):
    """A provider could not answer; `reason` says why in a few words (shown on the task)."""

    def __init__(self, reason: str, *, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status  # the HTTP status, when the provider answered with an error


class Provider(ABC):
    """One LLM endpoint: a kind, a model, where it is and with which key."""

    name: str  # "anthropic:claude-sonnet-4-5", "openai-compatible:llama3@http://127.0.0.1:11434/v1"

    @abstractmethod
    def complete_json(self, system: str, user: str, schema: dict, *, timeout: float | None = None) -> dict:
        """An answer that is a JSON object valid against `schema` (structured output)."""

    @abstractmethod
    def complete_text(self, system: str, user: str, *, timeout: float | None = None) -> str:
        """A plain text answer."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


# --- Talking HTTP with one deadline per call ---------------------------------------------------------


class _DeadlineStream(httpcore2.NetworkStream):
    """A connection whose every read, write and TLS handshake waits no later than the deadline."""

    def __init__(self, stream: httpcore2.NetworkStream, deadline: float):
        self._stream = stream
        self._deadline = deadline

    def _left(self, timeout: float | None, expired: type[Exception]) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise expired("the call's time ran out")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._left(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._left(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore2.NetworkStream:
        upgraded = self._stream.start_tls(ssl_context, server_hostname, self._left(timeout, httpcore2.ConnectTimeout))
        return _DeadlineStream(upgraded, self._deadline)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore2.NetworkBackend):
    """Opens connections that obey the deadline; with a `destination`, only to its checked addresses
    (the TLS name and the Host header stay the URL's host)."""

    def __init__(self, deadline: float, destination: netguard.Destination | None):
        self._deadline = deadline
        self._destination = destination
        self._inner = httpcore2.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = [host]
        if self._destination is not None:
            if host.lower().rstrip(".") != self._destination.host or port != self._destination.port:
                raise httpcore2.ConnectError("the call left the checked address")
            addresses = list(self._destination.addresses)
        failure: Exception = httpcore2.ConnectError("no address to connect to")
        for address in addresses:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise httpcore2.ConnectTimeout("the call's time ran out")
            try:
                stream = self._inner.connect_tcp(address, port, timeout=left if timeout is None else min(timeout, left),
                                                 local_address=local_address, socket_options=socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as error:
                failure = error
                continue
            return _DeadlineStream(stream, self._deadline)
        raise failure

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore2.ConnectError("unix sockets are not used")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# What a request to a user's own server may carry. The SDKs add headers from the environment
# (OPENAI_ORG_ID, OPENAI_PROJECT_ID, *_CUSTOM_HEADERS): the platform's, never to be sent to a user's server.
_HEADERS_FOR_USERS_SERVERS = {"host", "accept", "accept-encoding", "connection", "content-type", "content-length",
                              "user-agent", "authorization", "x-api-key", "anthropic-version"}


class _DeadlineTransport(httpx2.HTTPTransport):
    def __init__(self, *, deadline: float, destination: netguard.Destination | None):
        super().__init__(trust_env=False)
        self._users_server = destination is not None
        # httpx2 offers no public way to give its transport a network backend: the pool is
        # replaced by one built the same way, with ours.
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx2.create_ssl_context(), max_connections=4,
            network_backend=_DeadlineBackend(deadline, destination),
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._users_server:
            for name in [name for name in request.headers if name.lower() not in _HEADERS_FOR_USERS_SERVERS
                         and not name.lower().startswith("x-stainless-")]:
                del request.headers[name]
        return super().handle_request(request)


# --- The providers --------------------------------------------------------------------------------------


class _SDKProvider(Provider):
    """What the Anthropic and OpenAI providers share: where, which key, and the HTTP client."""

    kind = ""
    sdk = None  # the SDK module, for its exception classes

    def __init__(self, *, model: str, api_key: str, base_url: str, name: str | None = None,
                 check_destination: bool = False):
        self.model = model
        self._api_key = api_key  # never in a name, a note, a log line or a repr
        self.base_url = base_url.rstrip("/")
        self.check_destination = check_destination  # a URL a user gave: netguard and pinning
        self.name = name or self.default_name()

    def default_name(self) -> str:
        return f"{self.kind}:{self.model}"

    def _timeout(self, timeout: float | None) -> float:
        return timeout if timeout is not None else settings.HUBCHAT_LLM_TIMEOUT_SECONDS

    def _http_client(self, deadline: float) -> httpx2.Client:
        destination = None
        if self.check_destination:
            try:
                destination = netguard.resolve_destination(self.base_url)
            except netguard.UnsafeURL as error:
                raise ProviderError(f"refused to call {self.base_url} ({error})") from None
        return httpx2.Client(transport=_DeadlineTransport(deadline=deadline, destination=destination),
                             follow_redirects=False, trust_env=False)

    def _failure(self, error: Exception) -> ProviderError:
        """An SDK exception as a ProviderError with a short reason."""
        sdk = self.sdk
        if isinstance(error, sdk.APITimeoutError):
            return ProviderError("timed out")
        if isinstance(error, sdk.APIConnectionError):
            return ProviderError(f"could not connect ({_cause(error)})")
        if isinstance(error, sdk.APIStatusError):
            status = error.status_code
            if status in _STATUS_WORDS:
                return ProviderError(f"{_STATUS_WORDS[status]} (HTTP {status})", status=status)
            kind = _error_type(error.body)
            return ProviderError(f"HTTP {status}" + (f" ({kind})" if kind else ""), status=status)
        if isinstance(error, sdk.APIResponseValidationError | ValueError):
            return ProviderError("malformed reply")
        return ProviderError(f"failed ({type(error).__name__})")


class AnthropicProvider(_SDKProvider):
    kind = "anthropic"
    sdk = anthropic

    def _create(self, timeout: float | None, **params):
        timeout = self._timeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            with self._http_client(deadline) as http, anthropic.Anthropic(
                api_key=self._api_key, base_url=self.base_url, max_retries=0, timeout=timeout, http_client=http,
            ) as client:
                message = client.messages.create(model=self.model, max_tokens=settings.HUBCHAT_LLM_MAX_TOKENS,
                                                  timeout=timeout, **params)
        except (anthropic.AnthropicError, ValueError) as error:
            raise self._failure(error) from None
        if not isinstance(message, anthropic.types.Message):  # the SDK hands back a body that is not JSON as text
            raise ProviderError("malformed reply")
        if message.stop_reason == "refusal":
            raise ProviderError("refused to answer")
        if message.stop_reason in ("max_tokens", "model_context_window_exceeded"):
            raise ProviderError("the reply was cut off (too long)")
        return message

    def complete_json(self, system: str, user: str, schema: dict, *, timeout: float | None = None) -> dict:
        message = self._create(
            timeout, system=system, messages=[{"role": "user", "content": user}],
            tools=[{"name": TOOL_NAME, "description": "Give your answer.", "input_schema": schema}],
            tool_choice={"type": "tool", "name": TOOL_NAME},
        )
        for block in message.content:
            if block.type == "tool_use" and block.name == TOOL_NAME:
                return _conforming(block.input, schema)
        text = "".join(block.text for block in message.content if block.type == "text")
        if text.strip():  # a gateway that ignored tool_choice may still have answered in JSON
            return _conforming(_json_in_text(text), schema)
        raise ProviderError("malformed reply (no tool call)")

    def complete_text(self, system: str, user: str, *, timeout: float | None = None) -> str:
        message = self._create(timeout, system=system, messages=[{"role": "user", "content": user}])
        text = "".join(block.text for block in message.content if block.type == "text").strip()
        if not text:
            raise ProviderError("empty reply")
        return text


class OpenAIProvider(_SDKProvider):
    kind = "openai"
    sdk = openai

    def _create(self, timeout: float | None, deadline: float | None = None, **params):
        timeout = self._timeout(timeout)
        deadline = deadline or time.monotonic() + timeout
        try:
            with self._http_client(deadline) as http, openai.OpenAI(
                api_key=self._api_key or "none", base_url=self.base_url, max_retries=0, timeout=timeout,
                http_client=http,
            ) as client:
                completion = client.chat.completions.create(model=self.model, timeout=timeout, **self._limit(),
                                                            **params)
        except (openai.OpenAIError, ValueError) as error:
            raise self._failure(error) from None
        if not isinstance(completion, openai.types.chat.ChatCompletion):  # a body that is not JSON, as text
            raise ProviderError("malformed reply")
        if not completion.choices:
            raise ProviderError("malformed reply (no choices)")
        choice = completion.choices[0]
        if choice.message.refusal:
            raise ProviderError("refused to answer")
        if choice.finish_reason == "content_filter":
            raise ProviderError("refused to answer (content filter)")
        if choice.finish_reason == "length":
            raise ProviderError("the reply was cut off (too long)")
        content = (choice.message.content or "").strip()
        if not content:
            raise ProviderError("empty reply")
        return content

    def _limit(self) -> dict:
        return {"max_completion_tokens": settings.HUBCHAT_LLM_MAX_TOKENS}

    def _messages(self, system: str, user: str) -> list[dict]:
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def complete_json(self, system: str, user: str, schema: dict, *, timeout: float | None = None) -> dict:
        response_format = {"type": "json_schema",
                           "json_schema": {"name": TOOL_NAME, "schema": schema, "strict": _strict_compatible(schema)}}
        content = self._create(timeout, messages=self._messages(system, user), response_format=response_format)
        try:
            data = json.loads(content)
        except ValueError:
            raise ProviderError("malformed reply (not JSON)") from None
        return _conforming(data, schema)

    def complete_text(self, system: str, user: str, *, timeout: float | None = None) -> str:
        return self._create(timeout, messages=self._messages(system, user))


class OpenAICompatibleProvider(OpenAIProvider):
    kind = "openai-compatible"

    def default_name(self) -> str:
        return f"{self.kind}:{self.model}@{self.base_url}"

    def _limit(self) -> dict:
        return {"max_tokens": settings.HUBCHAT_LLM_MAX_TOKENS}  # what older servers understand

    def complete_json(self, system: str, user: str, schema: dict, *, timeout: float | None = None) -> dict:
        # The schema is in the prompt too: many servers take response_format as a hint, or not at all.
        system = f"{system}\n\nAnswer with one JSON object, and nothing else, valid against this JSON schema:\n" \
                 f"{json.dumps(schema)}"
        messages = self._messages(system, user)
        deadline = time.monotonic() + self._timeout(timeout)
        response_format = {"type": "json_schema",
                           "json_schema": {"name": TOOL_NAME, "schema": schema, "strict": _strict_compatible(schema)}}
        try:
            content = self._create(timeout, deadline, messages=messages, response_format=response_format)
        except ProviderError as error:
            if error.status not in (400, 422):
                raise
            # A server that does not know response_format: once more without it, in the time left.
            content = self._create(max(deadline - time.monotonic(), 0.001), deadline, messages=messages)
        return _conforming(_json_in_text(content), schema)


class _UnreadableKey(Provider):
    """A user's key that no longer decrypts (the encryption key changed): fails, and says so."""

    def __init__(self, name: str):
        self.name = name

    def complete_json(self, system: str, user: str, schema: dict, *, timeout: float | None = None) -> dict:
        raise ProviderError("the stored key cannot be decrypted any more; add it again")

    def complete_text(self, system: str, user: str, *, timeout: float | None = None) -> str:
        raise ProviderError("the stored key cannot be decrypted any more; add it again")


PROVIDER_CLASSES: dict[str, type[_SDKProvider]] = {
    "anthropic": AnthropicProvider,
    "openai": OpenAIProvider,
    "openai-compatible": OpenAICompatibleProvider,
}


def provider_make(*, kind: str, model: str, api_key: str, base_url: str, name: str | None = None,
                  check_destination: bool = False) -> Provider:
    """A provider of `kind` ("anthropic", "openai", "openai-compatible")."""
    return PROVIDER_CLASSES[kind](model=model, api_key=api_key, base_url=base_url, name=name,
                                  check_destination=check_destination)


def providers_for(user) -> list[Provider]:
    """The providers to try for `user`, in order: their own keys first, then the platform's."""
    from cryptography.fernet import InvalidToken

    from accounts.models import ProviderKey

    providers: list[Provider] = []
    if user is not None and getattr(user, "is_authenticated", False):
        defaults = {
            "anthropic": (settings.ANTHROPIC_MODEL, settings.ANTHROPIC_BASE_URL),
            "openai": (settings.OPENAI_MODEL, settings.OPENAI_BASE_URL),
        }
        for key in ProviderKey.objects.filter(user=user).order_by("created_at", "id"):
            kind = key.provider.replace("_", "-")
            model, base_url = defaults.get(kind, ("", ""))
            model, base_url = key.model or model, key.base_url or base_url
            name = f"{kind}:{model}" + (f"@{base_url}" if kind == "openai-compatible" else "") + " (your key)"
            try:
                raw = key.key()
            except InvalidToken:
                providers.append(_UnreadableKey(name))
                continue
            providers.append(provider_make(kind=kind, model=model, api_key=raw, base_url=base_url, name=name,
                                           check_destination=kind == "openai-compatible"))
    for entry in settings.HUBCHAT_PROVIDERS:
        providers.append(provider_make(**entry))
    return providers


# --- Planning ---------------------------------------------------------------------------------------------

INPUT_SHAPES = {
    "translation": '{"text": "<the text>", "targetLanguage": "<ISO 639-1 code, e.g. es>"}',
    "summarization": '{"text": "<the text>"}',
    "search": '{"query": "<what to look for>"}',
}


def plan_prompt(skills: dict[str, str]) -> str:
    """The planner's instructions: the skills agents offer, the plan's rules, the inputs' shapes."""
    listed = "\n".join(f"- {skill}: {' '.join((description or '').split())[:300] or skill}"
                       for skill, description in sorted(skills.items()))
    shapes = "\n".join(f"  - {skill}: {shape}" for skill, shape in INPUT_SHAPES.items() if skill in skills)
    return f"""You are the planner of HubChat, the orchestrator of AgentHub, a marketplace of AI agents.
Split the user's request into subtasks. Each subtask is done by one agent that has one skill; you
do not do the work yourself.

The skills agents offer (use these names only):
{listed}

Rules:
- Use as few subtasks as the request needs, at most 8, each with a skill from the list.
- "instruction": what the subtask does, in one short sentence.
- "input": the agent's input, an object in the agent's shape:
{shapes}
  - any other skill: {{"text": "<the text>"}}
  Copy the user's text into the input word for word: never summarize, translate or shorten it yourself.
- "dependsOn": the positions (counted from 0) of earlier subtasks whose output this subtask works on.
  Such a subtask leaves out the field the output fills ("text", or "query" for search). To summarize
  a text and translate the summary into Spanish: subtask 0 summarization with input {{"text": "<the text>"}}
  and dependsOn [], subtask 1 translation with input {{"targetLanguage": "es"}} and dependsOn [0].
- Subtasks that do not need each other's output have no dependsOn between them: they run in parallel.
- A subtask may depend only on earlier subtasks.
- If no skill in the list can do any part of the request, answer with an empty list of subtasks."""


def _budget_deadline() -> float:
    return time.monotonic() + settings.HUBCHAT_LLM_BUDGET_SECONDS


def _call_timeout(deadline: float) -> float | None:
    """This call's timeout within what is left of the budget; None when too little is left."""
    left = deadline - time.monotonic()
    return min(settings.HUBCHAT_LLM_TIMEOUT_SECONDS, left) if left >= MIN_CALL_SECONDS else None


def plan_with_providers(query: str, *, skills: dict[str, str], providers: list[Provider],
                        fallback: Callable[[], Plan]) -> Plan:
    """Ask each provider in turn for a plan over `skills`; the first valid plan wins. A provider's
    error, timeout or invalid plan is noted and the next is asked; after them all, `fallback()`.
    The plan's `planner` names who planned it, its `notes` who failed and why."""
    notes: list[str] = []
    if providers and len(query) > settings.HUBCHAT_LLM_MAX_QUERY_CHARS:
        notes.append(f"The request is longer than {settings.HUBCHAT_LLM_MAX_QUERY_CHARS:,} characters: "
                     "it was planned without an LLM.")
        providers = []
    system = plan_prompt(skills) if providers else ""
    deadline = _budget_deadline()
    for position, provider in enumerate(providers):
        timeout = _call_timeout(deadline)
        if timeout is None:
            notes.extend(f"{skipped.name} skipped: the time for planning ran out" for skipped in providers[position:])
            break
        try:
            data = provider.complete_json(system, query, PLAN_SCHEMA, timeout=timeout)
            plan = plan_from_json(data, known_skills=skills, planner=provider.name)
        except ProviderError as error:
            notes.append(f"{provider.name} failed: {error.reason}")
        except InvalidPlan as error:
            notes.append(f"{provider.name} failed: an invalid plan ({error})")
        except Exception as error:  # a bug must not cost the user their plan: the next one plans
            logger.exception("planner %s crashed", provider.name)
            notes.append(f"{provider.name} failed: internal error ({type(error).__name__})")
        else:
            return dataclasses.replace(plan, notes=(*notes, *plan.notes))
        logger.warning("planning: %s", notes[-1])
    plan = fallback()
    if notes:
        notes.append(f"Planned by the {'built-in planner' if plan.planner == 'builtin' else plan.planner}.")
    return dataclasses.replace(plan, notes=(*notes, *plan.notes))


# --- Answering ---------------------------------------------------------------------------------------------

ANSWER_PROMPT = """You are HubChat, the assistant of AgentHub, a marketplace of AI agents. Agents ran the
steps of the user's request; write the reply to the user from the steps' results.
- Use only what the results say; add nothing of your own. If a step has no result, say that part failed.
- Give the final result first, complete (a translation or a summary in full), then a line per
  other step only if it adds something.
- Reply in the language of the request, in plain text, without a preamble. Do not mention prices:
  the costs are shown next to your reply."""


def _answer_prompt(query: str, steps: list[dict]) -> str:
    lines = [f"Request:\n{query[:settings.HUBCHAT_LLM_MAX_QUERY_CHARS]}", "", "Steps:"]
    for position, step in enumerate(steps, start=1):
        result = step.get("result")
        result = "(no result)" if result in (None, "") else str(result)
        if len(result) > MAX_RESULT_CHARS:
            result = result[:MAX_RESULT_CHARS] + " […]"
        lines.append(f"{position}. {step.get('skill', '')} by {step.get('agent', '')}:\n{result}\n")
    return "\n".join(lines)


def compose_answer(query: str, steps: list[dict], *, providers: list[Provider]) -> tuple[str, str] | None:
    """An LLM-written reply from the steps' results (each: skill, agent, result, cost) and the name
    of the provider that wrote it; None when there is no provider or every one failed."""
    if not providers:
        return None
    prompt = _answer_prompt(query, steps)
    deadline = _budget_deadline()
    for provider in providers:
        timeout = _call_timeout(deadline)
        if timeout is None:
            logger.warning("composing an answer: the time ran out before %s", provider.name)
            return None
        try:
            return provider.complete_text(ANSWER_PROMPT, prompt, timeout=timeout), provider.name
        except ProviderError as error:
            logger.warning("composing an answer: %s failed: %s", provider.name, error.reason)
        except Exception:  # a bug in one provider: the next one, or the template, answers
            logger.exception("composing an answer: %s crashed", provider.name)
    return None


# --- Reading replies ------------------------------------------------------------------------------------------


def _cause(error: BaseException) -> str:
    """The innermost cause of a connection error, briefly ("[Errno 111] Connection refused")."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__
    text = str(error) or type(error).__name__
    return text[:80]


def _error_type(body) -> str:
    """The error type named in an error reply: Anthropic's and OpenAI's shapes."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("type"), str):
            return inner["type"][:40]
    return ""


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def _json_in_text(text: str) -> dict:
    """The JSON object in a model's text: the whole text, a fenced block, or the first object in prose."""
    candidates = [text.strip(), *(match.strip() for match in _FENCE.findall(text))]
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    decoder = json.JSONDecoder()
    for attempt, match in enumerate(re.finditer(r"\{", text)):
        if attempt >= 20:
            break
        try:
            data, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    raise ProviderError("malformed reply (no JSON object)")


def _conforming(data, schema: dict) -> dict:
    """`data` when it is an object valid against `schema`; a ProviderError naming where it is not."""
    if not isinstance(data, dict):
        raise ProviderError("malformed reply (not a JSON object)")
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if error is not None:
        raise ProviderError(f"the reply does not follow the schema ({error.validator} at {error.json_path})")
    return data


def _strict_compatible(schema) -> bool:
    """Whether OpenAI's strict structured output accepts `schema`: every object closed
    (additionalProperties false) with every property required. PLAN_SCHEMA's free-form `input`
    is not, so plans are asked for with strict off and checked here instead."""
    if isinstance(schema, list):
        return all(_strict_compatible(item) for item in schema)
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object":
        properties = schema.get("properties")
        if (schema.get("additionalProperties") is not False or not isinstance(properties, dict)
                or set(schema.get("required", ())) != set(properties)):
            return False
    return all(_strict_compatible(value) for key, value in schema.items() if key not in ("required", "enum", "const"))
