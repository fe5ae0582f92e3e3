"""Hiring and running agents in a real browser: the schema form, a run's result without a reload,
an execution page following its run, and the history."""

import os
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from demo_agents.hosted import PACKAGES, build_package
from marketplace import services as marketplace_services
from marketplace.choices import AgentStatus, PricingModel
from marketplace.demo_data import HOSTED_AGENTS
from marketplace.models import Agent, Hiring
from marketplace.tests.factories import agent_make, listed
from orchestration import services
from orchestration.models import Execution, ExecutionAttempt, ExecutionStatus, HealthCheck

# Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
# around it are still synchronous and safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ECHO = next(agent for agent in HOSTED_AGENTS if agent["slug"] == "echo")
RICH_SCHEMA = {
    "type": "object",
    "properties": {
        "language": {"type": "string", "enum": ["en", "es", "fr"], "description": "Language of the summary."},
        "maxWords": {"type": "integer", "minimum": 20, "maximum": 500, "default": 120},
        "bullets": {"type": "boolean", "default": True, "description": "Key points as a bulleted list."},
        "keywords": {"type": "array", "items": {"type": "string"}, "default": ["finance", "risk"]},
        "limits": {"type": "object", "description": "Hard limits per document.",
                   "properties": {"maxPages": {"type": "integer", "minimum": 1}, "timeoutSeconds": {"type": "number"}},
                   "required": ["maxPages"]},
        "glossary": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["language"],
}


def sign_in(page, live_server, user) -> None:
    """Give the browser `user`'s session cookie (the login page has its own test)."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{
        "name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }])


def hosted_echo(owner) -> Agent:
    """Seed 002's Echo agent, its real package uploaded (and hashed), then taken live."""
    agent = agent_make(
        created_by=owner, slug="echo", name=ECHO["name"], short_description=ECHO["short_description"],
        inputs=ECHO["inputs"], config_schema=ECHO["config_schema"], entry_point=PACKAGES["echo"],
        transport="hosted", endpoint_url="", pricing_model=PricingModel.FREE, price_per_use=Decimal("0"),
    )
    marketplace_services.agent_package_upload(agent=agent, user=owner, content=build_package("echo"),
                                              filename="echo.zip")
    Agent.objects.filter(pk=agent.pk).update(status=AgentStatus.ACTIVE, is_public=True)
    return Agent.objects.get(pk=agent.pk)


def shoot(page, path) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # or the sticky top bar lands mid-page in a full-page shot
    page.screenshot(path=str(path), full_page=True)


def status_of(page, scope: str = "") -> str:
    return page.locator(f"{scope} [data-testid=execution-status]".strip()).inner_text()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_hire_echo_with_a_generated_form_then_run_it_and_see_the_result_in_place(
    live_server, browser_page, artifacts, alice, eve
):
    # given: the hosted Echo package, run by the sandbox when a run is asked for
    hosted_echo(alice)
    page = browser_page
    sign_in(page, live_server, eve)

    # when: hire it from its page, first with a config the schema refuses
    page.goto(f"{live_server.url}/agents/echo/")
    page.get_by_test_id("agent-actions").get_by_role("link", name="Hire").click()
    page.wait_for_url("**/agents/echo/hire/")
    assert page.get_by_label("Prefix").input_value() == "Echo: "  # the schema's default
    page.get_by_label("Prefix").fill("Hey: ")
    page.get_by_label("Timeout").fill("999")
    page.get_by_role("button", name="Hire Echo Agent").click()

    # then: the problem is next to its input, and nothing was hired
    error = page.locator("[data-field='config.timeout'] .error")
    assert "999 is greater than the maximum of 300" in error.inner_text()
    assert not Hiring.objects.exists()
    shoot(page, artifacts / "runtime-hire-error.png")

    # when: fixed
    page.get_by_label("Timeout").fill("30")
    page.get_by_role("button", name="Hire Echo Agent").click()

    # then: My hirings lists it
    page.wait_for_url("**/my/hirings/*")
    assert Hiring.objects.get(user=eve).config == {"prefix": "Hey: ", "timeout": 30}
    assert "Echo Agent" in page.get_by_test_id("my-hirings").inner_text()
    shoot(page, artifacts / "runtime-my-hirings.png")

    # when: run it from there, through the JSON API (the page marks itself to prove it is not reloaded)
    page.get_by_role("link", name="Run", exact=True).click()
    page.wait_for_url("**/agents/echo/run/")
    assert page.locator("[name='input.message']").input_value() == "Hello World!"
    page.locator("[name='input.prefix']").fill("")  # so the hiring's prefix is used
    page.evaluate("window.__notReloaded = true")
    page.get_by_role("button", name="Run Echo Agent").click()

    # then: the result appears below the form
    result = page.locator("#run-panel")
    result.locator("[data-testid=execution-status]", has_text="Completed").wait_for(timeout=20_000)
    assert "Hey: Hello World!" in result.get_by_test_id("execution-output").inner_text()
    assert page.evaluate("window.__notReloaded") is True
    assert page.url.endswith("/agents/echo/run/")
    execution = Execution.objects.get(user=eve)
    assert execution.status == "completed" and execution.source == "api"
    assert execution.hiring.user == eve and execution.cpu_usage is not None
    shoot(page, artifacts / "runtime-run-result.png")

    # and: its page has the timeline and the attempt
    page.get_by_role("link", name="Open the run's page").click()
    page.wait_for_url(f"**/executions/{execution.pk}/")
    assert [item.get_attribute("class").split("--")[1].split()[0]
            for item in page.get_by_test_id("timeline").locator("li").all()] == ["pending", "running", "completed"]
    assert page.get_by_test_id("attempts").locator("tbody tr").count() == 1
    shoot(page, artifacts / "runtime-execution.png")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_run_page_shows_each_status_change_without_reloading(
    live_server, browser_page, artifacts, alice, eve, monkeypatch
):
    # given: no worker picks the run up; this test plays the worker
    listed(created_by=alice, slug="slowpoke", name="Slowpoke", inputs=["text"],
           pricing_model=PricingModel.FREE, price_per_use=Decimal("0"))
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    page = browser_page
    sign_in(page, live_server, eve)
    page.goto(f"{live_server.url}/agents/slowpoke/run/")
    page.evaluate("window.__notReloaded = true")

    # when
    page.locator("[name='input.text']").fill("A long day.")
    page.get_by_role("button", name="Run Slowpoke").click()
    panel = page.locator("#run-panel")
    panel.locator("[data-testid=execution-status]", has_text="Pending").wait_for()
    execution = Execution.objects.get(user=eve)
    assert execution.input == {"text": "A long day."}
    now = timezone.now()
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.RUNNING, started_at=now, attempt_count=1)
    ExecutionAttempt.objects.create(execution=execution, number=1, started_at=now, worker="test")

    # then
    panel.locator("[data-testid=execution-status]", has_text="Running").wait_for()
    shoot(page, artifacts / "runtime-run-running.png")

    # when
    Execution.objects.filter(pk=execution.pk).update(
        status=ExecutionStatus.COMPLETED, completed_at=now + timedelta(milliseconds=850), duration_ms=850,
        output={"summary": "<b>A long day.</b>"}, cost=Decimal("0.01"),
    )

    # then
    panel.locator("[data-testid=execution-status]", has_text="Completed").wait_for()
    assert panel.get_by_test_id("execution-output").inner_text() == '{\n  "summary": "<b>A long day.</b>"\n}'
    assert panel.locator("b").count() == 0  # shown as text, never as markup
    assert page.evaluate("window.__notReloaded") is True


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_execution_page_follows_its_run_and_can_cancel_it(live_server, browser_page, artifacts, alice, eve):
    agent = listed(created_by=alice, slug="summarizer", name="Summarizer")
    running = Execution.objects.create(user=eve, agent=agent, status=ExecutionStatus.RUNNING, input={"text": "x"},
                                       started_at=timezone.now(), attempt_count=1)
    page = browser_page
    sign_in(page, live_server, eve)

    # when: the run ends while the page is open
    page.goto(f"{live_server.url}/executions/{running.pk}/")
    assert status_of(page) == "Running"
    page.evaluate("window.__notReloaded = true")
    Execution.objects.filter(pk=running.pk).update(
        status=ExecutionStatus.FAILED, completed_at=timezone.now(), duration_ms=2100,
        error="The agent answered 503 three times.", error_code="agent_unavailable",
    )

    # then
    page.locator("[data-testid=execution-status]", has_text="Failed").wait_for()
    assert "answered 503 three times" in page.get_by_test_id("execution-error").inner_text()
    assert page.evaluate("window.__notReloaded") is True
    assert page.get_by_role("button", name="Cancel run").count() == 0
    shoot(page, artifacts / "runtime-execution-failed.png")

    # when: another one is cancelled from its page
    pending = Execution.objects.create(user=eve, agent=agent, input={"text": "y"})
    page.goto(f"{live_server.url}/executions/{pending.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel run").click()

    # then
    page.locator("[data-testid=execution-status]", has_text="Cancelled").wait_for()
    assert Execution.objects.get(pk=pending.pk).status == "cancelled"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_history_filters_and_the_agent_health_chart(live_server, browser_page, artifacts, alice, eve):
    summarizer = listed(created_by=alice, slug="summarizer", name="Summarizer", jobs_completed=97, jobs_failed=3,
                        config_schema=RICH_SCHEMA, inputs=["Documents (PDF, DOCX)", "A reading list"])
    echo = listed(created_by=alice, slug="echo", name="Echo Agent")
    start = timezone.now() - timedelta(minutes=30)
    for i in range(30):
        check = HealthCheck.objects.create(agent=summarizer, ok=i % 9 != 4, response_ms=90 + (i * 37) % 160,
                                           detail="" if i % 9 != 4 else "HTTP 503")
        HealthCheck.objects.filter(pk=check.pk).update(checked_at=start + timedelta(minutes=i))
    for i, (agent, status) in enumerate([(summarizer, "completed"), (echo, "completed"), (summarizer, "failed"),
                                         (echo, "running"), (summarizer, "completed")]):
        Execution.objects.create(user=eve, agent=agent, status=status, input={"n": i}, duration_ms=300 + i * 70,
                                 cost=Decimal("0.03"), error="Boom." if status == "failed" else "")
    page = browser_page
    sign_in(page, live_server, eve)

    # when
    page.goto(f"{live_server.url}/my/executions/")
    assert page.get_by_test_id("my-runs").locator("tbody tr").count() == 5
    filters = page.get_by_test_id("runs-filter")
    filters.get_by_label("Agent").select_option("summarizer")
    filters.get_by_label("Status").select_option("completed")
    filters.get_by_role("button", name="Apply").click()

    # then
    page.wait_for_url(re.compile(r".*agent=summarizer.*status=completed.*"))
    assert page.get_by_test_id("my-runs").locator("tbody tr").count() == 2
    shoot(page, artifacts / "runtime-history.png")

    # and: the agent's page draws its health history
    page.goto(f"{live_server.url}/agents/summarizer/")
    assert page.get_by_test_id("success-rate").inner_text() == "97.0%"
    page.wait_for_function("() => document.querySelector('canvas[data-health-chart]').width > 0")
    assert page.locator(".health-strip__tick--down").count() == 3
    page.get_by_test_id("health-panel").screenshot(path=str(artifacts / "runtime-health.png"))
    shoot(page, artifacts / "runtime-agent-detail.png")

    # and: a richer config schema makes a richer hire form; inputs that are not plain get a JSON box
    page.goto(f"{live_server.url}/agents/summarizer/hire/")
    assert page.locator("fieldset.schema-group legend").inner_text().startswith("Limits")
    assert page.get_by_label("Keywords").input_value() == "finance\nrisk"
    shoot(page, artifacts / "runtime-hire-form.png")
    page.goto(f"{live_server.url}/agents/summarizer/run/")
    assert page.locator("[name=mode]").count() == 0
    shoot(page, artifacts / "runtime-run-json.png")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_without_javascript_the_run_form_posts_and_lands_on_the_runs_page(
    live_server, browser_page, artifacts, alice, eve, monkeypatch, fund
):
    fund(eve)  # a paid agent: the run holds its price on eve's wallet
    listed(created_by=alice, slug="calculator", name="Calculator Agent",
           inputs=["operation (add | subtract | multiply | divide | average)", "numbers (list of numbers)"])
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)  # the run stays queued: no worker here
    context = browser_page.context.browser.new_context(java_script_enabled=False,
                                                       viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_server, eve)

    # when
    page.goto(f"{live_server.url}/agents/calculator/run/")
    assert page.locator("[data-mode-panel=json]").is_visible()  # both ways are offered; the radio decides
    page.get_by_label("Operation").select_option("multiply")
    page.get_by_label("Numbers").fill("6\n7")
    shoot(page, artifacts / "runtime-run-nojs.png")
    page.get_by_role("button", name="Run Calculator Agent").click()

    # then
    execution = Execution.objects.get(user=eve)
    page.wait_for_url(f"**/executions/{execution.pk}/")
    assert execution.input == {"operation": "multiply", "numbers": [6, 7]} and execution.source == "web"
    assert status_of(page) == "Pending"
    assert page.locator("noscript").count() == 1  # it refreshes itself while the run is live
    context.close()
