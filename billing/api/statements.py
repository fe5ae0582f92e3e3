"""Monthly statements (JSON or CSV) and a creator's earnings by agent."""

import csv
import io

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from agenthub.api.renderers import ApiJSONRenderer
from billing import statements as selectors
from billing.models import MONEY

MONTH_PARAMETER = OpenApiParameter(
    "month", OpenApiTypes.STR, description="YYYY-MM (UTC), this month when left out; not in the future."
)
CSV_COLUMNS = ["date", "kind", "description", "reference", "agent", "execution", "amount", "balance_after"]


class CSVRenderer(BaseRenderer):
    """`?format=csv` or `Accept: text/csv`. The view builds the file itself; this lets DRF negotiate it."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, (bytes, str)) else b""


class KindTotalSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY)


class StatementEntrySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    kind = serializers.CharField()
    amount = serializers.DecimalField(**MONEY, help_text="Positive credits the wallet, negative debits it.")
    balance_after = serializers.DecimalField(**MONEY)
    reference = serializers.CharField(source="transaction.reference")
    memo = serializers.CharField(source="transaction.memo")
    execution_id = serializers.UUIDField(source="transaction.execution_id", allow_null=True)
    task_id = serializers.UUIDField(source="transaction.task_id", allow_null=True)
    agent_id = serializers.SlugField(source="transaction.agent.slug", allow_null=True, default=None)


class AgentEarningsSerializer(serializers.Serializer):
    agent_id = serializers.SlugField(source="slug", allow_null=True)
    agent_name = serializers.CharField(source="name")
    runs = serializers.IntegerField(help_text="Paid runs captured in the month.")
    subscriptions = serializers.IntegerField(help_text="Subscription months charged in the month.")
    earned = serializers.DecimalField(**MONEY)
    refunded = serializers.DecimalField(**MONEY, help_text="Given back by refunds (negative).")
    net = serializers.DecimalField(**MONEY)


class EarningsSerializer(serializers.Serializer):
    month = serializers.CharField(source="month.label")
    currency = serializers.SerializerMethodField()
    earned = serializers.DecimalField(**MONEY)
    refunded = serializers.DecimalField(**MONEY)
    net = serializers.DecimalField(**MONEY)
    runs = serializers.IntegerField()
    agents = AgentEarningsSerializer(many=True)

    def get_currency(self, earnings) -> str:
        return "BB"


class StatementSerializer(serializers.Serializer):
    month = serializers.CharField(source="month.label")
    currency = serializers.SerializerMethodField()
    opening_balance = serializers.DecimalField(**MONEY)
    credits = serializers.DecimalField(**MONEY)
    debits = serializers.DecimalField(**MONEY)
    closing_balance = serializers.DecimalField(**MONEY, help_text="Opening balance plus every entry of the month.")
    totals = KindTotalSerializer(many=True)
    entries = StatementEntrySerializer(many=True)
    earnings = EarningsSerializer(allow_null=True, help_text="Creators: what their agents earned in the month.")

    def get_currency(self, statement) -> str:
        return "BB"


def statement_csv(statement: selectors.Statement) -> str:
    """The statement as CSV: exact amounts (4 places), an opening row, the entries, a closing row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    first = statement.month.start.date().isoformat()
    writer.writerow([first, "opening_balance", "Opening balance", "", "", "", "", f"{statement.opening_balance:.4f}"])
    for entry in statement.entries:
        tx = entry.transaction
        writer.writerow([
            entry.created_at.isoformat(), entry.kind, tx.memo or selectors.KIND_LABELS.get(entry.kind, entry.kind),
            tx.reference, tx.agent.slug if tx.agent else "", tx.execution_id or "",
            f"{entry.amount:.4f}", f"{entry.balance_after:.4f}",
        ])
    last = statement.month.end.date().isoformat()
    writer.writerow([last, "closing_balance", "Closing balance", "", "", "", "", f"{statement.closing_balance:.4f}"])
    return out.getvalue()


def csv_filename(month: selectors.Month) -> str:
    return f"agenthub-statement-{month.label}.csv"


class StatementView(APIView):
    """Your wallet's statement for a month: opening balance, every entry, totals by kind, closing balance.

    JSON by default; `?format=csv` (or `Accept: text/csv`) downloads it as a CSV file.
    """

    permission_classes = [permissions.IsAuthenticated]
    renderer_classes = [*APIView.renderer_classes, CSVRenderer]

    @extend_schema(parameters=[MONTH_PARAMETER], responses={200: StatementSerializer, (200, "text/csv"): str})
    def get(self, request):
        month = selectors.month_parse(request.query_params.get("month"))
        statement = selectors.statement_for(user=request.user, month=month)
        if request.accepted_renderer.format == "csv":
            response = HttpResponse(statement_csv(statement), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{csv_filename(month)}"'
            return response
        return Response(StatementSerializer(statement).data)

    def handle_exception(self, exc):
        # Errors are JSON whatever format was asked for: a CSV of an error would hide it.
        response = super().handle_exception(exc)
        if getattr(getattr(self.request, "accepted_renderer", None), "format", None) == "csv":
            self.request.accepted_renderer = ApiJSONRenderer()
            self.request.accepted_media_type = ApiJSONRenderer.media_type
        return response


class EarningsView(APIView):
    """What your agents earned in a month, by agent (paid runs, subscription months, refunds); empty
    for users who have no agents that earned."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[MONTH_PARAMETER], responses={200: EarningsSerializer})
    def get(self, request):
        month = selectors.month_parse(request.query_params.get("month"))
        return Response(EarningsSerializer(selectors.earnings_for(user=request.user, month=month)).data)
