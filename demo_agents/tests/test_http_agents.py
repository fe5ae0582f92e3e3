"""The demo HTTP agents, over real HTTP: one server on a free loopback port for the module."""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from demo_agents.http import SLUGS, Options, start_in_thread
from demo_agents.http.catalog import HTTP_AGENTS, agent_fields
from demo_agents.http.search import index
from demo_agents.http.summarizer import summarize
from demo_agents.http.translator import LANGUAGES, translate

ARTICLE = (
    "Solar power is now the cheapest source of new electricity in most countries. "
    "The weather in the valley was mild last spring. "
    "Falling prices for solar panels and batteries have made solar power attractive to utilities and households. "
    "My neighbour adopted a cat named Biscuit. "
    "Grid operators are learning to balance solar power with storage so that electricity is available after sunset. "
    "The local bakery sells excellent croissants on Sundays. "
    "Analysts expect solar power to supply a third of global electricity by 2040."
)
KEY_SENTENCES = [
    "Solar power is now the cheapest source of new electricity in most countries.",
    "Grid operators are learning to balance solar power with storage so that electricity is available after sunset.",
    "Analysts expect solar power to supply a third of global electricity by 2040.",
]


@pytest.fixture(scope="module")
def agents():
    server, base_url = start_in_thread(options=Options(busy_delay_ms=0))
    yield server, base_url
    server.stop()


class Client:
    """A keep-alive HTTP/1.1 client on one connection, like the platform's transport."""

    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)

    def request(self, method: str, path: str, body=None, *, raw: bytes | None = None, headers: dict | None = None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        self.connection.request(method, path, body=data, headers={"Content-Type": "application/json",
                                                                   **(headers or {})})
        response = self.connection.getresponse()
        payload = response.read()
        assert response.getheader("Content-Type") == "application/json"
        return response.status, response, json.loads(payload)

    def execute(self, slug: str, agent_input, *, config: dict | None = None, key: str | None = None, **extra):
        body = {"input": agent_input, "config": config or {}, "executionId": f"exec_{key or 'test'}", **extra}
        return self.request("POST", f"/{slug}/execute", body, headers={"Idempotency-Key": key} if key else None)

    def close(self):
        self.connection.close()


@pytest.fixture
def client(agents):
    c = Client(agents[1])
    yield c
    c.close()


# -- the server ---------------------------------------------------------------------------------


def test_the_index_lists_every_agent_with_its_endpoints(client, agents):
    status, _, body = client.request("GET", "/")
    assert status == 200
    assert [a["slug"] for a in body["agents"]] == list(SLUGS)
    negotiator = next(a for a in body["agents"] if a["slug"] == "mock-negotiator")
    assert negotiator["endpoint"] == f"{agents[1]}/mock-negotiator"
    assert set(negotiator["actions"]) == {"execute", "quote"}


def test_every_agent_answers_health_with_status_and_load(client):
    for slug in SLUGS:
        status, _, body = client.request("GET", f"/{slug}/health")
        assert status == 200, slug
        assert body["status"] == "ok" and body["agent"] == slug
        assert 0 <= body["load"] <= 1
        Decimal(body["price"])  # a decimal string
    assert client.request("GET", "/mock-busy/health")[2]["load"] >= 0.95
    assert client.request("GET", "/summarizer/health")[2]["load"] == 0


def test_health_load_follows_the_calls_in_flight(agents):
    server, base_url = agents
    slow = lambda n: Client(base_url).execute("echo", n, config={"delayMs": 700})  # noqa: E731
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(slow, n) for n in range(3)]
        probe = Client(base_url)
        deadline = time.monotonic() + 5
        while (health := probe.request("GET", "/echo/health")[2])["inFlight"] < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert health["inFlight"] == 3
        assert health["load"] == round(3 / health["capacity"], 4) > 0
        assert [f.result()[2]["result"] for f in futures] == [0, 1, 2]
    assert probe.request("GET", "/echo/health")[2]["load"] == 0


