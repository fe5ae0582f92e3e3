"""Moving BazaarBucks: holds around runs, captures split between creator and platform, refunds, credits.

Every change of a balance is a conditional UPDATE on the account row (`balance = balance + x`,
with the database's CHECK constraints refusing a result below zero) in the same database
transaction as the ledger entries that explain it. Nothing reads a balance, decides in Python
and writes it back. Each transaction's `reference` is unique: a capture, a refund or a credit
for the same thing twice is refused by the database, not only by a check.
"""

import logging
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import ApiKey, User
from agenthub.errors import Conflict, DomainError, InvalidInput
from billing.models import ZERO, Account, CapNotice, EntryKind, Hold, LedgerEntry, LedgerTransaction, StripePayment

logger = logging.getLogger(__name__)

CENT = Decimal("0.0001")  # the ledger's smallest unit


class PaymentRequired(DomainError):
    """402: the wallet cannot cover a run (or a cap forbids it). `fields` name what is short."""

    status_code = 402
    code = "payment_required"


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


def fee_split(price: Decimal) -> tuple[Decimal, Decimal]:
    """(creator's share, platform fee) of `price`: the fee rounded to the ledger's unit, the share the rest."""
    fee = money(price * settings.PLATFORM_FEE_PERCENT / 100)
    return price - fee, fee


# --- Accounts --------------------------------------------------------------------------------------


def account_for(*, user: User, kind: str = Account.Kind.WALLET) -> Account:
    account, _ = Account.objects.get_or_create(kind=kind, user=user)
    return account


def system_account(kind: str) -> Account:
    account, _ = Account.objects.get_or_create(kind=kind, user=None)
    return account


def _move(account: Account, amount: Decimal) -> None:
    """Add `amount` (negative to debit) to the balance; the CHECK constraint refuses going below zero."""
    Account.objects.filter(pk=account.pk).update(balance=F("balance") + amount, updated_at=timezone.now())


_LOCK_ORDER = {Account.Kind.WALLET: 0, Account.Kind.EARNINGS: 1, Account.Kind.PLATFORM: 2, Account.Kind.EXTERNAL: 3}


def _post(*, kind: str, reference: str, entries: list[tuple[Account, str, Decimal]], **links) -> LedgerTransaction:
    """Write one balanced transaction: its entries and the balances they move, all or nothing."""
    entries = [(account, entry_kind, amount) for account, entry_kind, amount in entries if amount]
    if sum(amount for _, _, amount in entries) != 0:
        raise ValueError(f"Unbalanced transaction {reference}: {entries}")
    with transaction.atomic():
        posted = LedgerTransaction.objects.create(kind=kind, reference=reference, **links)
        LedgerEntry.objects.bulk_create(
            LedgerEntry(transaction=posted, account=account, kind=entry_kind, amount=amount)
            for account, entry_kind, amount in entries
        )
        # Always in the same order (the wallet, then earnings, the platform, the outside world), so two
        # transactions touching the same rows, e.g. a capture and a refund, cannot deadlock.
        for account, _, amount in sorted(entries, key=lambda entry: (_LOCK_ORDER[entry[0].kind], str(entry[0].pk))):
            _move(account, amount)
    return posted


# --- Around a run ----------------------------------------------------------------------------------


# What a wallet's spending on runs is made of (refunds count back against it).
RUN_SPENDING = (EntryKind.AGENT_PAYMENT, EntryKind.PLATFORM_FEE, EntryKind.REFUND, EntryKind.CARD_SPEND)


def spent_today(*, wallet: Account) -> Decimal:
    """What the wallet paid for runs since midnight (UTC), net of refunds, plus what it holds now."""
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    paid = LedgerEntry.objects.filter(
        account=wallet, created_at__gte=midnight,
        kind__in=RUN_SPENDING,
    ).aggregate(total=Sum("amount"))["total"] or ZERO
    return -money(paid) + wallet.held  # (SQLite sums as floating point: back to the ledger's unit)


