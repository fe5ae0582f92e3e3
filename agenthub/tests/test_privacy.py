"""Privacy of what users own, over every route: another user gets 404 and changes nothing.

The test walks the URL configuration. Every route that takes an argument (an id, a uuid, a pk,
a slug, a username...) must have an entry in INVENTORY, so a new route without a privacy check
fails the suite:

- `Owned(make=..., kwargs=...)`: `make(owner)` creates an object owned by `owner`; `kwargs(obj)`
  are its URL arguments. Another signed-in user gets 404 on every method the route answers (and
  an anonymous caller never a 2xx), the owner's row is unchanged, and, as a control that the URL
  really points at the object, the owner does not get 404.
- `Public(reason)`: the route is meant for everyone (a public profile by username, ...).

Routes under /api/ are listed once by their name without the namespace and checked in both
dialects (/api/ and /api/v1/); page routes by "namespace:name". List routes of views that scope
their queryset with OwnedQuerysetMixin must be in LISTS: listed, filtered or searched by another
user, the owner's object never shows. Adding a route is usually three lines here, e.g.::

    "hiring-detail": Owned(make=lambda owner: hiring_make(user=owner)),               # kwargs: {"pk": obj.pk}
    "orchestration:execution_detail": Owned(make=execution, methods=("get",)),        # a page: say its methods
"""

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts import services as accounts_services
from agenthub.api.ownership import OwnedQuerysetMixin

pytestmark = pytest.mark.django_db

API_NAMESPACES = ("api", "api-v1")
# Namespaces checked by other means, with the reason.
EXCLUDED_NAMESPACES = {
    "admin": "The Django admin: staff only, behind Django's own login and model permissions.",
}


@dataclass(frozen=True)
class Owned:
    make: Callable
    kwargs: Callable = lambda obj: {"pk": obj.pk}
    methods: tuple[str, ...] | None = None  # None: every method the route's view answers (DRF views only)
    body: Callable = lambda: {"reason": "privacy check", "name": "privacy check"}
    format: str = "json"


@dataclass(frozen=True)
class Public:
    reason: str


@dataclass(frozen=True)
class Listed:
    make: Callable
    params: Callable = field(default=lambda obj, owner: {})  # extra filters to try


# --- Objects one user owns --------------------------------------------------------------------------


def draft_agent(owner):
    from marketplace.tests.factories import agent_make

    return agent_make(created_by=owner, name="Owner's private draft")


def api_key(owner):
    return accounts_services.api_key_create(user=owner, name="owner's key", scopes=["read"])[0]


def token_session(owner):
    return accounts_services.api_session_start(user=owner, ip="198.51.100.1", user_agent="privacy test")[0]


def provider_key(owner):
    from accounts.services import provider_key_create

    return provider_key_create(user=owner, provider="anthropic", label="owner's key",
                               api_key="sk-ant-owner-secret-0001")


def agent_id(agent):
    return {"id": agent.slug}


def agent_slug(agent):
    return {"slug": agent.slug}


def a_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", "class Agent:\n    pass\n")
    return {"file": SimpleUploadedFile("agent.zip", buffer.getvalue(), content_type="application/zip")}


def hiring(owner):
    from marketplace.models import Hiring
    from marketplace.tests.factories import listed

    agent = listed(created_by=owner, name="A live agent", config_schema={"type": "object"})
    return Hiring.objects.create(agent=agent, user=owner, config={"secret": "owner's config"})


def task(owner):
    from orchestration.models import Message, Task, TaskStep

    made = Task.objects.create(user=owner, user_query="owner's secret request", max_budget=Decimal("1"),
                               status="awaiting_confirmation")
    TaskStep.objects.create(task=made, position=0, subtask_type="summarization", input={"text": "secret"})
    Message.objects.create(user=owner, role="user", content="owner's secret request", task=made)
    return made


def quoted_task(owner):
    made = task(owner)
    type(made).objects.filter(pk=made.pk).update(quote_total=Decimal("0.5"))
    return made


def execution(owner):
    from marketplace.tests.factories import listed
    from orchestration.models import Execution

    agent = listed(created_by=owner, name="A live agent")
    return Execution.objects.create(agent=agent, user=owner, status="pending", input={"secret": "owner's input"})


def execute_body():
    return {"input": {"text": "privacy check"}}


def stripe_payment(owner):
    from billing.models import StripePayment

    return StripePayment.objects.create(user=owner, type="balance_load", amount="10", amount_cents=1000,
                                        stripe_payment_intent=f"pi_privacy_{owner.pk.hex}")