def test_malformed_requests_get_json_errors_and_the_server_keeps_serving(client, agents):
    cases = [
        (b"{not json", "invalid_json"),
        (b"", "invalid_json"),
        (b'{"input": NaN}', "invalid_json"),
        (b"\xff\xfe{}", "invalid_json"),
        (b"[1, 2]", "invalid_body"),
        (b'{"config": {}}', "invalid"),  # no input
        (b'{"input": "x", "config": [1]}', "invalid"),
        (b'{"input": "x", "executionId": 42}', "invalid"),
    ]
    for raw, code in cases:
        status, _, body = client.request("POST", "/echo/execute", raw=raw)
        assert (status, body["error"]["code"]) == (400, code), raw
    # the same keep-alive connection still works
    assert client.execute("echo", {"ok": True})[2]["result"] == {"ok": True}
    status, response, body = client.request("GET", "/echo/execute")
    assert (status, response.getheader("Allow"), body["error"]["code"]) == (405, "POST", "method_not_allowed")
    status, _, body = client.request("POST", "/nobody/execute", {"input": 1})
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, _, body = client.request("POST", "/echo/quote", {"input": 1})
    assert status == 404
    assert client.execute("echo", "still here")[2]["result"] == "still here"


def test_bodies_without_a_length_or_too_large_are_refused_and_the_connection_closed(agents):
    host, port = urlsplit(agents[1]).hostname, urlsplit(agents[1]).port
    for head in (
        b"POST /echo/execute HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /echo/execute HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
        b"GARBAGE\r\n\r\n",
    ):
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(head)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        status_line, _, rest = reply.partition(b"\r\n")
        assert status_line.split()[1] in (b"411", b"413", b"400"), reply
        assert b"Connection: close" in rest
        assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"]["code"]
    assert Client(agents[1]).request("GET", "/health")[0] == 200


def test_a_chunked_request_body_is_read(agents):
    host, port = urlsplit(agents[1]).hostname, urlsplit(agents[1]).port
    body = json.dumps({"input": {"chunked": True}}).encode()
    with socket.create_connection((host, port), timeout=5) as sock:
        head = b"POST /echo/execute HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        sock.sendall(head + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200")
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["result"] == {"chunked": True}


# -- idempotency --------------------------------------------------------------------------------


def test_the_same_idempotency_key_replays_the_answer_without_redoing_the_work(client, agents):
    server = agents[0]
    summarizer = server.agents["summarizer"]
    before = summarizer.served
    first = client.execute("summarizer", {"text": ARTICLE}, key="idem-1")
    again = client.execute("summarizer", {"text": ARTICLE}, key="idem-1")
    assert first[0] == again[0] == 200
    assert again[2] == first[2]
    assert again[1].getheader("Idempotent-Replayed") == "true"
    assert first[1].getheader("Idempotent-Replayed") is None
    assert summarizer.served == before + 1  # the work was done once
    # the same key with another body is refused; on another agent it is another key
    status, _, body = client.execute("summarizer", {"text": "Something else entirely."}, key="idem-1")
    assert (status, body["error"]["code"]) == (422, "idempotency_key_reused")
    assert client.execute("echo", "x", key="idem-1")[0] == 200


def test_a_retry_arriving_while_the_first_call_runs_waits_for_its_answer(agents):
    server, base_url = agents
    echo = server.agents["echo"]
    before = echo.served
    call = lambda _: Client(base_url).execute("echo", {"n": 1}, config={"delayMs": 400}, key="idem-concurrent")  # noqa: E731
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(call, range(2))
    assert first[0] == second[0] == 200
    assert first[2] == second[2]
    assert echo.served == before + 1


def test_failed_calls_are_not_stored_so_the_key_can_be_retried(client):
    status, _, _ = client.execute("summarizer", {"text": ARTICLE, "maxSentences": 0}, key="idem-bad")
    assert status == 400
    assert client.execute("summarizer", {"text": ARTICLE, "maxSentences": 0}, key="idem-bad")[0] == 400
    status, _, _ = client.execute("mock-busy", {"text": ARTICLE}, config={"busyRate": 1}, key="idem-busy")
    assert status == 503


