"""Monthly statements (selectors): a wallet's month, and a creator's earnings by agent.

A statement is read from the ledger alone: the opening balance is the sum of the wallet's entries
before the month, the closing balance that plus the month's entries. Because a balance always
equals the sum of its entries, the closing balance of the current month is the wallet's balance
now (minus nothing: holds are not entries). Months are calendar months in UTC, like the daily cap.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import User
from agenthub.errors import InvalidInput
from billing.models import ZERO, Account, EntryKind, LedgerEntry

MONTH_FORMAT = re.compile(r"^(\d{4})-(\d{2})$")
KIND_LABELS = dict(EntryKind.choices)


# --- Months -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def title(self) -> str:
        return self.start.strftime("%B %Y")

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.following().start

    def following(self) -> "Month":
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def preceding(self) -> "Month":
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return self.label


def month_current(*, now: datetime | None = None) -> Month:
    now = (now or timezone.now()).astimezone(UTC)
    return Month(now.year, now.month)


def month_parse(value: str | None, *, now: datetime | None = None) -> Month:
    """"2026-11" → Month; empty → this month. 400 (InvalidInput on `month`) when malformed or in the future."""
    current = month_current(now=now)
    if value is None or value == "":
        return current
    match = MONTH_FORMAT.match(str(value).strip())
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise InvalidInput("month must be YYYY-MM, e.g. 2026-11.", fields={"month": ["Use the form YYYY-MM."]})
    month = Month(int(match[1]), int(match[2]))
    if (month.year, month.month) > (current.year, current.month):
        raise InvalidInput(f"{month.label} is in the future.",
                           fields={"month": [f"Must be {current.label} or earlier."]})
    return month


def months_recent(*, count: int, now: datetime | None = None) -> list[Month]:
    """The last `count` months, oldest first, ending with this one."""
    months = [month_current(now=now)]
    while len(months) < count:
        months.append(months[-1].preceding())
    return months[::-1]


# --- A wallet's statement --------------------------------------------------------------------------------


@dataclass
class KindTotal:
    kind: str
    label: str
    count: int
    amount: Decimal


@dataclass
class Statement:
    month: Month
    opening_balance: Decimal
    closing_balance: Decimal
    credits: Decimal
    debits: Decimal
    entries: list[LedgerEntry]  # oldest first, each with `.balance_after`
    totals: list[KindTotal]
    earnings: "Earnings | None" = None


def _wallet_entries(*, user: User) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(account__kind=Account.Kind.WALLET, account__user=user)


def statement_for(*, user: User, month: Month) -> Statement:
    """`user`'s wallet in `month`: opening balance, every entry, totals by kind, closing balance."""
    own = _wallet_entries(user=user)
    opening = own.filter(created_at__lt=month.start).aggregate(total=Sum("amount"))["total"] or ZERO
    entries = list(
        own.filter(created_at__gte=month.start, created_at__lt=month.end)
        .select_related("transaction", "transaction__agent", "transaction__execution")
        .order_by("created_at", "id")
    )
    running = opening
    by_kind: dict[str, KindTotal] = {}
    for entry in entries:
        running += entry.amount
        entry.balance_after = running
        total = by_kind.setdefault(entry.kind, KindTotal(entry.kind, KIND_LABELS.get(entry.kind, entry.kind), 0, ZERO))
        total.count += 1
        total.amount += entry.amount
    order = list(KIND_LABELS)
    return Statement(
        month=month, opening_balance=opening, closing_balance=running, entries=entries,
        credits=sum((e.amount for e in entries if e.amount > 0), ZERO),
        debits=sum((e.amount for e in entries if e.amount < 0), ZERO),
        totals=sorted(by_kind.values(), key=lambda t: order.index(t.kind) if t.kind in order else len(order)),
        earnings=earnings_for(user=user, month=month) if is_earner(user=user) else None,
    )


# --- A creator's earnings -----------------------------------------------------------------------------------


@dataclass
class AgentEarnings:
    agent_id: object
    slug: str | None
    name: str
    runs: int
    subscriptions: int
    earned: Decimal
    refunded: Decimal

    @property
    def net(self) -> Decimal:
        return self.earned + self.refunded


