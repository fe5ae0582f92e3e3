"""The review queue in the Django admin: it calls the same services as the API, and says no politely."""

from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse

from marketplace import services
from marketplace.choices import AgentStatus, ReviewDecision
from marketplace.models import Agent, AgentReview

CHANGELIST = reverse("admin:marketplace_agent_changelist")
QUEUE = f"{CHANGELIST}?status=submitted"


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def submitted(make_agent, owner, **fields) -> Agent:
    agent = make_agent(created_by=owner, **fields)
    services.agent_submit(agent=agent, user=owner)
    agent.refresh_from_db()
    return agent


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def reviewer(carol):
    """carol holds the review permission (Reviewers group); the admin also needs her to be staff."""
    carol.is_staff = True
    carol.save(update_fields=["is_staff"])
    return carol


@pytest.fixture
def clerk(make_user):
    """Staff who may view and edit agents, but not review them."""
    user = make_user("frank")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="marketplace", codename__in=["view_agent", "change_agent"])
    )
    return user


def test_changelist_opens_on_the_review_queue(dave, bob, make_agent):
    # given
    waiting = submitted(make_agent, bob, name="Waiting Agent")
    make_agent(created_by=bob, name="Draft Agent")
    make_agent(created_by=bob, name="Live Agent", status=AgentStatus.ACTIVE, is_public=True)
    client = login(dave)
    # when
    bare = client.get(CHANGELIST)
    queue = client.get(bare["Location"])
    everything = client.get(f"{CHANGELIST}?status=all")
    # then
    assert bare.status_code == 302
    assert bare["Location"] == QUEUE
    assert [agent.pk for agent in queue.context["cl"].result_list] == [waiting.pk]
    assert everything.status_code == 200
    assert everything.context["cl"].result_count == 3


def test_queue_keeps_other_filters_when_it_adds_the_status(dave):
    # when
    response = login(dave).get(f"{CHANGELIST}?q=invoice")
    # then
    assert response.status_code == 302
    assert "q=invoice" in response["Location"] and "status=submitted" in response["Location"]


def test_search_finds_agents_by_tag(dave, bob, make_agent):
    # given
    tagged = make_agent(created_by=bob, tags=["accounts-payable"])
    make_agent(created_by=bob, tags=["other"])
    # when
    response = login(dave).get(f"{CHANGELIST}?status=all&q=accounts-payable")
    # then
    assert [agent.pk for agent in response.context["cl"].result_list] == [tagged.pk]


def test_reviewer_approves_a_submitted_agent_from_the_list(reviewer, bob, make_agent):
    # given
    agent = submitted(make_agent, bob)
    # when
    response = login(reviewer).post(
        QUEUE, {"action": "approve_selected", "_selected_action": [agent.pk], "index": 0}, follow=True
    )
    # then
    agent.refresh_from_db()
    assert agent.status == AgentStatus.APPROVED
    assert agent.is_public
    review = AgentReview.objects.get(agent=agent)
    assert (review.reviewer, review.decision) == (reviewer, ReviewDecision.APPROVED)
    assert agent.current_version == review.version
    assert f"Approved “{agent.name}”." in messages_of(response)


def test_reject_asks_for_a_reason_then_records_it(reviewer, bob, make_agent):
    # given
    agent = submitted(make_agent, bob)
    client = login(reviewer)
    # when: the action shows the confirmation page
    page = client.post(QUEUE, {"action": "reject_selected", "_selected_action": [agent.pk], "index": 0})
    # then
    assert page.status_code == 200
    assert "admin/marketplace/agent/review.html" in [template.name for template in page.templates]
    assert Agent.objects.get(pk=agent.pk).status == AgentStatus.SUBMITTED

    # when: confirmed without a reason
    blank = client.post(
        QUEUE, {"action": "reject_selected", "_selected_action": [agent.pk], "confirm": "yes", "reason": "  "}
    )
    # then
    assert blank.status_code == 200
    assert blank.context["form"].errors["reason"]
    assert Agent.objects.get(pk=agent.pk).status == AgentStatus.SUBMITTED
    assert not AgentReview.objects.exists()

    # when: confirmed with a reason
    done = client.post(
        QUEUE,
        {
            "action": "reject_selected",
            "_selected_action": [agent.pk],
            "confirm": "yes",
            "reason": "The endpoint does not answer /health.",
        },
    )
    # then
    assert done.status_code == 302
    agent.refresh_from_db()
    assert agent.status == AgentStatus.REJECTED
    review = AgentReview.objects.get(agent=agent)
    assert (review.reviewer, review.decision, review.reason) == (
        reviewer,
        ReviewDecision.REJECTED,
        "The endpoint does not answer /health.",
    )


def test_reviewer_cannot_approve_their_own_agent(reviewer, make_agent):
    # given
    own = submitted(make_agent, reviewer)
    # when
    response = login(reviewer).post(
        QUEUE, {"action": "approve_selected", "_selected_action": [own.pk], "index": 0}, follow=True
    )
    # then
    assert response.status_code == 200
    assert Agent.objects.get(pk=own.pk).status == AgentStatus.SUBMITTED
    assert not AgentReview.objects.exists()
    assert any("own agent" in message for message in messages_of(response))