def spent_today_by_key(*, user_id, api_key_ids) -> dict:
    """{api key id: what the runs it started paid since midnight (UTC), net of refunds, plus what they
    hold now}, like `spent_today` for the wallet; a key that spent nothing is 0."""
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    ids = list(api_key_ids)
    spent = dict.fromkeys(ids, ZERO)
    paid = LedgerEntry.objects.filter(
        account__user_id=user_id, account__kind=Account.Kind.WALLET, created_at__gte=midnight,
        kind__in=RUN_SPENDING,
        transaction__execution__api_key_id__in=ids,
    ).values_list("transaction__execution__api_key_id").annotate(total=Sum("amount")).order_by()
    held = Hold.objects.filter(
        account__user_id=user_id, status=Hold.Status.HELD, execution__api_key_id__in=ids,
    ).values_list("execution__api_key_id").annotate(total=Sum("amount")).order_by()
    for key_id, total in paid:
        spent[key_id] -= money(total)
    for key_id, total in held:
        spent[key_id] += money(total)
    return spent


def hold_place(*, execution, amount: Decimal) -> Hold | None:
    """Reserve `amount` on the runner's wallet for `execution`; 402 naming what is short. Call inside
    the transaction that creates the execution, so a refused hold leaves no run behind."""
    amount = money(amount)
    if amount <= 0:
        return None
    wallet = account_for(user=execution.user)
    if wallet.per_run_cap is not None and amount > wallet.per_run_cap:
        raise PaymentRequired(
            f"This run may cost {amount} BB, above your per-run cap of {wallet.per_run_cap} BB.",
            fields={"per_run_cap": [f"{wallet.per_run_cap} BB"]}, code="per_run_cap",
        )
    if wallet.daily_cap is not None:
        wallet = Account.objects.select_for_update().get(pk=wallet.pk)  # one cap check at a time per wallet
        if spent_today(wallet=wallet) + amount > wallet.daily_cap:
            raise PaymentRequired(
                f"This run may cost {amount} BB, which would pass your daily cap of {wallet.daily_cap} BB.",
                fields={"daily_cap": [f"{wallet.daily_cap} BB"]}, code="daily_cap",
            )
    if execution.api_key_id:
        _api_key_cap_check(execution=execution, amount=amount)
    reserved = Account.objects.filter(pk=wallet.pk, debt=0, balance__gte=F("held") + amount).update(
        held=F("held") + amount, updated_at=timezone.now()
    )
    if not reserved:
        wallet.refresh_from_db()
        if wallet.debt:
            raise PaymentRequired(f"Your wallet owes {wallet.debt} BB after a card refund; top up to run agents.",
                                  fields={"debt": [f"{wallet.debt} BB"]}, code="wallet_blocked")
        raise PaymentRequired(
            f"This run may cost {amount} BB; {wallet.available} BB is available.",
            fields={"available": [f"{wallet.available} BB"], "required": [f"{amount} BB"]},
            code="insufficient_funds",
        )
    hold = Hold.objects.create(account=wallet, execution=execution, amount=amount)
    if wallet.daily_cap:
        cap_notices_record(wallet=wallet, spent=spent_today(wallet=Account.objects.get(pk=wallet.pk)))
    return hold


def _api_key_cap_check(*, execution, amount: Decimal) -> None:
    """402 when the run would take what the key that started it spent today past the key's daily cap."""
    # One cap check at a time per key, like the wallet's daily cap: the row lock is held to the end of
    # the run's transaction, so the next run through this key waits, then counts this one's hold.
    # NO KEY UPDATE is enough for that and, unlike FOR UPDATE, does not block the foreign-key checks
    # (KEY SHARE) of other runs' rows that point at the key.
    key = (ApiKey.objects.select_for_update(no_key=True).only("name", "daily_cap")
           .filter(pk=execution.api_key_id).first())
    if key is None or key.daily_cap is None:
        return
    spent = spent_today_by_key(user_id=execution.user_id, api_key_ids=[key.pk])[key.pk]
    if spent + amount > key.daily_cap:
        raise PaymentRequired(
            f"This run may cost {amount} BB, which would pass the daily cap of {key.daily_cap} BB "
            f"of the API key “{key.name}” ({spent} BB spent through it today).",
            fields={"api_key_cap": [f"{key.daily_cap} BB"]}, code="api_key_cap",
        )