@dataclass
class Earnings:
    month: Month
    agents: list[AgentEarnings] = field(default_factory=list)

    @property
    def earned(self) -> Decimal:
        return sum((a.earned for a in self.agents), ZERO)

    @property
    def refunded(self) -> Decimal:
        return sum((a.refunded for a in self.agents), ZERO)

    @property
    def net(self) -> Decimal:
        return sum((a.net for a in self.agents), ZERO)

    @property
    def runs(self) -> int:
        return sum(a.runs for a in self.agents)


def _earnings_entries(*, user: User) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(account__kind=Account.Kind.EARNINGS, account__user=user)


def is_earner(*, user: User) -> bool:
    """A creator with an earnings account (made the first time one of their agents is paid)."""
    return Account.objects.filter(kind=Account.Kind.EARNINGS, user=user).exists()


def earnings_for(*, user: User, month: Month) -> Earnings:
    """What `user`'s agents earned in `month`, by agent: paid runs, subscription months, refunds given back."""
    rows = (
        _earnings_entries(user=user).filter(created_at__gte=month.start, created_at__lt=month.end)
        .values("transaction__agent", "transaction__agent__slug", "transaction__agent__name")
        .annotate(
            runs=Count("transaction__execution", filter=Q(kind=EntryKind.AGENT_PAYMENT), distinct=True),
            subscriptions=Count("id", filter=Q(kind=EntryKind.SUBSCRIPTION)),
            earned=Sum("amount", filter=Q(amount__gt=0)),
            refunded=Sum("amount", filter=Q(amount__lt=0)),
        )
        .order_by("transaction__agent__name")
    )
    agents = [
        AgentEarnings(
            agent_id=row["transaction__agent"], slug=row["transaction__agent__slug"],
            name=row["transaction__agent__name"] or "Other", runs=row["runs"], subscriptions=row["subscriptions"],
            earned=row["earned"] or ZERO, refunded=row["refunded"] or ZERO,
        )
        for row in rows
    ]
    agents.sort(key=lambda a: (-a.net, a.name))
    return Earnings(month=month, agents=agents)


def earnings_by_month(*, user: User, months: list[Month]) -> list[tuple[Month, Decimal]]:
    """Net earnings of each of `months` (consecutive, oldest first), in one query."""
    if not months:
        return []
    totals: dict[tuple[int, int], Decimal] = {}
    rows = _earnings_entries(user=user).filter(created_at__gte=months[0].start, created_at__lt=months[-1].end)
    for created_at, amount in rows.values_list("created_at", "amount"):
        key = (created_at.astimezone(UTC).year, created_at.astimezone(UTC).month)
        totals[key] = totals.get(key, ZERO) + amount
    return [(month, totals.get((month.year, month.month), ZERO)) for month in months]


# --- Spending over time (the wallet page's chart) -------------------------------------------------------------

SPENDING_KINDS = (EntryKind.AGENT_PAYMENT, EntryKind.PLATFORM_FEE, EntryKind.REFUND, EntryKind.SUBSCRIPTION,
                  EntryKind.CARD_SPEND)


def spending_by_day(*, user: User, days: int = 30, now: datetime | None = None) -> list[tuple[date, Decimal]]:
    """What the wallet spent on agents each day (UTC) over the last `days` days, net of refunds, oldest first."""
    today = (now or timezone.now()).astimezone(UTC).date()
    first = date.fromordinal(today.toordinal() - days + 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    spent: dict[date, Decimal] = {}
    rows = _wallet_entries(user=user).filter(created_at__gte=since, kind__in=SPENDING_KINDS)
    for created_at, amount in rows.values_list("created_at", "amount"):
        day = created_at.astimezone(UTC).date()
        spent[day] = spent.get(day, ZERO) - amount
    return [(day, spent.get(day, ZERO)) for day in (date.fromordinal(first.toordinal() + i) for i in range(days))]


def entries_recent(*, user: User, limit: int = 20) -> list[LedgerEntry]:
    return list(
        _wallet_entries(user=user).select_related("transaction", "transaction__agent", "transaction__execution")
        .order_by("-created_at", "-id")[:limit]
    )
