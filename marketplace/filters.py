import django_filters as filters
from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import Q

from marketplace.choices import AgentStatus, PricingModel
from marketplace.models import Agent

ORDERINGS = {
    "trending": ("-trending_score", "-view_count"),
    "rating": ("-rating", "-rating_count"),
    "price": ("price_per_use",),
    "-price": ("-price_per_use",),
    "newest": ("-created_at",),
    "oldest": ("created_at",),
    "name": ("name",),
    "-name": ("-name",),
}


def _contains_all(queryset, field: str, values: list[str]):
    """JSON list `field` holds every value (GIN-indexable containment on PostgreSQL)."""
    for value in values:
        if connection.vendor == "postgresql":
            queryset = queryset.filter(**{f"{field}__contains": [value]})
        else:  # SQLite stores the list as JSON text
            queryset = queryset.filter(**{f"{field}__icontains": f'"{value}"'})
    return queryset


class CommaList(filters.BaseCSVFilter, filters.CharFilter):
    pass


class AgentFilterSet(filters.FilterSet):
    domain = filters.CharFilter(field_name="business_domain", lookup_expr="iexact")
    category = filters.CharFilter(field_name="business_domain", lookup_expr="iexact", help_text="Same as domain.")
    status = filters.MultipleChoiceFilter(choices=AgentStatus.choices)
    skills = CommaList(method="filter_skills", help_text="Comma-separated; the agent has every one.")
    tags = CommaList(method="filter_tags", help_text="Comma-separated; the agent has every one.")
    pricing_model = filters.ChoiceFilter(choices=PricingModel.choices)
    min_price = filters.NumberFilter(field_name="price_per_use", lookup_expr="gte")
    max_price = filters.NumberFilter(field_name="price_per_use", lookup_expr="lte")
    min_rating = filters.NumberFilter(field_name="rating", lookup_expr="gte")
    availability = filters.BooleanFilter()
    owner = filters.CharFilter(field_name="created_by__username", help_text="The creator's username.")
    search = filters.CharFilter(method="filter_search", help_text="Full-text match.")
    ordering = filters.ChoiceFilter(
        choices=[(key, key) for key in ORDERINGS], method="order", empty_label=None,
        help_text="trending, rating, price, -price, newest, oldest, name, -name (default newest).",
    )

    class Meta:
        model = Agent
        fields = []

    def filter_skills(self, queryset, name, value):
        return _contains_all(queryset, "skills", [v.strip() for v in value if v.strip()])

    def filter_tags(self, queryset, name, value):
        return _contains_all(queryset, "tags", [v.strip() for v in value if v.strip()])

    def filter_search(self, queryset, name, value):
        if not value.strip():
            return queryset
        if connection.vendor == "postgresql":
            return queryset.filter(search_vector=SearchQuery(value, search_type="websearch", config="english"))
        condition = Q()
        for field in ("name", "short_description", "description", "business_domain"):
            condition |= Q(**{f"{field}__icontains": value})
        return queryset.filter(condition)

    def order(self, queryset, name, value):
        return queryset.order_by(*ORDERINGS[value], "slug")