NOTICE_PERCENTS = (85, 100)


def cap_notices_record(*, wallet: Account, spent: Decimal) -> list[int]:
    """Leave a notice the first time today's spending (held included) reaches 85 % and 100 % of the daily cap."""
    reached = [percent for percent in NOTICE_PERCENTS if spent * 100 >= wallet.daily_cap * percent]
    day = timezone.now().date()
    for percent in reached:
        message = (f"You have reached your daily cap of {wallet.daily_cap} BB." if percent == 100 else
                   f"You have used {percent} % of your daily cap of {wallet.daily_cap} BB.")
        CapNotice.objects.get_or_create(account=wallet, day=day, percent=percent, defaults={"message": message})
    return reached


def cap_notice_read(*, notice: CapNotice) -> CapNotice:
    """Mark a cap notice read (dismissed from the wallet page); reading it again keeps the first time."""
    CapNotice.objects.filter(pk=notice.pk, read_at__isnull=True).update(read_at=timezone.now())
    notice.refresh_from_db(fields=["read_at"])
    return notice


def hold_capture(*, execution, amount: Decimal | None = None, external_cost: Decimal | None = None,
                 vendor: str = "") -> Decimal:
    """Charge a finished run: `amount` (the agent's reported cost; the hold when it reported none),
    never more than the hold, split between the creator and the platform; the rest is released.
    An `external_cost` the agent reported (a tool it paid for, seed 004's card_spend) is charged
    first, out of the same hold (see `external_cost_charge`); the price gets what is left.
    Returns what was charged in all. At most once per run: a second call finds the hold settled
    (and the capture's unique reference would refuse it anyway) and charges nothing."""
    with transaction.atomic():
        hold = Hold.objects.select_for_update().filter(execution=execution, status=Hold.Status.HELD).first()
        if hold is None:
            return ZERO
        external = min(money(external_cost), hold.amount) if external_cost and external_cost > 0 else ZERO
        room = hold.amount - external
        price = room if amount is None else max(min(money(amount), room), ZERO)
        Hold.objects.filter(pk=hold.pk).update(status=Hold.Status.CAPTURED, captured=price + external,
                                               settled_at=timezone.now())
        Account.objects.filter(pk=hold.account_id).update(held=F("held") - hold.amount)
        if external:
            external_cost_charge(execution=execution, wallet=hold.account, amount=external, vendor=vendor,
                                 reported=money(external_cost))
        if not price:
            return external
        share, fee = fee_split(price)
        creator = account_for(user=execution.agent.created_by, kind=Account.Kind.EARNINGS)
        _post(
            kind=EntryKind.AGENT_PAYMENT, reference=f"capture:{execution.pk}",
            execution=execution, agent_id=execution.agent_id, task_id=execution.task_id,
            entries=[
                (hold.account, EntryKind.AGENT_PAYMENT, -share), (creator, EntryKind.AGENT_PAYMENT, share),
                (hold.account, EntryKind.PLATFORM_FEE, -fee),
                (system_account(Account.Kind.PLATFORM), EntryKind.PLATFORM_FEE, fee),
            ],
        )
        return price + external


def hold_release(*, execution) -> None:
    """Give a run's whole hold back (it failed, timed out or was cancelled). Safe to call twice."""
    with transaction.atomic():
        hold = Hold.objects.select_for_update().filter(execution=execution, status=Hold.Status.HELD).first()
        if hold is None:
            return
        Hold.objects.filter(pk=hold.pk).update(status=Hold.Status.RELEASED, settled_at=timezone.now())
        Account.objects.filter(pk=hold.account_id).update(held=F("held") - hold.amount, updated_at=timezone.now())


def execution_refund(*, execution, memo: str = "") -> LedgerTransaction:
    """Give back what a run was charged: every entry of its capture reversed, once."""
    capture = LedgerTransaction.objects.filter(reference=f"capture:{execution.pk}").first()
    if capture is None:
        raise Conflict("Nothing was charged for this run, so there is nothing to refund.", code="nothing_to_refund")
    entries = [(entry.account, EntryKind.REFUND, -entry.amount) for entry in capture.entries.select_related("account")]
    try:
        return _post(kind=EntryKind.REFUND, reference=f"refund:{execution.pk}", execution=execution,
                     agent_id=capture.agent_id, task_id=capture.task_id, memo=memo[:255], entries=entries)
    except IntegrityError:
        raise Conflict("This run was refunded already.", code="already_refunded") from None