def credit_plan_subscription(owner):
    from billing.models import CreditPlan, CreditPlanSubscription

    plan = CreditPlan.objects.create(name="Privacy plan", price_cents=1000, credits="12", stripe_price_id="price_p")
    return CreditPlanSubscription.objects.create(user=owner, plan=plan, stripe_subscription_id="sub_privacy",
                                                 status="active")


def wallet_entry(owner):
    from billing.services import wallet_credit

    return wallet_credit(user=owner, amount=Decimal("5"), reference=f"privacy:{owner.pk}")[0].entries.get(
        account__user=owner)


def paid_entry(owner):
    from billing.models import EntryKind
    from billing.services import _post as post
    from billing.services import account_for, system_account, wallet_credit

    wallet_credit(user=owner, amount=Decimal("5"), reference=f"privacy:{owner.pk}")
    wallet = account_for(user=owner)
    posted = post(kind=EntryKind.AGENT_PAYMENT, reference=f"privacy-pay:{owner.pk}", entries=[
        (wallet, EntryKind.AGENT_PAYMENT, Decimal("-1")),
        (system_account("platform"), EntryKind.AGENT_PAYMENT, Decimal("1")),
    ])
    return posted.entries.get(account=wallet)


def cap_notice(owner):
    from billing.models import CapNotice
    from billing.services import account_for

    return CapNotice.objects.create(account=account_for(user=owner), day="2026-11-22", percent=85, message="85 %")


PUBLIC_PROFILE = "Public profiles are public by design: a username, public agents and follow counts; never the email."

INVENTORY: dict[str, Owned | Public] = {
    # accounts
    "api-key-detail": Owned(make=api_key, kwargs=lambda key: {"id": key.pk}),
    "login-session-detail": Owned(make=token_session, kwargs=lambda session: {"id": session.pk}),
    "provider-key-detail": Owned(make=provider_key, kwargs=lambda key: {"id": key.pk}),
    "user-profile": Public(PUBLIC_PROFILE),
    "user-followers": Public(PUBLIC_PROFILE),
    "user-following": Public(PUBLIC_PROFILE),
    "user-follow": Public("Acts only on the caller's own follow row; the username named is public."),
    "accounts:api_key_revoke": Owned(make=api_key, kwargs=lambda key: {"key_id": key.pk}, methods=("post",)),
    "accounts:api_key_cap": Owned(make=api_key, kwargs=lambda key: {"key_id": key.pk}, methods=("post",)),
    "accounts:provider_key_delete": Owned(make=provider_key, kwargs=lambda key: {"key_id": key.pk},
                                          methods=("post",)),
    "accounts:session_end": Owned(make=token_session, kwargs=lambda s: {"session_id": s.pk}, methods=("post",)),
    "accounts:verify_email": Public("The token in the URL is the credential; a wrong one is refused."),
    "accounts:password_reset_confirm": Public("The uid and token in the URL are the credential (Django's reset)."),
    # marketplace: a draft is its creator's alone (listed agents are public by design)
    "agent-detail": Owned(make=draft_agent, kwargs=agent_id),
    "agent-submit": Owned(make=draft_agent, kwargs=agent_id),
    "agent-approve": Owned(make=draft_agent, kwargs=agent_id),
    "agent-reject": Owned(make=draft_agent, kwargs=agent_id),
    "agent-activate": Owned(make=draft_agent, kwargs=agent_id),
    "agent-deactivate": Owned(make=draft_agent, kwargs=agent_id),
    "agent-view": Owned(make=draft_agent, kwargs=agent_id),
    "agent-package": Owned(make=draft_agent, kwargs=agent_id, body=a_zip, format="multipart"),
    "marketplace:agent_detail": Owned(make=draft_agent, kwargs=agent_slug, methods=("get",)),
    "marketplace:agent_edit": Owned(make=draft_agent, kwargs=agent_slug, methods=("get", "post")),
    "marketplace:agent_submit": Owned(make=draft_agent, kwargs=agent_slug, methods=("post",)),
    "marketplace:agent_set_live": Owned(make=draft_agent, kwargs=agent_slug, methods=("post",)),
    # orchestration: runs and hirings are their user's; a draft agent cannot be hired or run by others
    "agent-execute": Owned(make=draft_agent, kwargs=agent_id, body=execute_body),
    "hiring-detail": Owned(make=hiring),
    "hiring-cancel": Owned(make=hiring),
    "execution-detail": Owned(make=execution),
    "task-detail": Owned(make=task),
    "task-steps": Owned(make=task),
    "task-confirm": Owned(make=task),
    "execution-cancel": Owned(make=execution),
    "execution-refund": Owned(make=execution),
    "cap-notice-read": Owned(make=cap_notice),
    "orchestration:hire": Owned(make=draft_agent, kwargs=agent_slug, methods=("get", "post")),
    "orchestration:run": Owned(make=draft_agent, kwargs=agent_slug, methods=("get", "post")),
    "orchestration:hiring_cancel": Owned(make=hiring, methods=("post",)),
    "orchestration:execution_detail": Owned(make=execution, methods=("get",)),
    "orchestration:execution_panel": Owned(make=execution, methods=("get",)),
    "orchestration:execution_cancel": Owned(make=execution, methods=("post",)),
    # HubChat and tasks pages, and a task's event stream: the owner's alone
    "task-events": Owned(make=task),
    "hubchat:turn": Owned(make=task, methods=("get",)),
    "hubchat:task_detail": Owned(make=task, methods=("get",)),
    "hubchat:task_panel": Owned(make=task, methods=("get",)),
    "hubchat:task_confirm": Owned(make=quoted_task, methods=("post",)),
    "hubchat:task_cancel": Owned(make=task, methods=("post",)),
    # billing (Stripe): credit plans are the public price list; subscriptions are their user's
    "credit-plan-detail": Public("Credit plans are the public price list."),
    "credit-plan-subscribe": Public("Subscribes the caller only; the plan named is public."),
    "credit-plan-subscription-detail": Owned(make=credit_plan_subscription),
    "credit-plan-subscription-cancel": Owned(make=credit_plan_subscription),
    "billing:plan_subscribe": Public("Subscribes the caller only; the plan named is public."),
    "billing:plan_cancel": Owned(make=credit_plan_subscription, methods=("post",)),
    "billing:notice_dismiss": Owned(make=cap_notice, methods=("post",)),
}