def test_each_agent_gets_its_own_outcome(reviewer, bob, make_agent):
    # given: one reviewable agent, one of the reviewer's own and one that is only a draft
    good = submitted(make_agent, bob)
    own = submitted(make_agent, reviewer)
    draft = make_agent(created_by=bob)
    # when
    response = login(reviewer).post(
        f"{CHANGELIST}?status=all",
        {"action": "approve_selected", "_selected_action": [good.pk, own.pk, draft.pk], "index": 0},
        follow=True,
    )
    # then
    statuses = dict(Agent.objects.values_list("pk", "status"))
    assert statuses == {good.pk: AgentStatus.APPROVED, own.pk: AgentStatus.SUBMITTED, draft.pk: AgentStatus.DRAFT}
    messages = messages_of(response)
    assert any(own.name in message and "own agent" in message for message in messages)
    assert any(draft.name in message and "draft" in message for message in messages)


def test_staff_without_the_review_permission_gets_no_review_actions(clerk, bob, make_agent):
    # given
    agent = submitted(make_agent, bob)
    client = login(clerk)
    # when
    page = client.get(QUEUE)
    attempt = client.post(QUEUE, {"action": "approve_selected", "_selected_action": [agent.pk], "index": 0})
    button = client.post(reverse("admin:marketplace_agent_approve", args=[agent.pk]))
    # then
    assert page.status_code == 200
    actions = [name for name, _ in page.context["action_form"].fields["action"].choices]
    assert "approve_selected" not in actions and "reject_selected" not in actions
    assert attempt.status_code == 302  # back to the list with "No action selected"; nothing happens
    assert button.status_code == 403
    assert Agent.objects.get(pk=agent.pk).status == AgentStatus.SUBMITTED
    assert not AgentReview.objects.exists()


def test_reviewer_sees_the_review_actions(reviewer):
    # when
    page = login(reviewer).get(QUEUE)
    # then
    actions = [name for name, _ in page.context["action_form"].fields["action"].choices]
    assert {"approve_selected", "reject_selected"} <= set(actions)


def test_change_page_buttons_approve_and_reject(reviewer, bob, make_agent):
    # given
    first, second = submitted(make_agent, bob), submitted(make_agent, bob)
    client = login(reviewer)
    # when
    change_page = client.get(reverse("admin:marketplace_agent_change", args=[first.pk]))
    approved = client.post(reverse("admin:marketplace_agent_approve", args=[first.pk]), {"reason": "Looks good."})
    refused = client.post(reverse("admin:marketplace_agent_reject", args=[second.pk]), {"reason": ""})
    rejected = client.post(reverse("admin:marketplace_agent_reject", args=[second.pk]), {"reason": "No tests."})
    # then
    assert reverse("admin:marketplace_agent_approve", args=[first.pk]) in change_page.content.decode()
    assert approved.status_code == 302
    assert refused.status_code == 200 and refused.context["form"].errors["reason"]
    assert rejected.status_code == 302
    assert dict(Agent.objects.values_list("pk", "status")) == {
        first.pk: AgentStatus.APPROVED,
        second.pk: AgentStatus.REJECTED,
    }
    assert AgentReview.objects.get(agent=first).reason == "Looks good."
    assert AgentReview.objects.get(agent=second).reason == "No tests."


def test_change_page_shows_validation_errors_version_and_decisions(dave, reviewer, bob, make_agent):
    # given: a submission that was rejected, then a draft that failed validation
    agent = submitted(
        make_agent,
        bob,
        config_schema={"type": "object", "properties": {"language": {"type": "string"}}},
    )
    services.agent_reject(agent=agent, reviewer=reviewer, reason="Describe the supported languages.")
    Agent.objects.filter(pk=agent.pk).update(
        validation_errors=[{"field": "endpoint_url", "message": "Must be a public address."}]
    )
    # when
    response = login(dave).get(reverse("admin:marketplace_agent_change", args=[agent.pk]))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Must be a public address." in html
    assert "http://127.0.0.1:8001" in html  # the submitted version's endpoint
    assert "&quot;language&quot;: {" in html  # the config schema, pretty-printed
    assert "Describe the supported languages." in html
    assert "carol" in html


@pytest.mark.django_db
def test_every_admin_page_loads_for_a_superuser(dave, settings):
    # given: the demo data, so every model has rows
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", stdout=StringIO())
    client = login(dave)
    request = RequestFactory().get("/admin/")
    request.user = dave
    # when / then
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"), follow=True)
        assert changelist.status_code == 200, f"{opts.label} changelist"
        if model_admin.has_add_permission(request):
            add = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
            assert add.status_code == 200, f"{opts.label} add page"
        for obj in model._default_manager.all()[:3]:
            change = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
            assert change.status_code == 200, f"{opts.label} change page of {obj.pk}"
    facets = client.get(f"{CHANGELIST}?status=all&_facets=True")
    assert facets.status_code == 200
