from collections import OrderedDict

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


class ArrayLimitOffsetPagination(LimitOffsetPagination):
    """Lists are bare JSON arrays (what both seed UIs expect).

    The total travels in X-Total-Count and the neighbouring pages in a Link header.
    `skip` is accepted for `offset` (seed 000's client). A limit above the maximum is
    capped; a limit or offset that is not a whole number is a 400 naming it.
    """

    default_limit = 50
    max_limit = 100
    known_count: int | None = None  # a view that knows the total (e.g. from a cache) sets it

    def describe(self, request, *, count: int, limit: int, offset: int) -> None:
        """Set up the headers of a page whose rows the view already has (e.g. from a cache)."""
        self.request, self.count, self.limit, self.offset = request, count, limit, offset

    def get_count(self, queryset) -> int:
        return self.known_count if self.known_count is not None else super().get_count(queryset)

    def _read(self, request, names: tuple[str, ...], default: int, minimum: int) -> int:
        for name in names:
            raw = request.query_params.get(name)
            if raw is None or raw == "":
                continue
            try:
                value = int(raw)
            except ValueError:
                raise ValidationError({name: [f"Must be a whole number, got {raw!r}."]}) from None
            if value < minimum:
                raise ValidationError({name: [f"Must be at least {minimum}."]})
            return value
        return default

    def get_limit(self, request):
        return min(self._read(request, ("limit",), self.default_limit, 1), self.max_limit)

    def get_offset(self, request):
        return self._read(request, ("offset", "skip"), 0, 0)

    def get_next_link(self):
        if self.offset + self.limit >= self.count:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), "skip")
        url = replace_query_param(url, self.limit_query_param, self.limit)
        return replace_query_param(url, self.offset_query_param, self.offset + self.limit)

    def get_previous_link(self):
        if self.offset <= 0:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), "skip")
        url = replace_query_param(url, self.limit_query_param, self.limit)
        return replace_query_param(url, self.offset_query_param, max(self.offset - self.limit, 0))

    def get_paginated_response(self, data):
        links = OrderedDict(next=self.get_next_link(), prev=self.get_previous_link())
        headers = {"X-Total-Count": str(self.count)}
        link_header = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items() if url)
        if link_header:
            headers["Link"] = link_header
        return Response(data, headers=headers)

    def get_paginated_response_schema(self, schema):
        return schema

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        parameters.append({
            "name": "skip", "required": False, "in": "query",
            "description": "Same as offset (seed 000 clients).", "schema": {"type": "integer"},
        })
        return parameters
