"""Stripe at the HTTP boundary, for the billing tests.

- `signed_post`: deliver an event to our webhook the way Stripe does: the JSON body and a
  `Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256 of "t.body" with the endpoint secret>` header,
  computed by the official SDK's own `WebhookSignature`.
- Event objects shaped as Stripe sends them (`payment_intent`, `checkout.session`, `charge`,
  `refund`, `dispute`, `invoice`), for the payments we create.
- `localstripe_server`: the `localstripe` fake Stripe (a real HTTP server speaking Stripe's API)
  in a subprocess on a free loopback port; `localstripe` points the settings at it.
- `WireStripe`: a tiny local server for what localstripe lacks (Checkout Sessions): it reads the
  form-encoded request as Stripe does and answers Stripe's JSON objects.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe
from django.test import Client

from billing.models import StripePayment

WEBHOOK_URL = "/api/billing/stripe/webhook"
SECRET = "whsec_test_" + "k" * 32
API_KEY = "sk_test_localstripe_key"


# --- Events -------------------------------------------------------------------------------------------


def signature_header(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)


def signed_post(event: dict | str, *, secret: str = SECRET, timestamp: int | None = None, header: str | None = None,
                client: Client | None = None, path: str = WEBHOOK_URL):
    body = event if isinstance(event, str) else json.dumps(event)
    if header is None:
        header = signature_header(body, secret=secret, timestamp=timestamp)
    extra = {"HTTP_STRIPE_SIGNATURE": header} if header != "" else {}
    return (client or Client()).post(path, data=body, content_type="application/json", **extra)


def event(type_: str, obj: dict, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "api_version": "2026-10-28.endive",
        "created": int(time.time()), "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "type": type_, "data": {"object": obj},
    }


def pending_top_up(user, amount: str = "10", *, intent: str | None = "auto", session: str | None = None,
                   mode: str = "payment_intent") -> StripePayment:
    """A top-up as topup_create leaves it: pending, with the ids Stripe gave."""
    cents = int(Decimal(amount) * 100)
    return StripePayment.objects.create(
        user=user, type=StripePayment.Type.BALANCE_LOAD, amount=Decimal(amount), amount_cents=cents,
        currency="usd", vendor="stripe",
        stripe_payment_intent=f"pi_{uuid.uuid4().hex[:24]}" if intent == "auto" else intent,
        stripe_checkout_session=session,
    )


def _metadata(payment: StripePayment, mode: str = "payment_intent") -> dict:
    return {"stripe_payment": str(payment.pk), "user": str(payment.user_id), "purpose": "top_up", "mode": mode}


def payment_intent(payment: StripePayment, *, status: str = "succeeded", amount: int | None = None,
                   currency: str = "usd", intent: str | None = None, mode: str = "payment_intent") -> dict:
    amount = payment.amount_cents if amount is None else amount
    return {
        "id": intent or payment.stripe_payment_intent, "object": "payment_intent", "amount": amount,
        "amount_received": amount if status == "succeeded" else 0, "currency": currency, "status": status,
        "customer": "cus_test", "latest_charge": "ch_" + (intent or payment.stripe_payment_intent)[3:],
        "metadata": _metadata(payment, mode), "livemode": False, "client_secret": "pi_x_secret_y",
    }


def checkout_session(payment: StripePayment, *, intent: str | None = None, amount: int | None = None,
                     currency: str = "usd", mode: str = "payment", payment_status: str = "paid") -> dict:
    return {
        "id": payment.stripe_checkout_session, "object": "checkout.session", "mode": mode,
        "amount_total": payment.amount_cents if amount is None else amount, "currency": currency,
        "payment_intent": intent or payment.stripe_payment_intent, "payment_status": payment_status,
        "status": "complete", "customer": "cus_test", "client_reference_id": str(payment.pk),
        "metadata": _metadata(payment, "checkout"), "url": None, "livemode": False,
    }


def charge(payment: StripePayment, *, intent: str | None = None, amount: int | None = None,
           currency: str = "usd", refunds: list | None = None, refunded: bool = False) -> dict:
    intent = intent or payment.stripe_payment_intent
    amount = payment.amount_cents if amount is None else amount
    body = {
        "id": "ch_" + intent[3:], "object": "charge", "amount": amount, "currency": currency,
        "status": "succeeded", "paid": True, "captured": True, "payment_intent": intent,
        "amount_refunded": sum(r["amount"] for r in refunds or []), "refunded": refunded,
        "metadata": {}, "livemode": False,
    }
    if refunds is not None:
        body["refunds"] = {"object": "list", "data": refunds, "has_more": False}
    return body


def refund(payment: StripePayment, cents: int, *, refund_id: str | None = None, status: str = "succeeded") -> dict:
    intent = payment.stripe_payment_intent
    return {"id": refund_id or f"re_{uuid.uuid4().hex[:24]}", "object": "refund", "amount": cents,
            "currency": "usd", "charge": "ch_" + intent[3:], "payment_intent": intent, "status": status}


def dispute(payment: StripePayment, cents: int, *, dispute_id: str | None = None, status: str = "needs_response"):
    intent = payment.stripe_payment_intent
    return {"id": dispute_id or f"dp_{uuid.uuid4().hex[:24]}", "object": "dispute", "amount": cents,
            "currency": "usd", "charge": "ch_" + intent[3:], "payment_intent": intent, "status": status,
            "reason": "fraudulent"}


def invoice(subscription_id: str, cents: int, *, invoice_id: str | None = None, currency: str = "usd",
            metadata: dict | None = None, status: str = "paid") -> dict:
    """A subscription's invoice as recent API versions send it: the subscription under `parent`."""
    return {
        "id": invoice_id or f"in_{uuid.uuid4().hex[:24]}", "object": "invoice", "amount_due": cents,
        "amount_paid": cents if status == "paid" else 0, "currency": currency, "status": status,
        "customer": "cus_test", "billing_reason": "subscription_cycle",
        "parent": {"type": "subscription_details",
                   "subscription_details": {"subscription": subscription_id, "metadata": metadata or {}}},
    }