# -- echo ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [{"message": "Hello World!"}, [1, "two", None], "plain", 12345678901234567890123,
                                   None, {"nested": {"ünïcødé": ["✓"]}}])
def test_echo_returns_its_input_unchanged_for_free(client, value):
    status, _, body = client.execute("echo", value)
    assert status == 200
    assert body["result"] == value
    assert body["cost"] == "0.0000"
    assert body["executionId"] == "exec_test"


# -- summarizer ---------------------------------------------------------------------------------


def test_the_summary_keeps_the_key_sentences_in_their_order(client):
    status, _, body = client.execute("summarizer", {"text": ARTICLE, "maxSentences": 3})
    assert status == 200
    assert body["cost"] == "0.0300"
    result = body["result"]
    assert result["keyPoints"] == KEY_SENTENCES
    assert result["summary"] == " ".join(KEY_SENTENCES)
    assert [s["index"] for s in result["sentences"]] == [0, 4, 6]
    assert result["sentenceCount"] == 7 and result["method"] == "textrank"
    assert result["keywords"][:3] == ["solar", "power", "electricity"]


def test_summary_length_options_and_plain_string_input(client):
    one = client.execute("summarizer", ARTICLE, config={"maxSentences": 1})[2]["result"]
    assert one["keyPoints"] == [KEY_SENTENCES[0]] or one["selectedCount"] == 1
    assert client.execute("summarizer", {"text": ARTICLE, "ratio": 0.3})[2]["result"]["selectedCount"] == 3
    short = client.execute("summarizer", {"text": ARTICLE, "maxWords": 20})[2]["result"]
    assert short["selectedCount"] == 1 and short["summaryWordCount"] <= 20
    # the input wins over the config (the hiring's default)
    assert client.execute("summarizer", {"text": ARTICLE, "maxSentences": 2},
                          config={"maxSentences": 1})[2]["result"]["selectedCount"] == 2
    # deterministic
    assert client.execute("summarizer", ARTICLE)[2] == client.execute("summarizer", ARTICLE)[2]


def test_the_summarizer_names_the_bad_field(client):
    for agent_input, field_name in [
        ({"text": ""}, "input.text"),
        ({}, "input.text"),
        (42, "input.text"),
        ({"text": ARTICLE, "maxSentences": 0}, "maxSentences"),
        ({"text": ARTICLE, "maxSentences": True}, "maxSentences"),
        ({"text": ARTICLE, "ratio": 0}, "ratio"),
        ({"text": ARTICLE, "ratio": "half"}, "ratio"),
    ]:
        status, _, body = client.execute("summarizer", agent_input)
        assert status == 400, agent_input
        assert field_name in body["error"]["fields"], body


# -- translator ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "source", "target", "expected"), [
    ("The red car is very fast.", "en", "es", "El coche rojo es muy rápido."),
    ("The red car is very fast.", "en", "fr", "La voiture rouge est très rapide."),
    ("The red car is very fast.", "en", "de", "Das rote Auto ist sehr schnell."),
    ("Good morning, my friend!", "en", "es", "¡Buenos días, mi amigo!"),
    ("I do not speak French.", "en", "fr", "Je ne parle pas français."),
    ("The woman reads a new book in the garden.", "en", "de", "Die Frau liest ein neues Buch im Garten."),
    ("Where is the station? I want to buy a ticket.", "en", "de",
     "Wo ist der Bahnhof? Ich will eine Fahrkarte kaufen."),
    ("The old man has a big black dog.", "en", "fr", "Le vieux homme a un grand chien noir."),
    ("Red cars are fast. Big houses are expensive.", "en", "es", "Coches rojos son rápidos. Casas grandes son caras."),
    ("Can you help me?", "en", "es", "¿Puedes tú ayudarme?"),
    ("La voiture rouge est très rapide.", "fr", "en", "The red car is very fast."),
    ("No hablo alemán.", "es", "en", "I do not speak German."),
    ("Die Frau liest ein neues Buch im Garten.", "de", "en", "The woman reads a new book in the garden."),
    ("El coche rojo es muy rápido.", "es", "fr", "La voiture rouge est très rapide."),
])
def test_known_sentences_translate(client, text, source, target, expected):
    status, _, body = client.execute("translator", {"text": text, "sourceLanguage": source, "targetLanguage": target})
    assert status == 200, body
    assert body["result"]["translation"] == expected
    assert body["result"]["unknownWords"] == []
    assert body["cost"] == "0.0200"


