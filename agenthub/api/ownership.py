"""Privacy of what users own, as queryset scoping written once.

A view over user-owned rows (hirings, executions, tasks, payments, keys...) mixes in
`OwnedQuerysetMixin` and names the owner field. Every method and every action then looks objects
up in the scoped queryset, so another user's object is a 404 (never a 403), and lists, filters
and searches cannot reach rows of someone else. Staff see everything only where a view says so.
"""

from django.db.models import QuerySet


class OwnedQuerysetMixin:
    owner_field = "user"
    staff_sees_all = False

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        user = self.request.user
        if not user.is_authenticated:
            return queryset.none()
        if self.staff_sees_all and user.is_staff:
            return queryset
        return queryset.filter(**{self.owner_field: user})
