"""Follows and public profiles (seed 001's community)."""

import pytest

from accounts.models import Follow, User
from marketplace.tests.factories import listed

pytestmark = pytest.mark.django_db


def test_follow_and_unfollow(api, alice, bob):
    first = api(bob).post("/api/users/alice/follow")
    again = api(bob).post("/api/users/alice/follow")

    assert first.status_code == 201 and first.json() == {"username": "alice", "following": True, "followerCount": 1}
    assert again.status_code == 200 and again.json()["followerCount"] == 1
    assert Follow.objects.filter(follower=bob, followed=alice).count() == 1

    assert api(bob).delete("/api/users/alice/follow").status_code == 204
    assert api(bob).delete("/api/users/alice/follow").status_code == 204
    assert not Follow.objects.exists()


def test_following_yourself_is_400(api, alice):
    response = api(alice).post("/api/users/alice/follow")

    assert response.status_code == 400
    assert "username" in response.json()["error"]["fields"]
    assert not Follow.objects.exists()


def test_following_needs_a_login_and_an_existing_user(api, alice, bob):
    assert api().post("/api/users/alice/follow").status_code == 401
    assert api(bob).post("/api/users/nobody/follow").status_code == 404
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert api(bob).post("/api/users/alice/follow").status_code == 404


def test_the_public_profile(api, alice, bob, eve, make_agent):
    listed(created_by=alice, slug="alice-public", name="Alice Public")
    make_agent(created_by=alice, slug="alice-draft")
    Follow.objects.create(follower=bob, followed=alice)
    Follow.objects.create(follower=eve, followed=alice)
    Follow.objects.create(follower=alice, followed=bob)
    User.objects.filter(pk=alice.pk).update(bio="Builds agents.", website="https://alice.example.com")

    body = api().get("/api/users/ALICE").json()

    assert body["username"] == "alice" and body["fullName"] == "Alice Creator" and body["bio"] == "Builds agents."
    assert body["followerCount"] == 2 and body["followingCount"] == 1
    assert body["isFollowing"] is None
    assert [agent["id"] for agent in body["agents"]] == ["alice-public"]  # never a draft
    assert "email" not in body and "preferences" not in body
    assert api(bob).get("/api/users/alice").json()["isFollowing"] is True
    assert api(eve).get("/api/v1/users/bob").json()["is_following"] is False


def test_an_unknown_or_disabled_user_has_no_profile(api, alice):
    assert api().get("/api/users/nobody").status_code == 404
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert api().get("/api/users/alice").status_code == 404


def test_followers_and_following_lists(api, alice, bob, eve):
    Follow.objects.create(follower=bob, followed=alice)
    Follow.objects.create(follower=eve, followed=alice)
    Follow.objects.create(follower=alice, followed=eve)

    followers = api().get("/api/users/alice/followers")
    following = api().get("/api/users/alice/following")

    assert [user["username"] for user in followers.json()] == ["eve", "bob"]  # newest first
    assert followers["X-Total-Count"] == "2"
    assert followers.json()[0] == {"username": "eve", "fullName": "", "avatarUrl": ""}
    assert [user["username"] for user in following.json()] == ["eve"]
    assert api().get("/api/users/nobody/followers").status_code == 404