def test_the_translator_detects_the_language_and_lists_unknown_words(client):
    result = client.execute("translator", {"text": "Je ne parle pas allemand.", "target": "English"})[2]["result"]
    assert result["detectedLanguage"] == "fr" and result["translation"] == "I do not speak German."
    result = client.execute("translator", {"text": "The quokka eats an apple, QUICKLY!", "targetLanguage": "es"},
                            )[2]["result"]
    assert result["translation"] == "¡El quokka come una manzana, QUICKLY!"
    assert result["unknownWords"] == ["quokka", "QUICKLY"]
    assert 0 < result["coverage"] < 1
    pivot = client.execute("translator", {"text": "Das Haus ist schön.", "sourceLanguage": "de",
                                          "targetLanguage": "es"})[2]["result"]
    assert pivot["translation"] == "La casa es hermosa." and pivot["pivotLanguage"] == "en"


def test_the_translator_refuses_unknown_languages(client):
    for agent_input, field_name in [
        ({"text": "Hello"}, "input.targetLanguage"),
        ({"text": "Hello", "targetLanguage": "tlh"}, "input.targetLanguage"),
        ({"text": "Hello", "targetLanguage": "es", "sourceLanguage": 7}, "input.sourceLanguage"),
        ({"targetLanguage": "es"}, "input.text"),
        ({"text": "Hello", "targetLanguage": "es", "engine": "magic"}, "engine"),
    ]:
        status, _, body = client.execute("translator", agent_input)
        assert status == 400 and field_name in body["error"]["fields"], body


_WORDS = st.sampled_from("the red car IS very fast . , ! ? ¿ ¡ l'homme du Haus n't don't it's Paris 3.5 \n - "
                         "no hablo ne pas nicht Je le vois quokka".split(" "))


@hypothesis_settings(max_examples=150, deadline=None)
@given(words=st.lists(st.one_of(_WORDS, st.text(max_size=6)), max_size=30),
       source=st.sampled_from([None, *LANGUAGES]), target=st.sampled_from(list(LANGUAGES)))
def test_odd_text_never_breaks_the_engines(words, source, target):
    text = " ".join(words)
    result = translate(text, target=target, source=source)
    assert isinstance(result.translation, str) and 0 <= result.coverage <= 1
    if text.strip():
        assert summarize(text, max_sentences=2).selected or not text.strip()
    index().search(text, limit=3)


