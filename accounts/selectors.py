"""Reads of accounts, each scoped to who asks: one's own keys and sessions, others' public profiles."""

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from accounts.models import ApiKey, Follow, LoginSession, User


def user_public_get(*, username: str, viewer: User | None = None) -> User:
    """An active user by username (any case) with follower counts; DoesNotExist otherwise."""
    users = User.objects.filter(is_active=True).annotate(
        follower_count=Count("follower_links", distinct=True),
        following_count=Count("following_links", distinct=True),
    ).prefetch_related("groups")
    if viewer is not None and viewer.is_authenticated:
        users = users.annotate(
            is_followed=Exists(Follow.objects.filter(follower=viewer, followed=OuterRef("pk")))
        )
    return users.get(username__iexact=username)


def user_public_agents(*, user: User):
    """The user's agents anyone may see: listed in the public catalog (drafts never show here)."""
    # The profile is where accounts meet the catalog; imported here to keep accounts below marketplace.
    from marketplace.selectors import agent_visible

    return agent_visible(user=None).filter(created_by=user).order_by("-created_at")


def user_followers(*, user: User) -> QuerySet[User]:
    """Who follows `user`, most recent first."""
    return (User.objects.filter(is_active=True, following_links__followed=user)
            .order_by("-following_links__created_at"))


def user_following(*, user: User) -> QuerySet[User]:
    """Whom `user` follows, most recent first."""
    return (User.objects.filter(is_active=True, follower_links__follower=user)
            .order_by("-follower_links__created_at"))


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("-created_at")


def session_list_active(*, user: User) -> QuerySet[LoginSession]:
    return LoginSession.objects.filter(user=user, ended_at__isnull=True, expires_at__gt=timezone.now())
