"""The BazaarBucks ledger: accounts, double-entry transactions, holds around runs, Stripe payments.

Amounts are Decimal with 4 places (1 BB = 1 USD). An account's balance is the sum of its
entries, kept on the row by the same database transaction that writes the entries, and a CHECK
constraint keeps every wallet and earnings account at or above zero (and what is held within
the balance). Only the external Stripe account, the other side of top-ups and chargebacks, may
go below zero. Uniqueness on each transaction's reference makes a capture, a refund or a
top-up credit happen at most once, whatever retries and redeliveries do.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

MONEY = {"max_digits": 14, "decimal_places": 4}
ZERO = Decimal("0")


class Account(models.Model):
    class Kind(models.TextChoices):
        WALLET = "wallet", "User wallet"
        EARNINGS = "earnings", "Creator earnings"
        PLATFORM = "platform", "Platform fees"
        EXTERNAL = "external", "Outside world (Stripe)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="accounts")
    balance = models.DecimalField(**MONEY, default=ZERO)
    held = models.DecimalField(**MONEY, default=ZERO, help_text="Reserved by runs in progress.")
    debt = models.DecimalField(**MONEY, default=ZERO, help_text="Owed after a chargeback bigger than the balance.")
    # Spend caps (wallets): None is no cap.
    per_run_cap = models.DecimalField(**MONEY, null=True, blank=True)
    daily_cap = models.DecimalField(**MONEY, null=True, blank=True)
    auto_approve_threshold = models.DecimalField(
        **MONEY, default=Decimal("1"), help_text="HubChat runs a quote up to this much without asking."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "user"], name="account_one_per_kind_and_user"),
            models.UniqueConstraint(fields=["kind"], condition=Q(user__isnull=True), name="account_one_system_each"),
            models.CheckConstraint(condition=Q(kind="external") | Q(balance__gte=0),
                                   name="account_balance_not_negative"),
            models.CheckConstraint(condition=Q(held__gte=0) & Q(held__lte=F("balance")) | Q(kind="external"),
                                   name="account_held_within_balance"),
            models.CheckConstraint(condition=Q(debt__gte=0), name="account_debt_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.user or ''}".strip()

    @property
    def available(self) -> Decimal:
        return self.balance - self.held


class EntryKind(models.TextChoices):
    TOP_UP = "top_up", "Top-up"
    AGENT_PAYMENT = "agent_payment", "Agent payment"
    PLATFORM_FEE = "platform_fee", "Platform fee"
    REFUND = "refund", "Refund"
    SUBSCRIPTION = "subscription", "Subscription"
    CARD_SPEND = "card_spend", "External tool cost"
    CHARGEBACK = "chargeback", "Card refund or dispute"
    ADJUSTMENT = "adjustment", "Adjustment"


class LedgerTransaction(models.Model):
    """One movement of money: entries that sum to zero, written together or not at all."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    reference = models.CharField(
        max_length=255, unique=True, help_text="What it settles, e.g. capture:<execution>: once, never twice."
    )
    execution = models.ForeignKey("orchestration.Execution", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="ledger_transactions")
    task_id = models.UUIDField(null=True, blank=True, help_text="The HubChat task a run belonged to.")
    agent = models.ForeignKey("marketplace.Agent", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    memo = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.reference


class LedgerEntry(models.Model):
    """One side of a transaction on one account. Append-only."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    amount = models.DecimalField(**MONEY, help_text="Positive credits the account, negative debits it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["account", "-created_at"], name="entry_account_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class Hold(models.Model):
    """Money reserved on a wallet for one run, then captured (in part) and released."""

    class Status(models.TextChoices):
        HELD = "held", "Held"
        CAPTURED = "captured", "Captured"
        RELEASED = "released", "Released"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    execution = models.OneToOneField("orchestration.Execution", on_delete=models.PROTECT, related_name="hold")
    amount = models.DecimalField(**MONEY)
    captured = models.DecimalField(**MONEY, default=ZERO)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.HELD)
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="hold_amount_positive"),
            models.CheckConstraint(condition=Q(captured__gte=0) & Q(captured__lte=F("amount")),
                                   name="hold_captured_within_amount"),
        ]
        indexes = [models.Index(fields=["account", "status"], name="hold_account_status_idx")]

    def __str__(self) -> str:
        return f"{self.amount} for {self.execution_id} ({self.status})"


class StripePayment(models.Model):
    """Seed 004's Stripe payment records: card top-ups (balance_load) and external costs (card_spend)."""

    class Type(models.TextChoices):
        BALANCE_LOAD = "balance_load", "Balance load"
        CARD_SPEND = "card_spend", "Card spend"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REFUNDED = "refunded", "Refunded"
        DISPUTED = "disputed", "Disputed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stripe_payments")
    type = models.CharField(max_length=20, choices=Type.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    amount = models.DecimalField(**MONEY, help_text="In BB.")
    amount_cents = models.PositiveIntegerField(null=True, blank=True, help_text="What Stripe charges, in cents.")
    currency = models.CharField(max_length=3, default="usd")
    vendor = models.CharField(max_length=100, default="stripe", help_text="Who was paid: Stripe, or a tool's vendor.")
    agent = models.ForeignKey("marketplace.Agent", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    execution = models.ForeignKey("orchestration.Execution", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="stripe_payments")
    stripe_payment_intent = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_checkout_session = models.CharField(max_length=255, null=True, blank=True, unique=True)
    credited_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="stripepayment_amount_not_negative")]

    def __str__(self) -> str:
        return f"{self.type} {self.amount} ({self.status})"