# List routes over owned rows: (route name) -> how to make one. Searched by its owner's name and id.
LISTS: dict[str, Listed] = {
    "api-key-list": Listed(make=api_key, params=lambda key, owner: {"search": key.name, "name": key.name}),
    "login-session-list": Listed(make=token_session),
    "provider-key-list": Listed(make=provider_key, params=lambda key, owner: {"provider": "anthropic"}),
    "agent-list": Listed(make=draft_agent, params=lambda agent, owner: {"status": "draft", "search": agent.name}),
    "hiring-list": Listed(make=hiring, params=lambda hiring, owner: {"agent": hiring.agent.slug}),
    "execution-list": Listed(make=execution, params=lambda run, owner: {"agent": run.agent.slug, "status": "pending"}),
    "task-list": Listed(make=task, params=lambda made, owner: {"status": "awaiting_confirmation", "q": "secret"}),
    "messages": Listed(make=task, params=lambda made, owner: {"task": str(made.pk)}),
    "stripe-payment-list": Listed(make=stripe_payment, params=lambda payment, owner: {"type": "balance_load"}),
    "wallet-entry-list": Listed(make=wallet_entry, params=lambda entry, owner: {"kind": "top_up"}),
    "bazaarbucks-payment-list": Listed(make=paid_entry),
    "cap-notice-list": Listed(make=cap_notice),
    "credit-plan-subscription-list": Listed(make=credit_plan_subscription,
                                            params=lambda subscription, owner: {"status": "active"}),
}


# --- The URL configuration ----------------------------------------------------------------------------


def _routes(patterns, namespaces=()):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, namespaces + ((pattern.namespace,) if pattern.namespace else ()))
        elif isinstance(pattern, URLPattern):
            yield namespaces, pattern


def routes_with_arguments() -> dict[str, set[str]]:
    """{inventory key: {full route names}} for every route that takes an argument."""
    found: dict[str, set[str]] = {}
    for namespaces, pattern in _routes(get_resolver().url_patterns):
        if not (set(pattern.pattern.regex.groupindex) - {"format"}):
            continue
        if namespaces and namespaces[0] in EXCLUDED_NAMESPACES:
            continue
        name = pattern.name or f"<unnamed: {pattern.pattern}>"
        key = name if namespaces and namespaces[0] in API_NAMESPACES else ":".join((*namespaces, name))
        found.setdefault(key, set()).add(":".join((*namespaces, name)))
    return found


