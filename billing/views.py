"""The wallet pages: balance and top-ups, spend caps, credit plans, payments, statements, earnings.

Thin: every read goes through a selector scoped to the signed-in user (`billing.statements`,
`billing.stripe_services`), every write through a service (`wallet_caps_set`, `topup_create`,
`topup_simulate`, `credit_plan_subscribe`, `credit_plan_cancel`, `cap_notice_read`). Someone else's
subscription or notice is a 404. The wallet is credited by Stripe's webhook, never by the browser
coming back from Checkout.
"""

from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from agenthub.api.ownership import owned_by
from agenthub.errors import DomainError
from agenthub.formatting import money
from billing import services as ledger
from billing import statements as selectors
from billing import stripe_gateway, stripe_services
from billing.api.statements import csv_filename, statement_csv
from billing.api.wallet import CAP_NOTICE_ORDER, PAYMENT_KINDS
from billing.forms import CapsForm, MonthForm, TopUpForm
from billing.models import Account, CapNotice, LedgerEntry, StripePayment
from billing.stripe_services import SUBSCRIPTION_LIVE

PAGE_SIZE = 25
RECENT_ENTRIES = 15
CHART_DAYS = 30
EARNINGS_MONTHS = 12
MAX_NOTICES_SHOWN = 5  # at most a few days' worth; the API lists them all


# --- Presentation ---------------------------------------------------------------------------------


def bb(amount: Decimal | None, *, signed: bool = False) -> str:
    """Decimal("-0.27") → "−0.27 BB" (signed) or "0.27 BB"; two decimals unless the amount needs more."""
    if amount is None:
        return "—"
    text = money(abs(amount))
    if signed and amount:
        text = ("+" if amount > 0 else "−") + text
    elif amount < 0:
        text = "−" + text
    return f"{text} BB"


def present_entry(entry: LedgerEntry) -> LedgerEntry:
    tx = entry.transaction
    entry.label = selectors.KIND_LABELS.get(entry.kind, entry.kind)
    entry.description = tx.memo or (tx.agent.name if tx.agent else entry.label)
    entry.amount_text = bb(entry.amount, signed=True)
    entry.direction = "credit" if entry.amount > 0 else "debit"
    entry.execution_code = tx.execution.execution_id if tx.execution_id else None
    if hasattr(entry, "balance_after"):
        entry.balance_text = bb(entry.balance_after)
    return entry


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _return_notice(request) -> tuple[str, str] | None:
    """What to say when Stripe Checkout sends the browser back (nothing is credited by this)."""
    top_up, plan = request.GET.get("topUp"), request.GET.get("plan")
    if top_up:
        if top_up == "cancel" or request.GET.get("cancelled"):
            return "warning", "Top-up cancelled: nothing was charged."
        return "success", ("Thank you: Stripe has your payment. Your balance updates as soon as Stripe confirms it, "
                           "usually within a few seconds; reload this page to see it.")
    if plan == "subscribed":
        return "success", "Subscribed. The plan's BazaarBucks are loaded each time Stripe confirms its monthly payment."
    if plan in ("cancel", "cancelled"):
        return "warning", "Subscription not started: nothing was charged."
    return None


# --- The wallet -------------------------------------------------------------------------------------


def _caps_initial(wallet: Account) -> dict:
    return {"per_run": wallet.per_run_cap, "daily": wallet.daily_cap,
            "auto_approve_threshold": wallet.auto_approve_threshold}