# --- Stripe: customers, credit plans, webhook events (billing/stripe_services.py) ---------------------


class StripeCustomer(models.Model):
    """The Stripe customer that stands for a user: one each, made the first time a payment needs it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stripe_customer")
    customer_id = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.customer_id


class CreditPlan(models.Model):
    """A monthly Stripe subscription that loads `credits` BB on the wallet each time its invoice is paid."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    price_cents = models.PositiveIntegerField(help_text="What Stripe charges each month, in US cents.")
    credits = models.DecimalField(**MONEY, help_text="BB loaded on the wallet per paid invoice.")
    stripe_price_id = models.CharField(max_length=255, null=True, blank=True, unique=True,
                                       help_text="The Stripe price (or plan) id; made by credit_plan_sync when empty.")
    active = models.BooleanField(default=True, help_text="Offered to new subscribers.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["price_cents", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(price_cents__gt=0), name="creditplan_price_positive"),
            models.CheckConstraint(condition=Q(credits__gt=0), name="creditplan_credits_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class CreditPlanSubscription(models.Model):
    """A user's subscription to a credit plan, its status mirrored from Stripe's."""

    class Status(models.TextChoices):
        INCOMPLETE = "incomplete", "Incomplete"
        INCOMPLETE_EXPIRED = "incomplete_expired", "Incomplete, expired"
        TRIALING = "trialing", "Trialing"
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Past due"
        UNPAID = "unpaid", "Unpaid"
        PAUSED = "paused", "Paused"
        CANCELED = "canceled", "Canceled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="credit_plan_subscriptions")
    plan = models.ForeignKey(CreditPlan, on_delete=models.PROTECT, related_name="subscriptions")
    stripe_subscription_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.INCOMPLETE)
    canceled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.plan} for {self.user} ({self.status})"


class StripeEvent(models.Model):
    """A Stripe webhook event, stored in the same transaction as its effect: a redelivery finds it."""

    id = models.CharField(primary_key=True, max_length=255, help_text="Stripe's event id (evt_...).")
    type = models.CharField(max_length=100)
    outcome = models.CharField(max_length=40, help_text="What handling it did, e.g. credited, mismatch, unknown.")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class CapNotice(models.Model):
    """An in-app notice that the day's spending reached 85 % or 100 % of the wallet's daily cap; once a day each."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="cap_notices")
    day = models.DateField()
    percent = models.PositiveSmallIntegerField()
    message = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["account", "day", "percent"], name="capnotice_once_a_day")]

    def __str__(self) -> str:
        return self.message
