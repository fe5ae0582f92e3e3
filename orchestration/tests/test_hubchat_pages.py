"""The HubChat and tasks pages: the conversation and its task cards, the no-JS forms (send,
confirm, cancel), the task list and its filters, one task with every step's choice and result;
then the same in a real browser, live, and end to end with the demo agents."""
# The browser fixtures are imported from tests/browser/conftest.py; a test naming one as an
# argument is not a redefinition.
# ruff: noqa: F811

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Account
from billing.services import account_for
from marketplace.tests.factories import listed
from orchestration.hubchat import services
from orchestration.models import Message, StepStatus, Task, TaskStatus, TaskStep
from tests.browser.conftest import artifacts, browser_page  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def agents(alice):
    return {
        "summarizer": listed(created_by=alice, slug="summarizer", name="Summarizer Agent", skills=["summarization"]),
        "translator": listed(created_by=alice, slug="translator", name="Translator Agent", skills=["translation"]),
        "mock-highprice": listed(created_by=alice, slug="mock-highprice", name="Premium Summarizer",
                                 skills=["summarization"]),
    }


@pytest.fixture
def no_worker(monkeypatch):
    """Tasks stay where the page left them: nothing plans or runs them (as with a busy worker)."""
    queued = []
    monkeypatch.setattr(services, "_enqueue", lambda name, pk: queued.append((name, str(pk))))
    return queued


def selection(agent, *, price="0.05", score=0.812, others=()) -> dict:
    chosen = {"agent": agent.slug, "name": agent.name, "score": score, "price": price,
              "reason": f"Best score {score:.3f} of {1 + len(others)} eligible agent(s) at {price} BB"}
    return {"chosen": chosen, "candidates": [{**chosen, "chosen": True, "load": 0.1, "rating": 4.6,
                                              "successRate": 0.97, "avgResponseTime": 420}, *others]}


def make_task(user, agents, *, status=TaskStatus.COMPLETED, source="hubchat", query="Summarize this and translate "
              "the summary into Spanish: Solar power is cheap.", answer=True, **fields) -> Task:
    """A two-step task (summarise, then translate) in the state a test needs, with its messages."""
    now = timezone.now()
    values = {"max_budget": D("1"), "quote_total": D("0.08"), "planner": "builtin", "source": source}
    if status != TaskStatus.CREATED:
        values["confirmed_at"] = now
    if status in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED):
        values["completed_at"] = now
    if status == TaskStatus.COMPLETED:
        values["total_cost"] = D("0.07")
    values.update(fields)
    task = Task.objects.create(user=user, user_query=query, status=status, **values)
    if status != TaskStatus.CREATED:
        passed_over = {"agent": "mock-highprice", "name": "Premium Summarizer", "score": 0.41, "price": "0.5",
                       "load": 0.2, "rating": 4.9, "successRate": 0.99, "avgResponseTime": 300,
                       "passedOver": "Costs 0.5 BB, above the 0.47 BB left in the budget for this step."}
        step_status = {TaskStatus.COMPLETED: StepStatus.COMPLETED, TaskStatus.IN_PROGRESS: StepStatus.RUNNING,
                       TaskStatus.FAILED: StepStatus.FAILED}.get(status, StepStatus.PENDING)
        TaskStep.objects.create(
            task=task, position=0, subtask_type="summarization", instruction="Summarize the text",
            agent=agents["summarizer"], price=D("0.05"), status=step_status,
            selection=selection(agents["summarizer"], others=[passed_over]),
            **({"cost": D("0.04"), "external_cost": D("0.01"), "execution_time": 1234, "result": "Solar is cheap.",
                "completed_at": now} if step_status == StepStatus.COMPLETED else {}),
            **({"error": "HTTP 503 from the agent"} if step_status == StepStatus.FAILED else {}),
        )
        TaskStep.objects.create(
            task=task, position=1, subtask_type="translation", instruction="Translate the summary into Spanish",
            depends_on=[0], agent=agents["translator"], price=D("0.03"), selection=selection(agents["translator"],
                                                                                               price="0.03"),
            status=StepStatus.COMPLETED if status == TaskStatus.COMPLETED else
            StepStatus.SKIPPED if status == TaskStatus.FAILED else StepStatus.PENDING,
            **({"cost": D("0.02"), "execution_time": 80, "result": "La energía solar es barata.",
                "completed_at": now} if status == TaskStatus.COMPLETED else {}),
        )
    if source == "hubchat":
        Message.objects.create(user=user, role="user", content=query, task=task)
        if answer and task.is_terminal:
            Message.objects.create(user=user, role="assistant", task=task,
                                   content="Translate the summary into Spanish (Translator Agent):\n"
                                           "La energía solar es barata.",
                                   cost_breakdown={"subtasks": [
                                       {"agent": "Summarizer Agent", "agent_id": "summarizer",
                                        "skill": "summarization", "cost": "0.05"},
                                       {"agent": "Translator Agent", "agent_id": "translator",
                                        "skill": "translation", "cost": "0.02"}], "total": "0.07"})
    return task