def _wallet_page(request, *, top_up_form: TopUpForm | None = None, caps_form: CapsForm | None = None,
                 status: int = 200):
    user = request.user
    summary = ledger.wallet_summary(user=user)
    wallet = ledger.account_for(user=user)
    spending = selectors.spending_by_day(user=user, days=CHART_DAYS)
    subscriptions = list(stripe_services.credit_plan_subscription_list(user=user).filter(status__in=SUBSCRIPTION_LIVE))
    subscribed = {s.plan_id for s in subscriptions}
    plans = list(stripe_services.credit_plan_list())
    for plan in plans:
        plan.price_text = bb(Decimal(plan.price_cents) / 100).replace(" BB", " USD")
        plan.credits_text = bb(plan.credits)
        plan.subscribed = plan.pk in subscribed
    daily_cap = summary["caps"]["daily"]
    return render(request, "billing/wallet.html", {
        "summary": summary,
        "texts": {key: bb(summary[key]) for key in ("balance", "held", "available", "debt", "spent_today")},
        "daily_cap_text": bb(daily_cap) if daily_cap is not None else None,
        "daily_percent": min(round(summary["spent_today"] / daily_cap * 100), 100) if daily_cap else None,
        "top_up_form": top_up_form or TopUpForm(),
        "caps_form": caps_form or CapsForm(initial=_caps_initial(wallet)),
        "stripe_ready": stripe_gateway.is_configured(),
        "simulation": stripe_services.simulation_available(),
        "notice": _return_notice(request),
        "cap_notices": list(_cap_notices(user=user).filter(read_at__isnull=True)[:MAX_NOTICES_SHOWN]),
        "plans": plans, "subscriptions": subscriptions,
        "entries": [present_entry(e) for e in selectors.entries_recent(user=user, limit=RECENT_ENTRIES)],
        # Today's bar also shows what runs in progress hold, as "Spent today" above counts it: without
        # it the bar stopped short of that figure whenever a run was in progress.
        "chart": {"labels": [day.strftime("%b %-d") for day, _ in spending],
                  "amounts": [str(amount) for _, amount in spending],
                  "held": ["0"] * (len(spending) - 1) + [str(summary["held"])]},
        "spent_30_days": bb(sum((amount for _, amount in spending), Decimal(0))),
    }, status=status)


@login_required
@require_GET
def wallet(request):
    return _wallet_page(request)