def subscription_charge(*, hiring, period: str) -> Decimal:
    """Charge one month of a subscription agent for `hiring`, once per `period` (e.g. 2026-11-22).

    The wallet pays the agent's monthly price, split like a run between creator and platform;
    402 when it cannot (the database's CHECK refuses a balance below what is held).
    """
    price = money(hiring.agent.monthly_price)
    if price <= 0:
        return ZERO
    wallet = account_for(user=hiring.user)
    share, fee = fee_split(price)
    reference = f"subscription:{hiring.pk}:{period}"
    try:
        _post(
            kind=EntryKind.SUBSCRIPTION, reference=reference, agent_id=hiring.agent_id,
            memo=f"{hiring.agent.name}, month from {period}",
            entries=[
                (wallet, EntryKind.SUBSCRIPTION, -share), (wallet, EntryKind.PLATFORM_FEE, -fee),
                (account_for(user=hiring.agent.created_by, kind=Account.Kind.EARNINGS), EntryKind.SUBSCRIPTION, share),
                (system_account(Account.Kind.PLATFORM), EntryKind.PLATFORM_FEE, fee),
            ],
        )
    except IntegrityError:
        if LedgerTransaction.objects.filter(reference=reference).exists():
            return ZERO  # this month is paid already
        wallet.refresh_from_db()
        raise PaymentRequired(
            f"A month of {hiring.agent.name} costs {price} BB; {wallet.available} BB is available.",
            fields={"available": [f"{wallet.available} BB"], "required": [f"{price} BB"]}, code="insufficient_funds",
        ) from None
    return price


# --- Money in ------------------------------------------------------------------------------------------


def wallet_credit(*, user: User, amount: Decimal, reference: str, kind: str = EntryKind.TOP_UP,
                  memo: str = "") -> tuple[LedgerTransaction, bool]:
    """Put money bought outside (a card payment) on `user`'s wallet, once per `reference`.

    Returns (the transaction, whether this call wrote it). A credit first pays off any debt.
    """
    amount = money(amount)
    if amount <= 0:
        raise InvalidInput("A credit must be positive.", fields={"amount": ["Must be more than 0."]})
    wallet = account_for(user=user)
    external = system_account(Account.Kind.EXTERNAL)
    try:
        with transaction.atomic():
            debt = Account.objects.select_for_update().values_list("debt", flat=True).get(pk=wallet.pk)
            repaid = min(amount, debt)  # what the wallet owes goes back out first
            posted = _post(kind=kind, reference=reference, memo=memo[:255], entries=[
                (external, kind, -amount), (wallet, kind, amount),
                (wallet, EntryKind.CHARGEBACK, -repaid), (external, EntryKind.CHARGEBACK, repaid),
            ])
            if repaid:
                Account.objects.filter(pk=wallet.pk).update(debt=F("debt") - repaid, updated_at=timezone.now())
            return posted, True
    except IntegrityError:
        existing = LedgerTransaction.objects.filter(reference=reference).first()
        if existing is None:
            raise
        return existing, False


def wallet_debit_external(*, user: User, amount: Decimal, reference: str, kind: str = EntryKind.CHARGEBACK,
                          memo: str = "") -> tuple[LedgerTransaction | None, Decimal]:
    """Take back money refunded or disputed on the card: what the wallet holds free, the rest as debt.

    The wallet never goes below zero; a debt blocks new runs until a top-up pays it. Returns
    (the transaction, the debt recorded). Once per `reference`.
    """
    amount = money(amount)
    wallet = account_for(user=user)
    if LedgerTransaction.objects.filter(reference=reference).exists():
        return LedgerTransaction.objects.get(reference=reference), ZERO
    with transaction.atomic():
        wallet = Account.objects.select_for_update().get(pk=wallet.pk)
        taken = min(amount, max(wallet.available, ZERO))
        owed = amount - taken
        try:
            posted = _post(kind=kind, reference=reference, memo=memo[:255], entries=[
                (wallet, kind, -taken), (system_account(Account.Kind.EXTERNAL), kind, taken),
            ])
        except IntegrityError:
            return LedgerTransaction.objects.get(reference=reference), ZERO
        if owed:
            Account.objects.filter(pk=wallet.pk).update(debt=F("debt") + owed, updated_at=timezone.now())
            logger.warning("wallet %s owes %s BB after %s", wallet.pk, owed, reference)
    return posted, owed