# --- localstripe ---------------------------------------------------------------------------------------

# localstripe's own entry point listens on every interface and keeps its state in
# /tmp/localstripe.pickle; this one listens on loopback only and keeps its state in memory.
_LOCALSTRIPE = """
import sys
from aiohttp import web
from localstripe import resources
from localstripe.server import app
resources.Store.dump_to_disk = lambda self: None
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_listening(port: int, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"localstripe exited: {process.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("localstripe did not start listening in time")


@pytest.fixture(scope="session", name="localstripe_server")
def localstripe_server_fixture():
    """The localstripe package, a real HTTP fake of Stripe's API, as a subprocess: its base URL."""
    try:
        import localstripe  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("localstripe (requirements-dev.txt) is required under CI=true")
        pytest.skip("needs localstripe (pip install -r requirements-dev.txt)")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", _LOCALSTRIPE, str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        _wait_listening(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def localstripe_call(base: str, method: str, path: str, data: dict | None = None) -> bytes:
    """localstripe's own test endpoints (/_config/..., /v1/payment_intents/{id}/_authenticate)."""
    body = urllib.parse.urlencode(data or {}).encode() if data is not None else None
    request = urllib.request.Request(base + path, data=body, method=method,
                                     headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read()


@pytest.fixture(name="localstripe")
def localstripe_fixture(settings, localstripe_server):
    """Settings pointed at localstripe, its store emptied, its webhooks sent nowhere until a test says."""
    settings.STRIPE_SECRET_KEY = API_KEY
    settings.STRIPE_API_BASE = localstripe_server
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    localstripe_call(localstripe_server, "DELETE", "/_config/data")
    localstripe_webhook(localstripe_server, f"http://127.0.0.1:{free_port()}/nowhere")
    yield localstripe_server
    localstripe_webhook(localstripe_server, f"http://127.0.0.1:{free_port()}/nowhere")


def localstripe_webhook(base: str, url: str) -> None:
    """Have localstripe sign its events with SECRET and send them to `url`."""
    localstripe_call(base, "POST", "/_config/webhooks/agenthub", {"url": url, "secret": SECRET})


class EventSink:
    """Where localstripe sends its signed events: keeps each delivery (the raw body and its
    Stripe-Signature header, byte for byte) for the test to hand to our webhook.

    Relaying through the test's own thread keeps every database access in that thread: a live
    server on SQLite's in-memory test database would share one connection between threads.
    """

    def __init__(self):
        self.deliveries: list[dict] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sent = json.loads(body)
                with outer._lock:
                    outer.deliveries.append({"body": body, "signature": self.headers.get("Stripe-Signature"),
                                             "type": sent.get("type"), "object": sent["data"]["object"]})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/stripe-events"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def of_type(self, type_: str, about: str | None = None) -> list[dict]:
        """Deliveries of `type_`, about the object (or the subscription) with id `about`: an earlier
        test's late events are not."""
        with self._lock:
            return [delivery for delivery in self.deliveries if delivery["type"] == type_ and about in (
                None, delivery["object"].get("id"), delivery["object"].get("subscription"))]

    def wait_for(self, type_: str, about: str | None = None, timeout: float = 15.0) -> list[dict]:
        assert wait_for(lambda: self.of_type(type_, about), timeout), f"localstripe sent no {type_} event"
        return self.of_type(type_, about)

    def relay(self, deliveries: list[dict]) -> list:
        """Post each delivery to our webhook exactly as localstripe sent it."""
        return [Client().post(WEBHOOK_URL, data=delivery["body"], content_type="application/json",
                              HTTP_STRIPE_SIGNATURE=delivery["signature"]) for delivery in deliveries]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(name="localstripe_events")
def localstripe_events_fixture(localstripe):
    """localstripe's signed events, caught for the test to relay to our webhook."""
    with EventSink() as sink:
        localstripe_webhook(localstripe, sink.url)
        yield sink


def sdk(base: str) -> stripe.StripeClient:
    """The official SDK acting as the paying customer's side (Stripe.js would, in a browser)."""
    return stripe.StripeClient(API_KEY, base_addresses={"api": base}, max_network_retries=0)


def card(base: str, number: str) -> str:
    """A card PaymentMethod id, as Stripe.js would hand one to the page."""
    method = sdk(base).v1.payment_methods.create(
        {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    return method.id


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# --- A wire-format Stripe for Checkout Sessions ------------------------------------------------------------


class WireStripe:
    """A local HTTP server answering /v1/customers and /v1/checkout/sessions as Stripe does:
    form-encoded requests in, JSON objects (or Stripe's error body) out. Records every request."""

    def __init__(self):
        self.requests: list[dict] = []
        self.sessions: dict[str, dict] = {}
        self.fail_with: tuple[int, dict] | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: dict):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("Request-Id", f"req_{uuid.uuid4().hex[:14]}")
                self.end_headers()
                self.wfile.write(raw)

            def _record(self, form: dict):
                outer.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                       "form": form})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
                self._record(form)
                if outer.fail_with:
                    return self._answer(*outer.fail_with)
                if self.path == "/v1/customers":
                    return self._answer(200, {"id": f"cus_{uuid.uuid4().hex[:14]}", "object": "customer",
                                              "email": form.get("email"), "livemode": False,
                                              "metadata": {k[9:-1]: v for k, v in form.items()
                                                           if k.startswith("metadata[")}})
                if self.path == "/v1/checkout/sessions":
                    return self._answer(200, outer._session(form))
                return self._answer(404, {"error": {"type": "invalid_request_error",
                                                    "message": f"Unrecognized request URL (POST: {self.path})."}})

            def do_GET(self):
                self._record({})
                session_id = self.path.rsplit("/", 1)[-1]
                if self.path.startswith("/v1/checkout/sessions/") and session_id in outer.sessions:
                    return self._answer(200, outer.sessions[session_id])
                return self._answer(404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                                    "message": f"No such checkout.session: '{session_id}'"}})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _session(self, form: dict) -> dict:
        session_id = f"cs_test_{uuid.uuid4().hex}"
        metadata = {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}
        mode = form.get("mode")
        amount = int(form["line_items[0][price_data][unit_amount]"]) if mode == "payment" else 1000
        session = {
            "id": session_id, "object": "checkout.session", "mode": mode, "status": "open",
            "payment_status": "unpaid", "amount_subtotal": amount, "amount_total": amount,
            "currency": form.get("line_items[0][price_data][currency]", "usd"), "customer": form.get("customer"),
            "client_reference_id": form.get("client_reference_id"), "metadata": metadata,
            "payment_intent": None, "subscription": None, "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"), "livemode": False,
            "url": f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
        }
        self.sessions[session_id] = session
        return session

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(name="wire_stripe")
def wire_stripe_fixture(settings):
    with WireStripe() as server:
        settings.STRIPE_SECRET_KEY = "sk_test_wire_format"
        settings.STRIPE_API_BASE = server.url
        yield server