class _FakeLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat-completions endpoint, its real wire format."""

    answer: str | None = "Hola, mundo."
    seen: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, self.headers.get("Authorization"), body))
        if self.answer is None:
            self.send_response(500)
            self.end_headers()
            return
        reply = json.dumps({"id": "c1", "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": self.answer}, "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def test_a_configured_llm_translates_and_its_failure_falls_back_to_the_dictionary(client, monkeypatch):
    llm = ThreadingHTTPServer(("127.0.0.1", 0), _FakeLLM)
    threading.Thread(target=llm.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("TRANSLATOR_LLM_BASE_URL", f"http://127.0.0.1:{llm.server_address[1]}/v1")
        monkeypatch.setenv("TRANSLATOR_LLM_MODEL", "local-model")
        monkeypatch.setenv("TRANSLATOR_LLM_API_KEY", "sk-test")
        result = client.execute("translator", {"text": "Hello, world.", "targetLanguage": "es"})[2]["result"]
        assert (result["translation"], result["method"]) == ("Hola, mundo.", "llm")
        path, auth, body = _FakeLLM.seen[-1]
        assert (path, auth, body["model"]) == ("/v1/chat/completions", "Bearer sk-test", "local-model")
        dictionary = client.execute("translator", {"text": "Hello.", "targetLanguage": "es", "engine": "dictionary"})
        assert dictionary[2]["result"]["method"] == "dictionary"
        _FakeLLM.answer = None
        fallback = client.execute("translator", {"text": "Hello.", "targetLanguage": "es"})[2]["result"]
        assert (fallback["translation"], fallback["method"]) == ("Hola.", "dictionary")
        assert "LLM failed" in fallback["note"]
    finally:
        _FakeLLM.answer = "Hola, mundo."
        llm.shutdown()
        llm.server_close()


# -- search -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "first"), [
    ("how do bees pollinate crops", "honeybees"),
    ("volcano eruption lava", "volcanoes"),
    ("retry a payment without charging the card twice", "idempotency"),
    ("cheapest electricity from sunlight", "solar-power"),
    ("Gutenberg", "printing-press"),
    ("rank documents for a query", "bm25"),
])
def test_search_ranks_the_relevant_document_first(client, query, first):
    status, _, body = client.execute("search", {"query": query, "maxResults": 3})
    assert status == 200
    assert body["cost"] == "0.0100"
    results = body["result"]["results"]
    assert results[0]["id"] == first
    assert len(results) <= 3
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1))
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    top = results[0]
    assert top["url"].startswith("https://") and top["title"]
    assert any(word in top["snippet"].lower() for word in top["matchedTerms"])


def test_search_input_shapes_and_errors(client):
    assert client.execute("search", "honeybees")[2]["result"]["results"][0]["id"] == "honeybees"
    only_stopwords = client.execute("search", {"query": "the of and"})[2]["result"]
    assert only_stopwords["results"] == [] and "note" in only_stopwords
    by_topic = client.execute("search", {"query": "batteries", "topic": "energy"})[2]["result"]["results"]
    assert {r["id"] for r in by_topic} == {"solar-power", "electric-vehicles"}
    assert client.execute("search", {"query": "batteries", "topic": "history"})[2]["result"]["results"] == []
    for agent_input, field_name in [({"query": ""}, "input.query"), ({"query": "x", "maxResults": 0}, "maxResults"),
                                    ({"query": "x", "topic": "astrology"}, "input.topic")]:
        status, _, body = client.execute("search", agent_input)
        assert status == 400 and field_name in body["error"]["fields"]


# -- mock-busy ----------------------------------------------------------------------------------


def test_mock_busy_answers_503_with_retry_after(client):
    status, response, body = client.execute("mock-busy", {"text": ARTICLE}, config={"busyRate": 1}, key="busy-a")
    assert (status, body["error"]["code"]) == (503, "busy")
    assert response.getheader("Retry-After") == "1"
    status, _, body = client.execute("mock-busy", {"text": ARTICLE}, config={"busyRate": 0}, key="busy-b")
    assert status == 200
    assert body["result"]["keyPoints"]  # a real summary
    assert body["cost"] == "0.0200"


def test_mock_busy_is_busy_most_of_the_time_deterministically_and_a_retry_can_get_through(agents):
    def outcomes(base_url: str) -> list[int]:
        c = Client(base_url)
        return [c.execute("mock-busy", {"text": ARTICLE}, key=f"busy-seq-{n}")[0] for n in range(40)]

    first = outcomes(agents[1])
    other, other_url = start_in_thread(options=Options(busy_delay_ms=0))
    try:
        assert outcomes(other_url) == first  # the same keys, the same answers, on a fresh server
    finally:
        other.stop()
    assert set(first) == {200, 503}
    assert 0.5 <= first.count(503) / len(first) <= 0.9
    # a refused key is retried with the same key until it gets through
    c = Client(agents[1])
    refused = f"busy-seq-{first.index(503)}"
    statuses = [c.execute("mock-busy", {"text": ARTICLE}, key=refused)[0] for _ in range(30)]
    assert 200 in statuses


# -- mock-highprice -----------------------------------------------------------------------------


def test_mock_highprice_works_and_charges_a_high_price(client):
    status, _, body = client.execute("mock-highprice", {"text": ARTICLE, "maxSentences": 3})
    assert status == 200
    assert body["cost"] == "0.5000"
    assert body["result"]["keyPoints"] == KEY_SENTENCES
    translated = client.execute("mock-highprice", {"text": "Thank you very much!", "targetLanguage": "de"})[2]
    assert translated["result"]["translation"] == "Vielen Dank!"
    assert Decimal(translated["cost"]) > 10 * Decimal(client.request("GET", "/summarizer/health")[2]["price"])


# -- mock-negotiator ----------------------------------------------------------------------------


def quote(client: Client, **body):
    return client.request("POST", "/mock-negotiator/quote", body)


def test_the_negotiator_quotes_accepts_one_counter_within_the_reserve_and_runs_at_that_price(client):
    status, _, offer = quote(client, input={"text": "Good morning!", "targetLanguage": "fr"})
    assert status == 200
    assert (offer["status"], offer["price"], offer["round"], offer["final"]) == ("offer", "0.0500", 1, False)
    # the buyer's budget is 0.04: it counters once, within the budget
    status, _, deal = quote(client, quoteId=offer["quoteId"], offer="0.04")
    assert (deal["status"], deal["price"], deal["final"], deal["quoteId"]) == ("accepted", "0.0400", True,
                                                                               offer["quoteId"])
    # the deal is final
    status, _, body = quote(client, quoteId=offer["quoteId"], offer="0.039")
    assert (status, body["error"]["code"]) == (409, "negotiation_closed")
    # the run costs the agreed price, and a retry of the same run is fine
    run = client.execute("mock-negotiator", {"text": "Good morning!", "targetLanguage": "fr"},
                         config={"quoteId": offer["quoteId"]}, key="nego-run-1")
    assert run[0] == 200
    assert (run[2]["cost"], run[2]["result"]["translation"], run[2]["quoteId"]) == ("0.0400", "Bonjour!",
                                                                                   offer["quoteId"])
    assert client.execute("mock-negotiator", {"text": "Good morning!", "targetLanguage": "fr"},
                          config={"quoteId": offer["quoteId"]}, key="nego-run-1")[2] == run[2]
    # but the quote pays for one run only
    status, _, body = client.execute("mock-negotiator", {"text": "Good evening!", "targetLanguage": "fr"},
                                     quoteId=offer["quoteId"], key="nego-run-2")
    assert (status, body["error"]["code"]) == (409, "quote_used")


def test_the_negotiator_answers_a_low_bid_with_a_counter_offer_and_rejects_a_bid_below_its_reserve(client):
    status, _, counter = quote(client, offer="0.03")
    assert (counter["status"], counter["price"], counter["final"]) == ("counter", "0.0400", False)
    assert counter["offer"] == "0.0300" and counter["listPrice"] == "0.0500"
    status, _, final = quote(client, quoteId=counter["quoteId"], offer=0.03)
    assert (final["status"], final["price"], final["final"]) == ("rejected", "0.0400", True)  # the counter stands
    run = client.execute("mock-negotiator", {"text": ARTICLE}, quoteId=counter["quoteId"], key="nego-run-3")
    assert (run[2]["cost"], run[2]["result"]["selectedCount"]) == ("0.0400", 3)
    # a very low opening bid meets the reserve price; a generous one pays no more than the list price
    assert quote(client, offer="0.001")[2]["price"] == "0.0350"
    generous = quote(client, offer="1")[2]
    assert (generous["status"], generous["price"], generous["final"]) == ("accepted", "0.0500", True)


def test_the_negotiator_runs_at_list_price_without_a_quote_and_refuses_bad_quotes(client):
    assert client.execute("mock-negotiator", {"text": ARTICLE})[2]["cost"] == "0.0500"
    status, _, body = client.execute("mock-negotiator", {"text": ARTICLE}, quoteId="q_nope")
    assert (status, body["error"]["code"]) == (409, "unknown_quote")
    status, _, body = quote(client, quoteId="q_nope", offer="0.04")
    assert (status, body["error"]["code"]) == (404, "unknown_quote")
    for bad in ("cheap", -1, True, "NaN", [1]):
        status, _, body = quote(client, offer=bad)
        assert status == 400 and "offer" in body["error"]["fields"], bad
    status, _, body = quote(client, quoteId=quote(client)[2]["quoteId"])
    assert (status, body["error"]["fields"]) == (400, {"offer": "A counter-offer needs an offer."})
    # a run that fails on bad input gives its quote back
    q = quote(client)[2]["quoteId"]
    assert client.execute("mock-negotiator", {"text": ""}, quoteId=q, key="nego-bad")[0] == 400
    assert client.execute("mock-negotiator", {"text": ARTICLE}, quoteId=q, key="nego-good")[0] == 200


def test_quotes_expire(agents):
    server, base_url = start_in_thread(options=Options(quote_ttl=0.2))
    try:
        c = Client(base_url)
        q = quote(c)[2]["quoteId"]
        time.sleep(0.3)
        status, _, body = c.execute("mock-negotiator", {"text": ARTICLE}, quoteId=q)
        assert (status, body["error"]["code"]) == (409, "quote_expired")
    finally:
        server.stop()


# -- starting and stopping ----------------------------------------------------------------------


def test_stop_closes_idle_keep_alive_connections_promptly():
    server, base_url = start_in_thread()
    c = Client(base_url)
    assert c.request("GET", "/health")[0] == 200  # the connection stays open, idle
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    assert not server.thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", urlsplit(base_url).port), timeout=1).close()


def test_python_m_demo_agents_serves_and_stops_on_sigterm():
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen([sys.executable, "-m", "demo_agents", "--port", "0"], cwd=root,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONPATH": str(root)})
    try:
        first = process.stdout.readline()
        assert first.startswith("AgentHub demo agents at http://127.0.0.1:")
        base_url = first.split(" at ")[1].strip()
        assert Client(base_url).execute("echo", "hi")[2]["result"] == "hi"
        process.terminate()
        out, _ = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "demo agents stopped" in out
    finally:
        if process.poll() is None:
            process.kill()


def test_run_demo_agents_takes_its_default_address_from_the_settings(settings):
    from orchestration.management.commands.run_demo_agents import _default_address

    settings.DEMO_AGENTS_URL = "http://127.0.0.1:8799"
    assert _default_address() == ("127.0.0.1", 8799)
    settings.DEMO_AGENTS_URL = ""
    assert _default_address() == ("127.0.0.1", 8700)


# -- the catalog --------------------------------------------------------------------------------


def test_the_catalog_describes_every_served_agent_with_model_fields():
    from jsonschema import Draft202012Validator

    from marketplace.models import Agent

    model_fields = {f.name for f in Agent._meta.get_fields()}
    assert sorted(entry["path"] for entry in HTTP_AGENTS) == sorted(SLUGS)
    for entry in HTTP_AGENTS:
        fields = agent_fields(entry, "http://127.0.0.1:8700")
        assert set(fields) <= model_fields, set(fields) - model_fields
        assert fields["endpoint_url"] == f"http://127.0.0.1:8700/{entry['path']}"
        assert fields["price_per_use"] == Decimal(entry["base_price"])
        Draft202012Validator.check_schema(entry["config_schema"])
        assert entry["example_inputs"]
    assert len({entry["slug"] for entry in HTTP_AGENTS}) == len(HTTP_AGENTS)