# --- Reading -------------------------------------------------------------------------------------------


def wallet_summary(*, user: User) -> dict:
    wallet = account_for(user=user)
    today = spent_today(wallet=wallet)
    return {
        "balance": wallet.balance, "held": wallet.held, "available": wallet.available, "debt": wallet.debt,
        "currency": "BB", "blocked": wallet.debt > 0, "spent_today": today,
        "caps": {"per_run": wallet.per_run_cap, "daily": wallet.daily_cap,
                 "auto_approve_threshold": wallet.auto_approve_threshold},
    }


_UNSET = object()


def wallet_caps_set(*, user: User, per_run=_UNSET, daily=_UNSET, auto_approve_threshold=_UNSET) -> Account:
    """Set the wallet's spend caps; a cap left out keeps its value, None removes it."""
    changes = {field: money(value) if value is not None else None for field, value in (
        ("per_run_cap", per_run), ("daily_cap", daily), ("auto_approve_threshold", auto_approve_threshold),
    ) if value is not _UNSET}
    if changes.get("auto_approve_threshold", ZERO) is None:
        raise InvalidInput("The auto-approve threshold cannot be empty.",
                           fields={"auto_approve_threshold": ["Give an amount (0 asks every time)."]})
    wallet = account_for(user=user)
    if changes:
        Account.objects.filter(pk=wallet.pk).update(**changes, updated_at=timezone.now())
    wallet.refresh_from_db()
    return wallet


def ledger_is_consistent() -> bool:
    """Every account's balance equals the sum of its entries, and every transaction sums to zero."""
    # Compared in Python, as Decimals: SQLite would compare the sums as floating-point numbers.
    accounts = Account.objects.annotate(total=Sum("entries__amount")).values_list("balance", "total")
    transactions = LedgerTransaction.objects.annotate(total=Sum("entries__amount")).values_list("total", flat=True)
    return (all(money(balance) == money(total or 0) for balance, total in accounts.iterator())
            and all(money(total or 0) == 0 for total in transactions.iterator()))


# --- External costs (seed 004's card_spend) ----------------------------------------------------------


def external_cost_charge(*, execution, wallet: Account, amount: Decimal, vendor: str,
                         reported: Decimal | None = None) -> StripePayment:
    """Charge the runner's wallet for an external tool the agent paid for during `execution`.

    Called by `hold_capture` inside its transaction, with the run's hold locked and `amount`
    already cut to what the hold covers: the wallet pays it to the outside world (the platform
    pays the vendor by card) as a `card_spend` transaction, recorded as a StripePayment with the
    vendor. Once per run (the transaction's unique reference). What the hold did not cover is
    not charged, only logged.
    """
    amount = money(amount)
    _post(kind=EntryKind.CARD_SPEND, reference=f"card_spend:{execution.pk}", execution=execution,
          agent_id=execution.agent_id, task_id=execution.task_id,
          memo=f"External tool: {vendor}"[:255] if vendor else "External tool",
          entries=[(wallet, EntryKind.CARD_SPEND, -amount),
                   (system_account(Account.Kind.EXTERNAL), EntryKind.CARD_SPEND, amount)])
    if reported is not None and reported > amount:
        logger.warning("run %s reported an external cost of %s BB; the hold covered %s", execution.pk, reported, amount)
    return StripePayment.objects.create(
        user_id=execution.user_id, type=StripePayment.Type.CARD_SPEND, status=StripePayment.Status.SUCCEEDED,
        amount=amount, vendor=(vendor or "external tool")[:100], agent_id=execution.agent_id, execution=execution,
    )
