"""The wallet: balance, held, available and caps; its ledger; seed 004's BazaarBucks payments."""

import django_filters
from django.db.models import F
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from agenthub.api.ownership import OwnedQuerysetMixin
from billing import services as ledger
from billing.models import MONEY, Account, CapNotice, EntryKind, LedgerEntry

PAYMENT_KINDS = (EntryKind.AGENT_PAYMENT, EntryKind.PLATFORM_FEE, EntryKind.REFUND)


class CapsSerializer(serializers.Serializer):
    per_run = serializers.DecimalField(**MONEY, min_value=0, allow_null=True, required=False,
                                       help_text="The most one run may cost (BB); null for no cap.")
    daily = serializers.DecimalField(**MONEY, min_value=0, allow_null=True, required=False,
                                     help_text="The most your runs may cost per day (UTC); null for no cap.")
    auto_approve_threshold = serializers.DecimalField(
        **MONEY, min_value=0, required=False, help_text="HubChat runs a quote up to this much without asking."
    )


class WalletSerializer(serializers.Serializer):
    balance = serializers.DecimalField(**MONEY)
    held = serializers.DecimalField(**MONEY)
    available = serializers.DecimalField(**MONEY)
    debt = serializers.DecimalField(**MONEY)
    blocked = serializers.BooleanField(help_text="True while a card refund left a debt: top up to run agents.")
    spent_today = serializers.DecimalField(**MONEY)
    currency = serializers.CharField()
    caps = CapsSerializer()


class WalletUpdate(serializers.Serializer):
    caps = CapsSerializer()


class WalletView(APIView):
    """`GET` your wallet in BazaarBucks (1 BB = 1 USD); `PATCH {"caps": {...}}` sets your spend caps."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: WalletSerializer})
    def get(self, request):
        return Response(WalletSerializer(ledger.wallet_summary(user=request.user)).data)

    @extend_schema(request=WalletUpdate, responses={200: WalletSerializer})
    def patch(self, request):
        data = WalletUpdate(data=request.data)
        data.is_valid(raise_exception=True)
        ledger.wallet_caps_set(user=request.user, **data.validated_data["caps"])
        return Response(WalletSerializer(ledger.wallet_summary(user=request.user)).data)


class EntryFilterSet(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=EntryKind.choices)
    date = django_filters.DateFilter(field_name="created_at", lookup_expr="date", help_text="YYYY-MM-DD (UTC).")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = LedgerEntry
        fields = ["kind", "date", "created_after", "created_before"]


class EntrySerializer(serializers.ModelSerializer):
    reference = serializers.CharField(source="transaction.reference")
    memo = serializers.CharField(source="transaction.memo")
    execution_id = serializers.UUIDField(source="transaction.execution_id", allow_null=True)
    task_id = serializers.UUIDField(source="transaction.task_id", allow_null=True)
    agent_id = serializers.SlugField(source="transaction.agent.slug", allow_null=True, default=None)

    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "amount", "reference", "memo", "execution_id", "task_id", "agent_id", "created_at"]


class WalletEntryViewSet(OwnedQuerysetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Your ledger, newest first: every movement of your wallet (credits positive, debits negative)."""

    owner_field = "account__user"
    permission_classes = [permissions.IsAuthenticated]
    serializer_class = EntrySerializer
    filterset_class = EntryFilterSet
    queryset = LedgerEntry.objects.filter(account__kind=Account.Kind.WALLET).select_related(
        "transaction", "transaction__agent"
    )


class BazaarBucksPaymentSerializer(serializers.ModelSerializer):
    """Seed 004's BazaarBucksPayment: `id, taskId, agentId, amount, type, createdAt`."""

    task_id = serializers.UUIDField(source="transaction.task_id", allow_null=True)
    agent_id = serializers.SlugField(source="transaction.agent.slug", allow_null=True, default=None)
    amount = serializers.SerializerMethodField()
    type = serializers.CharField(source="kind")

    class Meta:
        model = LedgerEntry
        fields = ["id", "task_id", "agent_id", "amount", "type", "created_at"]

    def get_amount(self, entry) -> float:
        return abs(entry.amount)  # the type says which way it went


class BazaarBucksPaymentViewSet(OwnedQuerysetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Seed 004's `GET /api/payments/bazaarbucks`: what your runs paid agents and the platform, and refunds."""

    owner_field = "account__user"
    permission_classes = [permissions.IsAuthenticated]
    serializer_class = BazaarBucksPaymentSerializer
    queryset = LedgerEntry.objects.filter(account__kind=Account.Kind.WALLET, kind__in=PAYMENT_KINDS).select_related(
        "transaction", "transaction__agent"
    )


class CapNoticeSerializer(serializers.ModelSerializer):
    class Meta:
        model = CapNotice
        fields = ["id", "day", "percent", "message", "created_at", "read_at"]


# Unread first, then newest first: what the wallet page shows at its top comes first here too.
CAP_NOTICE_ORDER = (F("read_at").asc(nulls_first=True), "-created_at", "-percent")


class CapNoticeViewSet(OwnedQuerysetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Notices that your day's spending reached 85 % or 100 % of your daily cap, unread first;
    `POST .../read` dismisses one."""

    owner_field = "account__user"
    permission_classes = [permissions.IsAuthenticated]
    serializer_class = CapNoticeSerializer
    queryset = CapNotice.objects.order_by(*CAP_NOTICE_ORDER)

    @extend_schema(request=None, responses={200: CapNoticeSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        return Response(CapNoticeSerializer(ledger.cap_notice_read(notice=self.get_object())).data)