def page(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def text_of(html: str) -> str:
    """The page's words, tags and extra spaces removed: what a reader sees."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def detail_url(task, name="task_detail") -> str:
    return reverse(f"hubchat:{name}", args=[task.pk])


# --- Login and privacy ------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client, eve, agents):
    task = make_task(eve, agents, status=TaskStatus.AWAITING_CONFIRMATION)
    gets = [reverse("hubchat:hubchat"), reverse("hubchat:task_list"), detail_url(task), detail_url(task, "task_panel"),
            detail_url(task, "turn")]
    posts = [reverse("hubchat:hubchat"), detail_url(task, "task_confirm"), detail_url(task, "task_cancel")]

    for url in gets:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    for url in posts:
        response = client.post(url, {"content": "hello"})
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    assert Task.objects.get(pk=task.pk).status == TaskStatus.AWAITING_CONFIRMATION
    assert Task.objects.count() == 1


def test_another_users_task_is_not_found_and_not_shown(client, eve, bob, agents, fund):
    fund(eve, "5")
    task = make_task(eve, agents, status=TaskStatus.AWAITING_CONFIRMATION)
    client.force_login(bob)

    for name in ("task_detail", "task_panel", "turn"):
        assert client.get(detail_url(task, name)).status_code == 404
    for name in ("task_confirm", "task_cancel"):
        assert client.post(detail_url(task, name)).status_code == 404
    listing = text_of(client.get(reverse("hubchat:task_list"), {"q": "Solar"}).content.decode())
    chat = text_of(client.get(reverse("hubchat:hubchat")).content.decode())

    assert Task.objects.get(pk=task.pk).status == TaskStatus.AWAITING_CONFIRMATION
    assert "Solar" not in listing and "No tasks yet" in listing
    assert "Solar" not in chat


# --- HubChat ------------------------------------------------------------------------------------------


def test_the_conversation_shows_each_task_in_its_state(client, eve, agents, fund):
    fund(eve, "3")
    planning = make_task(eve, agents, status=TaskStatus.CREATED, query="First: plan me")
    quoted = make_task(eve, agents, status=TaskStatus.AWAITING_CONFIRMATION, query="Second: quote me")
    running = make_task(eve, agents, status=TaskStatus.IN_PROGRESS, query="Third: run me")
    done = make_task(eve, agents, query="Fourth: done")
    failed = make_task(eve, agents, status=TaskStatus.FAILED, query="Fifth: broken",
                       error="Step 1 (summarization) failed: HTTP 503 from the agent")

    html = page(client, eve, reverse("hubchat:hubchat"))
    words = text_of(html)

    # oldest first, one card per task
    assert [words.index(q) for q in ("First: plan me", "Second: quote me", "Third: run me", "Fourth: done",
                                     "Fifth: broken")] == sorted(words.index(q) for q in (
        "First: plan me", "Second: quote me", "Third: run me", "Fourth: done", "Fifth: broken"))
    cards = {task.pk: html[html.index(f'id="task-{task.pk}"'):] for task in (planning, quoted, running, done, failed)}
    cards = {pk: text_of(card[:card.find('class="chat-turn"') if 'class="chat-turn"' in card else None])
             for pk, card in cards.items()}
    assert "Planning…" in cards[planning.pk]
    # the quote: each step's agent and price, the total and the budget, Confirm and Cancel
    quote = cards[quoted.pk]
    assert "Awaiting confirmation" in quote and "Summarizer Agent 0.05 BB" in re.sub(r"score [\d.]+ ", "", quote)
    assert "Translator Agent" in quote and "Total 0.08 BB" in quote and "budget of 1.00 BB" in quote
    assert f'action="{detail_url(quoted, "task_confirm")}"' in html
    assert f'action="{detail_url(quoted, "task_cancel")}"' in html
    assert "Confirm · 0.08 BB" in quote and "Cancel" in quote
    # the steps moving
    assert "Running" in cards[running.pk] and "Pending" in cards[running.pk]
    assert "Step 1 of 2 is running" in cards[running.pk]
    # the answer and its cost breakdown
    answer = cards[done.pk]
    assert "La energía solar es barata." in answer
    assert "Cost breakdown" in answer and "Summarizer Agent summarization 0.05 BB" in answer
    assert "Translator Agent translation 0.02 BB" in answer and "Total 0.07 BB" in answer
    # the failure, clearly
    assert "The task failed. Step 1 (summarization) failed: HTTP 503 from the agent" in cards[failed.pk]
    # the wallet
    assert 'data-testid="wallet-available">3.00 BB<' in html
    # without JavaScript the page refreshes while something moves
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html


def test_an_answer_still_being_written_and_a_quiet_page(client, eve, agents):
    waiting = make_task(eve, agents, answer=False)
    html = page(client, eve, reverse("hubchat:hubchat"))
    assert "Writing the answer…" in html and 'data-moving="true"' in html

    Message.objects.create(user=eve, role="assistant", task=waiting, content="Done.")
    html = page(client, eve, reverse("hubchat:hubchat"))
    assert "Writing the answer…" not in html and "<noscript>" not in html


def test_an_empty_conversation_invites_a_first_message(client, eve):
    words = text_of(page(client, eve, reverse("hubchat:hubchat")))

    assert "What can HubChat do for you?" in words and "Send" in words


def test_a_turn_is_the_request_and_its_card(client, eve, agents):
    task = make_task(eve, agents)

    html = page(client, eve, detail_url(task, "turn"))

    assert html.lstrip().startswith('<div class="chat-turn" id="task-') and "<html" not in html
    assert "Fourth" not in html and "Summarize this and translate" in html and "Cost breakdown" in html


def test_sending_a_message_without_javascript(client, eve, no_worker, django_capture_on_commit_callbacks):
    client.force_login(eve)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("hubchat:hubchat"), {"content": "  Summarize this: the sky is blue.  ",
                                                             "max_budget": "2.5"})

    task = Task.objects.get(user=eve)
    assert response.status_code == 302 and response["Location"] == f"/hubchat/#task-{task.pk}"
    assert task.user_query == "Summarize this: the sky is blue." and task.max_budget == D("2.5")
    assert task.source == "hubchat" and no_worker == [("plan_task", str(task.pk))]
    assert Message.objects.get(user=eve, role="user").task == task
    html = client.get(response["Location"]).content.decode()
    assert "Summarize this: the sky is blue." in html and "Planning…" in html


def test_sending_without_a_budget_uses_the_default(client, eve, no_worker, settings):
    settings.HUBCHAT_DEFAULT_MAX_BUDGET = D("0.75")
    client.force_login(eve)

    client.post(reverse("hubchat:hubchat"), {"content": "Translate into Spanish: good morning"})

    assert Task.objects.get(user=eve).max_budget == D("0.75")


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"content": "   "}, "content", "This field is required."),
    ({"content": "hi", "max_budget": "0"}, "max_budget", "Between 0.0001 and"),
    ({"content": "hi", "max_budget": "-1"}, "max_budget", "greater than or equal to 0"),
    ({"content": "hi", "max_budget": "lots"}, "max_budget", "Enter a number."),
])
def test_a_message_the_service_refuses_is_shown_by_its_field(client, eve, no_worker, data, field, message):
    client.force_login(eve)

    response = client.post(reverse("hubchat:hubchat"), data)

    html = response.content.decode()
    assert response.status_code == 400 and not Task.objects.exists() and not Message.objects.exists()
    box = html[html.index(f'id="id_{field}"'):]
    assert message in box[:box.index("</div>")]


# --- Confirm and cancel (forms) --------------------------------------------------------------------


def test_confirming_a_quote_runs_it_and_goes_back(client, eve, agents, fund, no_worker,
                                                  django_capture_on_commit_callbacks):
    fund(eve, "1")
    task = make_task(eve, agents, status=TaskStatus.AWAITING_CONFIRMATION, confirmed_at=None)
    client.force_login(eve)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(detail_url(task, "task_confirm"), {"next": f"/hubchat/#task-{task.pk}"})

    assert response.status_code == 302 and response["Location"] == f"/hubchat/#task-{task.pk}"
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_PROGRESS and task.confirmed_at is not None
    assert ("advance_task", str(task.pk)) in no_worker


def test_confirming_without_the_money_says_so_and_changes_nothing(client, eve, agents, no_worker):
    task = make_task(eve, agents, status=TaskStatus.AWAITING_CONFIRMATION)
    client.force_login(eve)

    response = client.post(detail_url(task, "task_confirm"), follow=True)

    assert response.redirect_chain[-1][0] == detail_url(task)
    notice = re.search(r'<div class="alert alert--error">([^<]+)</div>', response.content.decode()).group(1)
    assert "quoted at 0.08" in notice and "is available" in notice
    assert Task.objects.get(pk=task.pk).status == TaskStatus.AWAITING_CONFIRMATION


def test_cancelling_and_a_next_that_leaves_the_site(client, eve, agents, no_worker):
    task = make_task(eve, agents, status=TaskStatus.AWAITING_CONFIRMATION)
    client.force_login(eve)

    response = client.post(detail_url(task, "task_cancel"), {"next": "https://evil.example/"})

    assert response["Location"] == detail_url(task)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.CANCELLED
    again = client.post(detail_url(task, "task_cancel"), follow=True)
    assert "it can no longer be cancelled" in again.content.decode()


def test_the_buttons_are_there_only_when_they_apply(client, eve, agents):
    quoted = make_task(eve, agents, status=TaskStatus.AWAITING_CONFIRMATION)
    running = make_task(eve, agents, status=TaskStatus.IN_PROGRESS)
    done = make_task(eve, agents)
    client.force_login(eve)

    def buttons(task):
        html = client.get(detail_url(task)).content.decode()
        return [name for name in ("confirm-task", "cancel-task") if f'data-testid="{name}"' in html]

    assert buttons(quoted) == ["confirm-task", "cancel-task"]
    assert buttons(running) == ["cancel-task"]
    assert buttons(done) == []


# --- The task list ---------------------------------------------------------------------------------------


def test_the_list_is_newest_first_with_budget_and_cost(client, eve, bob, agents):
    old = make_task(eve, agents, query="An old request about tides")
    Task.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    new = make_task(eve, agents, status=TaskStatus.AWAITING_CONFIRMATION, query="A new request about solar",
                    max_budget=D("2.5"))
    make_task(bob, agents, query="Bob's own request")

    html = page(client, eve, reverse("hubchat:task_list"))
    rows = re.findall(r'<tr data-task="([^"]+)">(.*?)</tr>', html, re.S)

    assert [pk for pk, _ in rows] == [str(new.pk), str(old.pk)]
    assert "2.50 BB" in text_of(rows[0][1]) and "Awaiting confirmation" in text_of(rows[0][1])
    assert "0.07 BB" in text_of(rows[1][1]) and "1.00 BB" in text_of(rows[1][1])
    assert "Bob" not in html and "2 tasks" in text_of(html)


def test_the_list_filters_by_status_and_words(client, eve, agents):
    make_task(eve, agents, query="Translate a poem")
    make_task(eve, agents, status=TaskStatus.FAILED, query="Translate a contract", error="No agent.")
    make_task(eve, agents, query="Summarize a report")
    client.force_login(eve)

    def shown(**params):
        html = client.get(reverse("hubchat:task_list"), params).content.decode()
        return sorted(re.findall(r'class="strong" href="/tasks/[^"]+/">([^<]+)<', html))

    assert shown(q="translate") == ["Translate a contract", "Translate a poem"]
    assert shown(status="failed") == ["Translate a contract"]
    assert shown(status="completed", q="translate") == ["Translate a poem"]
    assert shown(status="completed", q="nothing like it") == []
    assert shown(status="bogus") == []


def test_the_list_pages(client, eve, agents):
    for i in range(23):
        Task.objects.create(user=eve, user_query=f"Request number {i}", max_budget=D("1"))
    client.force_login(eve)

    first = client.get(reverse("hubchat:task_list")).content.decode()
    second = client.get(reverse("hubchat:task_list"), {"page": 2}).content.decode()

    assert first.count("<tr data-task=") == 20 and second.count("<tr data-task=") == 3
    assert "Request number 22" in first and "Request number 0<" in second


# --- One task -------------------------------------------------------------------------------------------


def test_a_task_page_explains_every_step(client, eve, agents):
    task = make_task(eve, agents, planner_notes=["anthropic failed (timeout); used the built-in planner"],
                     planner="builtin")

    html = page(client, eve, detail_url(task))
    words = text_of(html)

    assert "Summarize this and translate the summary into Spanish: Solar power is cheap." in words
    assert "Completed: 2 steps for 0.07 BB." in words
    for figure in ("Budget 1.00 BB", "Quote 0.08 BB", "Total cost 0.07 BB", "Planner builtin"):
        assert figure in words
    assert "anthropic failed (timeout); used the built-in planner" in words
    # step 1: the chosen agent (linked), why, who was passed over and why, the money and time, the result
    step = text_of(html[html.index('id="step-1"'):html.index('id="step-2"')])
    assert "Step 1 · Summarization" in step and "Summarize the text" in step
    assert '<a class="strong" href="/agents/summarizer/" data-testid="step-agent">Summarizer Agent</a>' in html
    assert "Why: Best score 0.812 of 2 eligible agent(s) at 0.05 BB." in step and "score 0.812" in step
    assert "1 other candidate passed over" in step
    assert "Premium Summarizer" in step and "Costs 0.5 BB, above the 0.47 BB left in the budget for this step." in step
    assert "Price 0.05 BB" in step and "Cost 0.04 BB" in step and "External cost 0.01 BB" in step
    assert "Time 1.23 s" in step and "Solar is cheap." in step
    step2 = text_of(html[html.index('id="step-2"'):])
    assert "Takes the output of step 1." in step2 and "No other agent offered this skill." in step2
    # the answer with its breakdown
    assert "Cost breakdown" in words and "Total 0.07 BB" in words
    assert 'href="/api/tasks/' in html  # the JSON


def test_a_failed_task_page_shows_why(client, eve, agents):
    task = make_task(eve, agents, status=TaskStatus.FAILED,
                     error="Step 1 (summarization) failed: HTTP 503 from the agent")

    words = text_of(page(client, eve, detail_url(task)))

    assert "Why it failed: Step 1 (summarization) failed: HTTP 503 from the agent" in words
    assert "Skipped" in words and "nothing was charged" in words


def test_a_quoted_task_page_has_the_quote_and_the_panel_is_the_live_part(client, eve, agents, fund):
    fund(eve, "0.05")  # less than the quote
    task = make_task(eve, agents, status=TaskStatus.AWAITING_CONFIRMATION)

    words = text_of(page(client, eve, detail_url(task)))
    panel = page(client, eve, detail_url(task, "task_panel"))

    assert "Quoted 0.08 BB: waiting for you to confirm." in words and "Total 0.08 BB" in words
    assert "Your wallet has 0.05 BB available, less than the quote." in words
    assert panel.lstrip().startswith('<div class="task-panel"') and "<html" not in panel


def test_the_navigation_links_to_hubchat_and_tasks(client, eve):
    html = page(client, eve, reverse("hubchat:task_list"))

    assert '<a href="/hubchat/">HubChat</a>' in html
    assert '<a href="/tasks/" aria-current="page">Tasks</a>' in html


def test_the_auto_approve_threshold_is_shown(client, eve):
    Account.objects.filter(pk=account_for(user=eve).pk).update(auto_approve_threshold=D("0"))

    words = text_of(page(client, eve, reverse("hubchat:hubchat")))

    assert "Auto-approve up to 0.00 BB" in words and "Quotes up to 0.00 BB run at once" in words


# --- In a real browser ------------------------------------------------------------------------------------
# Debian's chromium driven by Playwright, with the fixtures of the other browser tests (imported above).

PHONE = {"width": 390, "height": 844}
ARTICLE = ("Solar power is now the cheapest source of new electricity in many countries. "
           "The price of solar panels has fallen by about ninety percent in a decade. "
           "My neighbour painted his fence green last weekend. "
           "Grid operators pair solar farms with batteries so that electricity is available after sunset.")


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls around it stay
    # synchronous. Autouse, so it is in place before any fixture that writes rows.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def sign_in(page, live_server, user) -> None:
    from django.conf import settings as django_settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                               "url": live_server.url}])


def shoot(page, path, *, phone: bool = False) -> None:
    """A full-page screenshot at desktop width, or at a phone's."""
    if phone:
        desktop = page.viewport_size
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(150)
    page.evaluate("window.scrollTo(0, 0)")  # or the sticky top bar lands mid-page in a full-page shot
    page.wait_for_timeout(100)
    page.screenshot(path=str(path), full_page=True)
    if phone:
        page.set_viewport_size(desktop)


def plan(task, agents) -> None:
    """What the planner and the quote do: two steps, their agents and prices; the user must confirm."""
    TaskStep.objects.create(task=task, position=0, subtask_type="summarization", instruction="Summarize the text",
                            agent=agents["summarizer"], price=D("0.05"), selection=selection(agents["summarizer"]))
    TaskStep.objects.create(task=task, position=1, subtask_type="translation", depends_on=[0],
                            instruction="Translate the summary into Spanish", agent=agents["translator"],
                            price=D("0.03"), selection=selection(agents["translator"], price="0.03"))
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.AWAITING_CONFIRMATION, quote_total=D("0.08"),
                                           planner="builtin", required_skills=["summarization", "translation"])


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_hubchat_shows_planning_the_quote_and_each_step_live(
    live_server, browser_page, artifacts, eve, agents, fund, no_worker
):
    # given: no worker picks the task up; this test plays the planner and the worker
    fund(eve, "5")
    page = browser_page
    sign_in(page, live_server, eve)
    page.goto(f"{live_server.url}/hubchat/")
    assert "What can HubChat do for you?" in page.get_by_test_id("conversation").inner_text()
    shoot(page, artifacts / "hubchat-empty.png")
    shoot(page, artifacts / "hubchat-empty-phone.png", phone=True)
    page.evaluate("window.__notReloaded = true")

    # when: a message with a budget, sent with Enter
    page.get_by_label("Max budget (BB)").fill("0.5")
    page.get_by_label("Message").fill("Summarize this and translate the summary into Spanish: " + ARTICLE)
    page.get_by_label("Message").press("Enter")

    # then: planning
    card = page.get_by_test_id("task-card")
    card.get_by_test_id("task-planning").wait_for()
    task = Task.objects.get(user=eve)
    assert task.max_budget == D("0.5") and task.status == TaskStatus.CREATED
    assert page.get_by_label("Message").input_value() == ""
    shoot(page, artifacts / "hubchat-planning.png")

    # when: planned and quoted above the auto-approve threshold
    plan(task, agents)

    # then: the quote, live
    quote = card.get_by_test_id("task-quote")
    quote.wait_for()
    assert "Summarizer Agent" in quote.inner_text() and "Translator Agent" in quote.inner_text()
    assert quote.get_by_test_id("quote-total").inner_text() == "0.08 BB"
    shoot(page, artifacts / "hubchat-quote.png")
    shoot(page, artifacts / "hubchat-quote-phone.png", phone=True)

    # when: confirmed
    card.get_by_role("button", name="Confirm").click()

    # then: running, the steps waiting
    card.get_by_test_id("task-status").filter(has_text="In progress").wait_for()
    assert Task.objects.get(pk=task.pk).status == TaskStatus.IN_PROGRESS
    first, second = TaskStep.objects.filter(task=task).order_by("position")

    # when: the worker runs the first step
    TaskStep.objects.filter(pk=first.pk).update(status=StepStatus.RUNNING, started_at=timezone.now(), attempts=1)

    # then
    steps = card.get_by_test_id("task-step")
    steps.nth(0).and_(page.locator("[data-status=running]")).wait_for()
    assert steps.nth(1).get_attribute("data-status") == "pending"
    shoot(page, artifacts / "hubchat-running.png")

    # when: both steps finish, the task completes and the answer is written
    now = timezone.now()
    TaskStep.objects.filter(pk=first.pk).update(status=StepStatus.COMPLETED, cost=D("0.04"), execution_time=640,
                                                result="Solar is cheap.", completed_at=now)
    steps.nth(0).and_(page.locator("[data-status=completed]")).wait_for()
    TaskStep.objects.filter(pk=second.pk).update(status=StepStatus.COMPLETED, cost=D("0.02"), execution_time=90,
                                                 result="La energía solar es barata.", completed_at=now)
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.COMPLETED, total_cost=D("0.06"), completed_at=now)
    Message.objects.create(user=eve, role="assistant", task=task, content="La energía solar es barata. <b>!</b>",
                           cost_breakdown={"subtasks": [{"agent": "Summarizer Agent", "agent_id": "summarizer",
                                                         "skill": "summarization", "cost": "0.04"},
                                                        {"agent": "Translator Agent", "agent_id": "translator",
                                                         "skill": "translation", "cost": "0.02"}], "total": "0.06"})

    # then: the answer and its cost breakdown, without a reload
    answer = card.get_by_test_id("task-answer")
    answer.wait_for()
    assert answer.get_by_test_id("answer-text").inner_text() == "La energía solar es barata. <b>!</b>"
    assert answer.locator("b").count() == 0  # text, never markup
    breakdown = answer.get_by_test_id("cost-breakdown")
    assert breakdown.locator("tbody tr").count() == 2
    assert breakdown.get_by_test_id("breakdown-total").inner_text() == "0.06 BB"
    assert card.get_by_test_id("task-status").inner_text() == "Completed"
    assert page.evaluate("window.__notReloaded") is True
    shoot(page, artifacts / "hubchat-answer.png")
    shoot(page, artifacts / "hubchat-answer-phone.png", phone=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_task_page_falls_back_to_polling_when_the_event_stream_is_refused(
    live_server, browser_page, artifacts, eve, agents, fund
):
    # given: a proxy that refuses event streams
    fund(eve, "5")
    task = make_task(eve, agents, status=TaskStatus.IN_PROGRESS, query="Summarize this and translate the "
                     "summary into Spanish: " + ARTICLE, planner_notes=["The built-in planner read two steps."])
    page = browser_page
    refused = []
    page.route("**/api/tasks/*/events", lambda route: (refused.append(route.request.url),
                                                        route.fulfill(status=503, body="no streams here")))
    sign_in(page, live_server, eve)

    # when
    page.goto(f"{live_server.url}/tasks/{task.pk}/")
    page.evaluate("window.__notReloaded = true")
    panel = page.get_by_test_id("task-panel")
    assert panel.get_by_test_id("task-status").inner_text() == "In progress"
    page.get_by_test_id("step").first.get_by_text("other candidate passed over").click()
    shoot(page, artifacts / "task-running.png")
    first, second = TaskStep.objects.filter(task=task).order_by("position")
    now = timezone.now()
    TaskStep.objects.filter(pk=first.pk).update(status=StepStatus.COMPLETED, cost=D("0.04"), external_cost=D("0.01"),
                                                execution_time=1234, result="Solar is cheap.", completed_at=now)
    TaskStep.objects.filter(pk=second.pk).update(status=StepStatus.FAILED, error="HTTP 503 from the agent",
                                                 completed_at=now)
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.FAILED, total_cost=D("0.05"), completed_at=now,
                                           error="Step 2 (translation) failed: HTTP 503 from the agent")

    # then: polling saw it
    panel = page.get_by_test_id("task-panel")
    panel.get_by_test_id("task-error").wait_for(timeout=10_000)
    assert "Step 2 (translation) failed: HTTP 503 from the agent" in panel.get_by_test_id("task-error").inner_text()
    assert [step.get_attribute("data-status") for step in panel.get_by_test_id("step").all()] == ["completed", "failed"]
    assert panel.locator("details.step-detail__candidates").first.get_attribute("open") is not None  # kept open
    assert refused and page.evaluate("window.__notReloaded") is True
    shoot(page, artifacts / "task-failed.png")
    shoot(page, artifacts / "task-failed-phone.png", phone=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_task_list_and_a_task_page_in_a_browser(live_server, browser_page, artifacts, eve, agents):
    for i, status in enumerate([TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.AWAITING_CONFIRMATION,
                                TaskStatus.CANCELLED, TaskStatus.COMPLETED]):
        make_task(eve, agents, status=status, query=f"Request {i}: summarize and translate a note about solar "
                  "power", error="Step 1 (summarization) failed: HTTP 503" if status == TaskStatus.FAILED else "")
    page = browser_page
    sign_in(page, live_server, eve)

    page.goto(f"{live_server.url}/tasks/")
    assert page.get_by_test_id("task-list").locator("tbody tr").count() == 5
    shoot(page, artifacts / "tasks-list.png")
    shoot(page, artifacts / "tasks-list-phone.png", phone=True)
    filters = page.get_by_test_id("tasks-filter")
    filters.get_by_label("Status").select_option("completed")
    filters.get_by_label("Search").fill("Request 4")
    filters.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/tasks/?*status=completed*")
    assert page.get_by_test_id("task-list").locator("tbody tr").count() == 1

    page.get_by_role("link", name="Request 4").click()
    page.wait_for_url("**/tasks/*/")
    assert page.get_by_test_id("task-status").first.inner_text() == "Completed"
    assert page.get_by_test_id("step-agent").first.get_attribute("href") == "/agents/summarizer/"
    shoot(page, artifacts / "task-completed.png")
    shoot(page, artifacts / "task-completed-phone.png", phone=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_without_javascript_the_message_box_posts_and_comes_back(
    live_server, browser_page, artifacts, eve, no_worker
):
    context = browser_page.context.browser.new_context(java_script_enabled=False,
                                                       viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_server, eve)

    page.goto(f"{live_server.url}/hubchat/")
    page.get_by_label("Message").fill("Translate into Spanish: good morning")
    page.get_by_role("button", name="Send").click()

    task = Task.objects.get(user=eve)
    page.wait_for_url(f"**/hubchat/#task-{task.pk}")
    assert page.get_by_test_id("task-planning").is_visible()
    assert page.locator("noscript").count() == 1  # it refreshes itself while the task moves
    context.close()


# --- End to end: the demo agents, the real planner, Celery inline (SQLite) ------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_ask_hubchat_and_get_the_answer_then_confirm_a_quote(
    live_server, browser_page, artifacts, demo_agents, eve, fund
):
    # given: the demo agents running and registered, and a wallet
    fund(eve, "10")
    page = browser_page
    sign_in(page, live_server, eve)
    page.goto(f"{live_server.url}/hubchat/")
    page.evaluate("window.__notReloaded = true")

    # when: a request within the auto-approve threshold (1 BB)
    page.get_by_label("Message").fill(f"Summarize this: {ARTICLE}")
    page.get_by_role("button", name="Send").click()

    # then: the answer with its cost breakdown
    card = page.get_by_test_id("task-card").last
    card.get_by_test_id("task-answer").wait_for(timeout=30_000)
    task = Task.objects.get(user=eve)
    assert task.status == TaskStatus.COMPLETED, task.error
    assert card.get_by_test_id("task-status").inner_text() == "Completed"
    assert "Solar" in card.get_by_test_id("answer-text").inner_text()
    breakdown = card.get_by_test_id("cost-breakdown")
    assert "Summarizer" in breakdown.inner_text()
    assert breakdown.get_by_test_id("breakdown-total").inner_text() == f"{money_text(task.total_cost)} BB"
    page.get_by_test_id("wallet-available").filter(has_text=f"{money_text(D('10') - task.total_cost)} BB").wait_for()
    shoot(page, artifacts / "hubchat-e2e-answer.png")

    # when: every quote needs a confirmation, and another request
    Account.objects.filter(pk=account_for(user=eve).pk).update(auto_approve_threshold=D("0"))
    page.get_by_label("Message").fill(f"Summarize this and translate the summary into Spanish: {ARTICLE}")
    page.get_by_role("button", name="Send").click()

    # then: the quote card, and the side panel knows the new threshold
    card = page.get_by_test_id("task-card").last
    card.get_by_test_id("task-quote").wait_for(timeout=30_000)
    threshold = page.get_by_test_id("hubchat-wallet").locator("[data-wallet='caps.autoApproveThreshold']")
    threshold.filter(has_text="0.00 BB").wait_for()
    quoted = Task.objects.filter(user=eve).order_by("-created_at").first()
    assert quoted.status == TaskStatus.AWAITING_CONFIRMATION
    assert card.get_by_test_id("quote-total").inner_text() == f"{money_text(quoted.quote_total)} BB"
    shoot(page, artifacts / "hubchat-e2e-quote.png")

    # when: confirmed
    card.get_by_role("button", name="Confirm").click()

    # then: it runs, and the answer comes with its breakdown
    card = page.get_by_test_id("task-card").last
    card.get_by_test_id("task-answer").wait_for(timeout=30_000)
    quoted.refresh_from_db()
    assert quoted.status == TaskStatus.COMPLETED, quoted.error
    assert card.get_by_test_id("cost-breakdown").locator("tbody tr").count() == quoted.steps.count()
    assert page.evaluate("window.__notReloaded") is True
    shoot(page, artifacts / "hubchat-e2e-confirmed.png")
    shoot(page, artifacts / "hubchat-e2e-confirmed-phone.png", phone=True)

    # and: its page says who did each step and why
    card.get_by_role("link", name="Task details").click()
    page.wait_for_url(f"**/tasks/{quoted.pk}/")
    steps = page.get_by_test_id("step")
    assert steps.count() == quoted.steps.count()
    assert all(step.get_by_test_id("step-reason").inner_text().startswith("Why:") for step in steps.all())
    assert page.get_by_test_id("task-approval").inner_text().startswith("By you")
    shoot(page, artifacts / "task-e2e-detail.png")


def money_text(amount) -> str:
    from agenthub.formatting import money

    return money(amount)
