"""Privacy of what users own, as queryset scoping written once.

A view over user-owned rows (hirings, executions, tasks, payments, keys...) mixes in
`OwnedQuerysetMixin` and names the owner field. Every method and every action then looks objects
up in the scoped queryset, so another user's object is a 404 (never a 403), and lists, filters
and searches cannot reach rows of someone else. Staff see everything only where a view says so.

Pages and selectors use the same rule through `owned_by()`::

    key = get_object_or_404(owned_by(ApiKey.objects.all(), user=request.user), pk=key_id)

`agenthub/tests/test_privacy.py` walks the URL configuration: a route that takes an id must have
an entry there saying how to make an object owned by one user and that another user gets 404.
"""

from django.db.models import QuerySet


def owned_by(queryset: QuerySet, *, user, owner_field: str = "user", staff_sees_all: bool = False) -> QuerySet:
    """The rows of `queryset` that `user` owns (`owner_field` may span relations, e.g. "hiring__user")."""
    if user is None or not user.is_authenticated:
        return queryset.none()
    if staff_sees_all and user.is_staff:
        return queryset
    return queryset.filter(**{owner_field: user})


class OwnedQuerysetMixin:
    owner_field = "user"
    staff_sees_all = False

    def get_queryset(self) -> QuerySet:
        return owned_by(super().get_queryset(), user=self.request.user, owner_field=self.owner_field,
                        staff_sees_all=self.staff_sees_all)