def owned_list_routes() -> set[str]:
    """List routes (under /api/) of views whose queryset is scoped with OwnedQuerysetMixin."""
    names = set()
    for namespaces, pattern in _routes(get_resolver().url_patterns):
        view_class = getattr(pattern.callback, "cls", None)
        actions = getattr(pattern.callback, "actions", None) or {}
        if (namespaces[:1] == ("api",) and view_class and issubclass(view_class, OwnedQuerysetMixin)
                and "list" in actions.values()):
            names.add(pattern.name)
    return names


ROUTES = routes_with_arguments()
CASES = [(key, full) for key, fulls in sorted(ROUTES.items()) if isinstance(INVENTORY.get(key), Owned)
         for full in sorted(fulls)]


def test_every_route_with_an_argument_is_in_the_inventory():
    missing = sorted(key for key in ROUTES if key not in INVENTORY)
    stale = sorted(key for key in INVENTORY if key not in ROUTES)

    assert not missing, f"Routes without a privacy entry in {__name__}.INVENTORY: {missing}"
    assert not stale, f"Inventory entries for routes that no longer exist: {stale}"


def test_every_owned_list_is_checked():
    missing = sorted(owned_list_routes() - set(LISTS))

    assert not missing, f"Lists of owned rows without an entry in {__name__}.LISTS: {missing}"


# --- The checks -----------------------------------------------------------------------------------------


def _client(route: str, user):
    if route.split(":")[0] in API_NAMESPACES:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _methods(route: str, url: str, entry: Owned) -> list[str]:
    if entry.methods is not None:
        return list(entry.methods)
    from django.urls import resolve

    callback = resolve(url).func
    actions = getattr(callback, "actions", None)  # a viewset's {method: action} (DRF adds "head" to it)
    if actions:
        methods = list(actions)
    else:
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        assert view_class is not None, f"{route}: a function view; list its methods in the inventory entry"
        methods = [method for method in view_class.http_method_names if hasattr(view_class, method)]
    return [method for method in methods if method not in ("head", "options")]


def _send(client, method: str, url: str, entry: Owned):
    if method in ("get", "delete"):
        return getattr(client, method)(url)
    if isinstance(client, APIClient):
        return getattr(client, method)(url, entry.body(), format=entry.format)
    return getattr(client, method)(url, entry.body())


def _row(obj) -> dict | None:
    return type(obj)._default_manager.filter(pk=obj.pk).values().first()


@pytest.mark.parametrize(("key", "route"), CASES, ids=[route for _, route in CASES])
def test_another_user_gets_404_and_changes_nothing(key, route, alice, bob):
    entry = INVENTORY[key]
    obj = entry.make(alice)
    url = reverse(route, kwargs=entry.kwargs(obj))
    before = _row(obj)

    for method in _methods(route, url, entry):
        stranger = _send(_client(route, bob), method, url, entry)
        anonymous = _send(_client(route, None), method, url, entry)

        assert stranger.status_code == 404, f"{method.upper()} {url} as another user: {stranger.status_code}"
        if route.split(":")[0] in API_NAMESPACES:
            assert stranger.json()["error"]["code"] == "not_found"
        assert not 200 <= anonymous.status_code < 300, f"{method.upper()} {url} anonymously"
        assert _row(obj) == before, f"{method.upper()} {url} by someone else changed the owner's row"

    # The control: the URL does point at the owner's object.
    probe = _send(_client(route, alice), _methods(route, url, entry)[0], url, entry)
    assert probe.status_code != 404, f"{url} is a 404 for its owner too: the entry's kwargs are wrong"


@pytest.mark.parametrize("namespace", API_NAMESPACES)
@pytest.mark.parametrize("name", sorted(LISTS))
def test_lists_and_filters_never_show_another_users_rows(name, namespace, alice, bob):
    entry = LISTS[name]
    obj = entry.make(alice)
    url = reverse(f"{namespace}:{name}")
    owner_filters = {"user": alice.pk, "user_id": alice.pk, "owner": alice.username, "username": alice.username,
                     "created_by": alice.username, "q": alice.username, **entry.params(obj, alice)}
    marker = str(obj.pk)

    mine = _client(namespace, alice).get(url)
    theirs = [_client(namespace, bob).get(url), _client(namespace, bob).get(url, owner_filters)]

    assert mine.status_code == 200 and (marker in mine.content.decode() or
                                        getattr(obj, "slug", marker) in mine.content.decode())
    for response in theirs:
        assert response.status_code in (200, 400)
        body = response.content.decode()
        assert marker not in body and getattr(obj, "slug", marker) not in body
