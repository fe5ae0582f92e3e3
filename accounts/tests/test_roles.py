"""Roles: user, creator (earned by publishing), reviewer (granted by admins), admin (a superuser)."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import User
from agenthub.errors import NotPermitted

pytestmark = pytest.mark.django_db


def role_of(api, user) -> tuple[str, list[str]]:
    body = api(user).get("/api/auth/me").json()
    return body["role"], body["roles"]


def test_the_role_groups_exist_with_their_permissions():
    creators = Group.objects.get(name="Creators")
    reviewers = Group.objects.get(name="Reviewers")

    assert {p.codename for p in creators.permissions.all()} == {"add_agent"}
    assert "review_agent" in {p.codename for p in reviewers.permissions.all()}


def test_each_role_as_the_api_reports_it(api, alice, carol, dave, eve):
    assert role_of(api, eve) == ("user", ["user"])
    assert role_of(api, carol) == ("reviewer", ["reviewer"])
    assert role_of(api, dave) == ("admin", ["admin"])


def test_publishing_a_first_agent_makes_a_creator(api, make_agent, eve, carol):
    agent = make_agent(created_by=eve, slug="first-agent")
    assert api(eve).post(f"/api/agents/{agent.slug}/submit").status_code == 200
    assert role_of(api, eve)[0] == "user"  # a draft or a submission is not yet published

    assert api(carol).post(f"/api/agents/{agent.slug}/approve", {"reason": "Fine."}, format="json").status_code == 200

    assert role_of(api, eve) == ("creator", ["creator"])
    assert User.objects.get(pk=eve.pk).has_perm("marketplace.add_agent")


def test_a_rejection_does_not_make_a_creator(api, make_agent, eve, carol):
    agent = make_agent(created_by=eve, slug="not-yet")
    api(eve).post(f"/api/agents/{agent.slug}/submit")

    api(carol).post(f"/api/agents/{agent.slug}/reject", {"reason": "Too vague."}, format="json")

    assert role_of(api, eve)[0] == "user"


def test_only_admins_grant_the_reviewer_role(eve, carol, dave):
    with pytest.raises(NotPermitted):
        services.role_grant(user=eve, role="reviewer", by=carol)
    with pytest.raises(NotPermitted):
        services.role_grant(user=eve, role="reviewer")

    services.role_grant(user=eve, role="reviewer", by=dave)

    eve.refresh_from_db()
    assert eve.role == "reviewer" and eve.is_staff and eve.has_perm("marketplace.review_agent")

    services.role_revoke(user=eve, role="reviewer", by=dave)
    eve = User.objects.get(pk=eve.pk)
    assert eve.role == "user" and not eve.is_staff and not eve.has_perm("marketplace.review_agent")


def test_admins_grant_reviewers_from_the_user_list(dave, eve):
    client = Client()
    client.force_login(dave)

    response = client.post(reverse("admin:accounts_user_changelist"),
                           {"action": "grant_reviewer", "_selected_action": [str(eve.pk)]})

    assert response.status_code == 302
    assert User.objects.get(pk=eve.pk).role == "reviewer"


def test_staff_who_are_not_superusers_cannot_make_reviewers(make_user, eve):
    clerk = make_user("clerk")
    User.objects.filter(pk=clerk.pk).update(is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client = Client()
    client.force_login(clerk)

    client.post(reverse("admin:accounts_user_changelist"),
                {"action": "grant_reviewer", "_selected_action": [str(eve.pk)]}, follow=True)

    assert User.objects.get(pk=eve.pk).role == "user"