@login_required
@require_POST
def top_up(request):
    """Send the browser to Stripe Checkout; the webhook credits the wallet when Stripe confirms."""
    form = TopUpForm(request.POST)
    if not form.is_valid():
        return _wallet_page(request, top_up_form=form, status=400)
    page = reverse("billing:wallet")
    try:
        created = stripe_services.topup_create(
            user=request.user, amount=form.cleaned_data["amount"], mode=stripe_services.Mode.CHECKOUT,
            success_url=_absolute(f"{page}?topUp=success"), cancel_url=_absolute(f"{page}?topUp=cancel"),
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("billing:wallet")
    return redirect(created.checkout_url)


@login_required
@require_POST
def top_up_simulate(request):
    """Development only (DEBUG on, no Stripe key): credit the wallet through the ledger, labelled as such."""
    if not stripe_services.simulation_available():
        raise Http404("Simulated top-ups exist only in development.")
    form = TopUpForm(request.POST)
    if not form.is_valid():
        return _wallet_page(request, top_up_form=form, status=400)
    try:
        stripe_services.topup_simulate(user=request.user, amount=form.cleaned_data["amount"])
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Simulated top-up of {bb(form.cleaned_data['amount'])}: no card was charged.")
    return redirect("billing:wallet")


@login_required
@require_POST
def caps(request):
    form = CapsForm(request.POST)
    if not form.is_valid():
        return _wallet_page(request, caps_form=form, status=400)
    try:
        ledger.wallet_caps_set(user=request.user, **form.cleaned_data)
    except DomainError as error:
        for name, problems in error.fields.items():
            for problem in problems:
                form.add_error(name if name in form.fields else None, problem)
        return _wallet_page(request, caps_form=form, status=400)
    messages.success(request, "Spend caps saved.")
    return redirect("billing:wallet")


def _cap_notices(*, user):
    return owned_by(CapNotice.objects.order_by(*CAP_NOTICE_ORDER), user=user, owner_field="account__user")


@login_required
@require_POST
def notice_dismiss(request, pk):
    ledger.cap_notice_read(notice=get_object_or_404(_cap_notices(user=request.user), pk=pk))
    return redirect("billing:wallet")


@login_required
@require_POST
def plan_subscribe(request, pk):
    plan = get_object_or_404(stripe_services.credit_plan_list(), pk=pk)
    page = reverse("billing:wallet")
    try:
        subscribed = stripe_services.credit_plan_subscribe(
            user=request.user, plan=plan, success_url=_absolute(f"{page}?plan=subscribed"),
            cancel_url=_absolute(f"{page}?plan=cancelled"),
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("billing:wallet")
    return redirect(subscribed.checkout_url or page)


@login_required
@require_POST
def plan_cancel(request, pk):
    subscription = get_object_or_404(stripe_services.credit_plan_subscription_list(user=request.user), pk=pk)
    try:
        stripe_services.credit_plan_cancel(subscription=subscription)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{subscription.plan.name} cancelled: no further payments. "
                                  "BazaarBucks already loaded stay on your wallet.")
    return redirect("billing:wallet")


# --- Payments, statements, earnings ----------------------------------------------------------------------------


@login_required
@require_GET
def payments(request):
    entries = (LedgerEntry.objects.filter(account__kind=Account.Kind.WALLET, account__user=request.user,
                                          kind__in=PAYMENT_KINDS)
               .select_related("transaction", "transaction__agent", "transaction__execution")
               .order_by("-created_at", "-id"))
    bb_page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("bb_page"))
    card_page = Paginator(stripe_services.stripe_payment_list(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("card_page"))
    for payment in card_page.object_list:
        payment.amount_text = bb(payment.amount)
        payment.status_label = "Completed" if payment.status == StripePayment.Status.SUCCEEDED \
            else payment.get_status_display()
    return render(request, "billing/payments.html", {
        "bb_page": bb_page, "card_page": card_page,
        "bb_payments": [present_entry(e) for e in bb_page.object_list],
    })


@login_required
@require_GET
def statements(request):
    form = MonthForm(request.GET or None)
    month = form.cleaned_data["month"] if form.is_valid() else selectors.month_current()
    if form.errors:
        return render(request, "billing/statements.html", {"form": form, "month": month}, status=400)
    statement = selectors.statement_for(user=request.user, month=month)
    if request.GET.get("format") == "csv":
        response = HttpResponse(statement_csv(statement), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{csv_filename(month)}"'
        return response
    for total in statement.totals:
        total.amount_text = bb(total.amount, signed=True)
    current = selectors.month_current()
    return render(request, "billing/statements.html", {
        "form": MonthForm(initial={"month": month.label}), "month": month, "statement": statement,
        "entries": [present_entry(e) for e in statement.entries],
        "texts": {"opening": bb(statement.opening_balance), "closing": bb(statement.closing_balance),
                  "credits": bb(statement.credits, signed=True), "debits": bb(statement.debits, signed=True)},
        "previous": month.preceding(), "next": month.following() if month != current else None,
        "csv_url": f"{reverse('billing:statements')}?month={month.label}&format=csv",
        "api_url": f"/api/billing/statements?month={month.label}",
    })


@login_required
@require_GET
def earnings(request):
    form = MonthForm(request.GET or None)
    month = form.cleaned_data["month"] if form.is_valid() else selectors.month_current()
    context = {"form": form if form.errors else MonthForm(initial={"month": month.label}), "month": month,
               "is_earner": selectors.is_earner(user=request.user)}
    if form.errors or not context["is_earner"]:
        return render(request, "billing/earnings.html", context, status=400 if form.errors else 200)
    result = selectors.earnings_for(user=request.user, month=month)
    for row in result.agents:
        row.earned_text, row.refunded_text, row.net_text = bb(row.earned), bb(row.refunded), bb(row.net)
    history = selectors.earnings_by_month(user=request.user, months=selectors.months_recent(count=EARNINGS_MONTHS))
    current = selectors.month_current()
    context.update({
        "earnings": result,
        "texts": {"earned": bb(result.earned), "refunded": bb(result.refunded), "net": bb(result.net)},
        "chart": {"labels": [m.start.strftime("%b %Y") for m, _ in history],
                  "months": [m.label for m, _ in history], "amounts": [str(amount) for _, amount in history]},
        "previous": month.preceding(), "next": month.following() if month != current else None,
        "has_history": any(amount for _, amount in history),
    })
    return render(request, "billing/earnings.html", context)

