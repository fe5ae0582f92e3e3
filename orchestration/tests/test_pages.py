"""The pages for hiring and running agents: hire, my hirings, run, an execution, the history."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace import hirings
from marketplace.choices import AgentStatus, PricingModel
from marketplace.models import Hiring
from marketplace.tests.factories import agent_make, listed
from orchestration.models import Execution, ExecutionAttempt, ExecutionStatus, HealthCheck

pytestmark = pytest.mark.django_db

SCHEMA = {
    "type": "object",
    "properties": {
        "language": {"type": "string", "enum": ["en", "es", "fr"], "description": "Language of the summary."},
        "maxWords": {"type": "integer", "minimum": 1, "maximum": 500, "default": 120},
        "bullets": {"type": "boolean", "default": True},
        "limits": {"type": "object", "properties": {"maxChars": {"type": "integer", "minimum": 1}}},
    },
    "required": ["language"],
    "additionalProperties": False,
}
ECHO_INPUTS = ["message (string)", "prefix (string, optional)"]


@pytest.fixture
def agent(alice):
    return listed(created_by=alice, slug="summarizer", name="Summarizer", config_schema=SCHEMA,
                  inputs=["text", "max_words (optional)"])


@pytest.fixture
def echo(alice):
    return listed(created_by=alice, slug="echo", name="Echo Agent", inputs=ECHO_INPUTS,
                  pricing_model=PricingModel.FREE, price_per_use=Decimal("0"), transport="hosted", endpoint_url="")


def login(client, user):
    client.force_login(user)
    return client


def run_of(user, agent, status=ExecutionStatus.COMPLETED, **fields) -> Execution:
    """An execution row in the state a test needs (no agent is called)."""
    now = timezone.now()
    values = {"input": {"message": "hi"}}
    if status != ExecutionStatus.PENDING:
        values["started_at"] = now - timedelta(seconds=2)
        values["attempt_count"] = 1
    if status not in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING):
        values.update(completed_at=now, duration_ms=1234)
    values.update(fields)
    return Execution.objects.create(user=user, agent=agent, status=status, **values)


def execution_url(execution, name="execution_detail") -> str:
    return reverse(f"orchestration:{name}", args=[execution.pk])


# --- Login and privacy ------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client, agent, eve):
    execution = run_of(eve, agent)
    hiring = hirings.hiring_create(user=eve, agent=agent, config={"language": "en"})
    urls = [
        reverse("orchestration:hire", args=["summarizer"]), reverse("orchestration:run", args=["summarizer"]),
        reverse("orchestration:my_hirings"), reverse("orchestration:my_executions"),
        execution_url(execution), execution_url(execution, "execution_panel"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login") + "?next="), url
    assert client.post(execution_url(execution, "execution_cancel")).status_code == 302
    assert client.post(reverse("orchestration:hiring_cancel", args=[hiring.pk])).status_code == 302
    assert Execution.objects.get(pk=execution.pk).status == "completed"


def test_another_users_execution_or_hiring_is_a_404(client, agent, eve, bob):
    execution = run_of(eve, agent, ExecutionStatus.RUNNING)
    hiring = hirings.hiring_create(user=eve, agent=agent, config={"language": "en"})
    login(client, bob)

    assert client.get(execution_url(execution)).status_code == 404
    assert client.get(execution_url(execution, "execution_panel")).status_code == 404
    assert client.post(execution_url(execution, "execution_cancel")).status_code == 404
    assert client.post(reverse("orchestration:hiring_cancel", args=[hiring.pk])).status_code == 404
    assert Execution.objects.get(pk=execution.pk).status == "running"
    assert Hiring.objects.get(pk=hiring.pk).status == "active"
    assert "Summarizer" not in client.get(reverse("orchestration:my_hirings")).content.decode()
    assert execution.execution_id not in client.get(reverse("orchestration:my_executions")).content.decode()


def test_a_draft_agent_is_a_404_to_others(client, alice, eve):
    agent_make(created_by=alice, slug="secret-draft")
    login(client, eve)

    assert client.get(reverse("orchestration:hire", args=["secret-draft"])).status_code == 404
    assert client.get(reverse("orchestration:run", args=["secret-draft"])).status_code == 404


# --- Hire ---------------------------------------------------------------------------------------------


def test_the_hire_form_is_generated_from_the_config_schema(client, agent, eve):
    response = login(client, eve).get(reverse("orchestration:hire", args=["summarizer"]))

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<select name="config.language"[^>]*aria-required="true"', html)
    max_words = re.search(r'<input[^>]*name="config.maxWords"[^>]*>', html).group()
    assert all(part in max_words for part in ('type="number"', 'value="120"', 'min="1"', 'max="500"'))
    assert re.search(r'<input type="checkbox" name="config.bullets"[^>]*checked', html)
    assert "<legend>Limits" in html and 'name="config.limits.maxChars"' in html
    assert "Language of the summary." in html
    assert 'name="billing_cycle"' in html


def test_hiring_with_a_valid_config_goes_to_my_hirings(client, agent, eve):
    response = login(client, eve).post(reverse("orchestration:hire", args=["summarizer"]), {
        "config.language": "es", "config.maxWords": "80", "config.limits.maxChars": "", "billing_cycle": "per_use",
    })

    hiring = Hiring.objects.get(user=eve, agent=agent)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('orchestration:my_hirings')}#hiring-{hiring.pk}"
    # The unticked box is false (it has a default); the empty nested object is left out.
    assert hiring.config == {"language": "es", "maxWords": 80, "bullets": False}
    assert hiring.status == "active" and hiring.billing_cycle == "per_use"


def test_config_problems_are_shown_next_to_their_inputs(client, agent, eve):
    response = login(client, eve).post(reverse("orchestration:hire", args=["summarizer"]), {
        "config.maxWords": "900", "config.limits.maxChars": "0", "config.bullets": "on",
    })

    assert response.status_code == 400
    assert not Hiring.objects.exists()
    form = response.context["form"]
    assert form.errors["config.language"] == ["This field is required."]
    assert "900 is greater than the maximum of 500" in form.errors["config.maxWords"][0]
    assert "0 is less than the minimum of 1" in form.errors["config.limits.maxChars"][0]
    html = response.content.decode()
    assert "fix the 3 fields marked below" in html
    assert 'value="900"' in html  # what was typed is kept


def test_a_value_of_the_wrong_shape_is_refused_before_the_service(client, agent, eve):
    response = login(client, eve).post(reverse("orchestration:hire", args=["summarizer"]),
                                       {"config.language": "en", "config.maxWords": "lots"})

    assert response.status_code == 400
    assert response.context["form"].errors["config.maxWords"] == ["Enter a whole number."]
    assert not Hiring.objects.exists()


def test_hiring_an_agent_already_hired_or_not_live(client, agent, alice, eve):
    hirings.hiring_create(user=eve, agent=agent, config={"language": "en"})
    login(client, eve)

    page = client.get(reverse("orchestration:hire", args=["summarizer"]))
    assert "You already hire this agent." in page.content.decode()
    client.post(reverse("orchestration:hire", args=["summarizer"]), {"config.language": "fr"})
    assert Hiring.objects.filter(user=eve).count() == 1

    agent_make(created_by=alice, slug="alices-draft", is_public=True, config_schema=SCHEMA)
    login(client, alice)
    response = client.post(reverse("orchestration:hire", args=["alices-draft"]), {"config.language": "fr"})
    assert "cannot be hired right now" in response.content.decode()
    assert not Hiring.objects.filter(user=alice).exists()


def test_an_agent_without_a_config_schema_is_hired_with_an_empty_config(client, echo, eve):
    page = login(client, eve).get(reverse("orchestration:hire", args=["echo"]))
    assert "This agent takes no configuration." in page.content.decode()

    response = client.post(reverse("orchestration:hire", args=["echo"]), {"billing_cycle": "per_use"})

    assert response.status_code == 302
    assert Hiring.objects.get(user=eve, agent=echo).config == {}


def test_a_subscription_agent_is_hired_monthly(client, alice, eve, fund):
    fund(eve, "10")
    listed(created_by=alice, slug="monthly", pricing_model=PricingModel.SUBSCRIPTION, monthly_price=Decimal("9"))
    page = login(client, eve).get(reverse("orchestration:hire", args=["monthly"]))
    assert [value for value, _ in page.context["form"].fields["billing_cycle"].choices] == ["monthly"]

    client.post(reverse("orchestration:hire", args=["monthly"]), {"billing_cycle": "monthly"})

    hiring = Hiring.objects.get(user=eve)
    assert hiring.billing_cycle == "monthly" and hiring.expires_at is not None


# --- My hirings -----------------------------------------------------------------------------------------


def test_my_hirings_lists_status_counters_and_actions(client, agent, echo, eve):
    active = hirings.hiring_create(user=eve, agent=agent, config={"language": "en"})
    Hiring.objects.filter(pk=active.pk).update(total_executions=7, last_executed_at=timezone.now())
    old = hirings.hiring_cancel(hiring=hirings.hiring_create(user=eve, agent=echo))

    response = login(client, eve).get(reverse("orchestration:my_hirings"))

    html = response.content.decode()
    rows = re.findall(r'<tr id="hiring-([0-9a-f-]+)" data-hiring="([\w-]+)">', html)
    assert rows == [(str(old.pk), "echo"), (str(active.pk), "summarizer")]
    assert reverse("orchestration:run", args=["summarizer"]) in html
    assert reverse("orchestration:hiring_cancel", args=[active.pk]) in html
    assert reverse("orchestration:hiring_cancel", args=[old.pk]) not in html  # only an active one is cancelled
    assert f'{reverse("orchestration:my_executions")}?agent=summarizer">7</a>' in html
    assert "Does not expire" in html
    assert "&quot;language&quot;: &quot;en&quot;" in html  # its configuration, escaped

    only_active = client.get(reverse("orchestration:my_hirings") + "?status=active").content.decode()
    assert f"hiring-{active.pk}" in only_active and f"hiring-{old.pk}" not in only_active


def test_cancelling_a_hiring(client, agent, eve):
    hiring = hirings.hiring_create(user=eve, agent=agent, config={"language": "en"})
    login(client, eve)
    url = reverse("orchestration:hiring_cancel", args=[hiring.pk])

    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)

    assert Hiring.objects.get(pk=hiring.pk).status == "cancelled"
    assert "Your hiring of “Summarizer” is cancelled." in response.content.decode()
    again = client.post(url, follow=True)
    assert "only an active hiring can be cancelled" in again.content.decode()


def test_no_hirings_yet(client, eve):
    html = login(client, eve).get(reverse("orchestration:my_hirings")).content.decode()

    assert "You have not hired any agents yet." in html


# --- Run --------------------------------------------------------------------------------------------------


def test_the_run_form_is_prefilled_with_an_example_input(client, echo, eve):
    response = login(client, eve).get(reverse("orchestration:run", args=["echo"]))

    assert response.status_code == 200
    form = response.context["form"]
    assert json.loads(form["input"].value()) == {"message": "Hello World!", "prefix": "Echo: "}
    html = response.content.decode()
    assert 'name="input.message" value="Hello World!"' in html  # the same example, as fields
    assert 'name="mode" value="form"' in html
    assert 'data-api-url="/api/agents/echo/execute"' in html


def test_an_agent_whose_inputs_are_not_plain_gets_a_json_box(client, alice, eve):
    listed(created_by=alice, slug="invoices", inputs=["Invoice documents (PDF, image, UBL XML)"])

    response = login(client, eve).get(reverse("orchestration:run", args=["invoices"]))

    assert response.context["fields_form"] is None
    assert json.loads(response.context["form"]["input"].value()) == {}
    html = response.content.decode()
    assert 'name="mode"' not in html
    assert "This agent reads: Invoice documents (PDF, image, UBL XML)." in html


def test_running_with_json_goes_to_the_execution_page(client, echo, eve):
    response = login(client, eve).post(reverse("orchestration:run", args=["echo"]), {
        "mode": "json", "input": '{"message": "<b>hi</b>"}', "input.message": "ignored",
        "idempotency_key": "web-1",
    })

    execution = Execution.objects.get(user=eve)
    assert response.status_code == 302
    assert response["Location"] == execution_url(execution)
    assert execution.input == {"message": "<b>hi</b>"}
    assert execution.agent == echo and execution.source == "web" and execution.status == "pending"


def test_running_with_the_fields(client, echo, eve):
    login(client, eve).post(reverse("orchestration:run", args=["echo"]), {
        "mode": "form", "input.message": "Hello", "input.prefix": "", "input": "not even json",
    })

    assert Execution.objects.get(user=eve).input == {"message": "Hello"}


def test_a_double_submit_is_one_run_and_a_changed_input_is_another(client, echo, eve):
    login(client, eve)
    url = reverse("orchestration:run", args=["echo"])
    body = {"mode": "json", "input": '{"message": "once"}', "idempotency_key": "web-abc"}

    first = client.post(url, body)
    second = client.post(url, body)
    third = client.post(url, {**body, "input": '{"message": "twice"}'})  # the back button, then an edit

    assert first["Location"] == second["Location"]
    assert third["Location"] != first["Location"]
    assert Execution.objects.filter(user=eve).count() == 2


@pytest.mark.parametrize("text, message", [
    ("{nope", "Enter valid JSON"),
    ("[1, 2]", "The input must be a JSON object"),
    ("", "The input must be a JSON object"),
])
def test_bad_json_input_is_refused(client, echo, eve, text, message):
    response = login(client, eve).post(reverse("orchestration:run", args=["echo"]), {"mode": "json", "input": text})

    assert response.status_code == 400
    assert message in response.context["form"].errors["input"][0]
    assert not Execution.objects.exists()


def test_a_subscription_agent_must_be_hired_first(client, alice, eve):
    listed(created_by=alice, slug="monthly", pricing_model=PricingModel.SUBSCRIPTION, monthly_price=Decimal("9"))
    login(client, eve)

    page = client.get(reverse("orchestration:run", args=["monthly"]))
    assert reverse("orchestration:hire", args=["monthly"]) in page.content.decode()
    response = client.post(reverse("orchestration:run", args=["monthly"]), {"input": '{"text": "x"}'})

    assert response.status_code == 400
    assert "hire it first" in response.content.decode()
    assert not Execution.objects.exists()


def test_a_paid_run_needs_the_money_on_the_wallet(client, agent, eve):
    login(client, eve)
    response = client.post(reverse("orchestration:run", args=["summarizer"]), {"mode": "json", "input": "{}"})
    assert "0.0000 BB is available" in response.content.decode() or "0 BB is available" in response.content.decode()
    assert not Execution.objects.exists()


def test_a_run_uses_the_chosen_hiring(client, agent, eve, fund):
    fund(eve)
    hiring = hirings.hiring_create(user=eve, agent=agent, config={"language": "fr"})
    login(client, eve)

    page = client.get(reverse("orchestration:run", args=["summarizer"]))
    assert f'<option value="{hiring.pk}" selected>' in page.content.decode()
    client.post(reverse("orchestration:run", args=["summarizer"]),
                {"mode": "json", "input": '{"text": "Long text."}', "hiring": str(hiring.pk)})

    execution = Execution.objects.get(user=eve)
    assert execution.hiring == hiring and execution.config == {"language": "fr"}


def test_an_agent_that_is_not_live_does_not_run(client, alice):
    agent_make(created_by=alice, slug="my-draft", status=AgentStatus.DRAFT)
    login(client, alice)

    response = client.post(reverse("orchestration:run", args=["my-draft"]), {"input": "{}"})

    assert "cannot run right now" in response.content.decode()
    assert not Execution.objects.exists()


# --- The execution page -------------------------------------------------------------------------------------


def test_a_completed_execution_with_its_output_timeline_attempts_and_resources(client, echo, eve):
    execution = run_of(eve, echo, output={"response": "Echo: <script>alert(1)</script>"},
                       cost=Decimal("0.0250"), cpu_usage=0.0123, memory_usage=15.24, disk_usage=0.5)
    ExecutionAttempt.objects.create(execution=execution, number=1, outcome="transient_error", error="HTTP 503",
                                    started_at=execution.started_at, duration_ms=40, worker="w1")
    ExecutionAttempt.objects.create(execution=execution, number=2, outcome="completed",
                                    started_at=execution.started_at, duration_ms=900, worker="w1")

    response = login(client, eve).get(execution_url(execution))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="execution-status">Completed</span>' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "Completed in 1.23 s." in html
    assert "0.025 BB" in html
    assert "0.012 s" in html and "15.2 MB" in html and "0.5 MB" in html
    assert re.findall(r"timeline__item--(\w+)", html) == ["pending", "running", "completed"]
    assert "Transient error" in html and "HTTP 503" in html and "900 ms" in html
    assert "Cancel run" not in html
    assert '<meta http-equiv="refresh"' not in html  # nothing left to wait for


def test_a_failed_execution_shows_its_error(client, echo, eve):
    execution = run_of(eve, echo, ExecutionStatus.FAILED, error="The agent answered 400: bad <input>",
                       error_code="agent_failed")

    html = login(client, eve).get(execution_url(execution)).content.decode()

    assert 'data-testid="execution-status">Failed</span>' in html
    assert "<code>agent_failed</code> The agent answered 400: bad &lt;input&gt;" in html
    assert "No output." in html


def test_a_running_execution_can_be_cancelled_and_refreshes_itself(client, echo, eve):
    execution = run_of(eve, echo, ExecutionStatus.RUNNING)
    login(client, eve)

    html = client.get(execution_url(execution)).content.decode()
    assert "Running since" in html and "Cancel run" in html
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html
    assert re.findall(r"timeline__item--(\w+)", html)[:3] == ["pending", "running", "current"]
    assert f'data-api-url="/api/executions/{execution.pk}"' in html

    response = client.post(execution_url(execution, "execution_cancel"), follow=True)

    execution.refresh_from_db()
    assert execution.status == "cancelled" and execution.completed_at is not None
    assert "The run was cancelled." in response.content.decode()
    again = client.post(execution_url(execution, "execution_cancel"), follow=True)
    assert "it can no longer be cancelled" in again.content.decode()


def test_a_pending_execution_has_no_attempt_yet(client, echo, eve):
    execution = run_of(eve, echo, ExecutionStatus.PENDING)

    html = login(client, eve).get(execution_url(execution)).content.decode()

    assert "Queued, waiting for a worker" in html
    assert "No attempt yet" in html
    assert re.findall(r"timeline__item--(\w+)", html) == ["pending", "current", "running", "todo", "finished", "todo"]


def test_the_panel_is_the_live_part_of_the_page(client, echo, eve):
    execution = run_of(eve, echo, output={"response": "Echo: hi"})

    response = login(client, eve).get(execution_url(execution, "execution_panel"))

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div class="run-panel"') and "<html" not in html
    assert "Echo: hi" in html


# --- History -----------------------------------------------------------------------------------------------------


def test_the_history_filters_by_agent_status_and_dates(client, agent, echo, eve, bob):
    today = timezone.now()
    a = run_of(eve, echo)
    b = run_of(eve, echo, ExecutionStatus.FAILED, error="boom")
    c = run_of(eve, agent)
    d = run_of(eve, agent, ExecutionStatus.RUNNING)
    Execution.objects.filter(pk=d.pk).update(created_at=today - timedelta(days=10))
    run_of(bob, echo)
    login(client, eve)

    def shown(query="") -> set:
        html = client.get(reverse("orchestration:my_executions") + query).content.decode()
        return set(re.findall(r'data-execution="([0-9a-f-]+)"', html))

    assert shown() == {str(x.pk) for x in (a, b, c, d)}
    assert shown("?agent=echo") == {str(a.pk), str(b.pk)}
    assert shown("?status=failed") == {str(b.pk)}
    assert shown("?agent=echo&status=completed") == {str(a.pk)}
    since = (today - timedelta(days=2)).date().isoformat()
    assert shown(f"?date_from={since}") == {str(x.pk) for x in (a, b, c)}
    until = (today - timedelta(days=5)).date().isoformat()
    assert shown(f"?date_to={until}") == {str(d.pk)}
    assert shown("?status=nonsense") == set()  # an invalid filter shows its error, not every run


def test_the_history_paginates(client, echo, eve):
    for _ in range(23):
        run_of(eve, echo)
    login(client, eve)

    first = client.get(reverse("orchestration:my_executions"))
    second = client.get(reverse("orchestration:my_executions") + "?page=2")

    assert len(first.context["executions"]) == 20 and len(second.context["executions"]) == 3
    assert 'href="?page=2"' in first.content.decode()
    assert "23 runs" in first.content.decode()


def test_the_history_agent_filter_lists_only_agents_run(client, agent, echo, eve):
    run_of(eve, echo)

    form = login(client, eve).get(reverse("orchestration:my_executions")).context["form"]

    assert form.fields["agent"].choices == [("", "All agents"), ("echo", "Echo Agent")]


def test_no_runs_yet(client, eve):
    html = login(client, eve).get(reverse("orchestration:my_executions")).content.decode()

    assert "You have not run an agent yet." in html


# --- Agent page and navigation ---------------------------------------------------------------------------------


def test_a_live_agent_page_offers_hire_and_run(client, agent, alice):
    html = client.get(reverse("marketplace:agent_detail", args=["summarizer"])).content.decode()
    assert reverse("orchestration:hire", args=["summarizer"]) in html
    assert reverse("orchestration:run", args=["summarizer"]) in html

    agent_make(created_by=alice, slug="unfinished")
    draft = login(client, alice).get(reverse("marketplace:agent_detail", args=["unfinished"])).content.decode()
    assert reverse("orchestration:hire", args=["unfinished"]) not in draft


def test_the_agent_page_shows_health_history_and_success_rate(client, agent):
    for ok, ms in [(True, 120), (False, 3000), (True, 95)]:
        HealthCheck.objects.create(agent=agent, ok=ok, response_ms=ms, detail="" if ok else "HTTP 503")
    agent.jobs_completed, agent.jobs_failed = 49, 1
    agent.save()

    response = client.get(reverse("marketplace:agent_detail", args=["summarizer"]))

    html = response.content.decode()
    assert 'data-testid="success-rate">98.0%<' in html
    assert "Up 2 of 3 checks" in html
    assert html.count("health-strip__tick--down") == 1
    chart = response.context["health_chart"]
    assert chart["response_ms"] == [120, 3000, 95] and chart["ok"] == [True, False, True]
    assert 'id="health-data"' in html and "js/health-chart.js" in html


def test_an_agent_never_checked_has_no_health_panel(client, agent):
    html = client.get(reverse("marketplace:agent_detail", args=["summarizer"])).content.decode()

    assert 'data-testid="health-panel"' not in html
    assert 'data-testid="success-rate">—<' in html


def test_the_nav_links_to_my_hirings_and_runs_when_logged_in(client, eve):
    assert "My hirings" not in client.get("/").content.decode()

    html = login(client, eve).get("/").content.decode()

    assert f'href="{reverse("orchestration:my_hirings")}"' in html
    assert f'href="{reverse("orchestration:my_executions")}"' in html
