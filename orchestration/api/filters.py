import django_filters

from marketplace.models import Hiring
from orchestration.models import Execution, ExecutionStatus


class ExecutionFilterSet(django_filters.FilterSet):
    agent = django_filters.CharFilter(field_name="agent__slug", help_text="The agent's id (slug).")
    status = django_filters.MultipleChoiceFilter(choices=ExecutionStatus.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    date = django_filters.DateFilter(field_name="created_at", lookup_expr="date", help_text="YYYY-MM-DD (UTC).")

    class Meta:
        model = Execution
        fields = ["agent", "status", "created_after", "created_before", "date"]


class HiringFilterSet(django_filters.FilterSet):
    agent = django_filters.CharFilter(field_name="agent__slug")
    status = django_filters.MultipleChoiceFilter(choices=Hiring.Status.choices)

    class Meta:
        model = Hiring
        fields = ["agent", "status"]
