"""HubChat and tasks end to end over the real demo agents (HTTP): plan, choose, quote, run, pay.

Under SQLite Celery runs inline; with REDIS_URL the tests marked `redis` go through a real worker.
"""

import threading
import time
from decimal import Decimal as D

import pytest
from django.utils import timezone

from billing import services as ledger
from billing.models import Account, Hold
from marketplace.models import Agent, AgentVersion
from orchestration.models import Execution, Message, Task, TaskStep

pytestmark = pytest.mark.django_db(transaction=True)

ARTICLE = (
    "Solar power is now the cheapest source of new electricity in many countries. "
    "The price of solar panels has fallen by about ninety percent in a decade. "
    "My neighbour painted his fence green last weekend. "
    "Grid operators pair solar farms with batteries so that electricity is available after sunset."
)
TASK_KEYS = {"id", "userQuery", "requiredSkills", "status", "maxBudget", "totalCost", "createdAt", "completedAt"}
STEP_KEYS = {"id", "taskId", "agentId", "subtaskType", "status", "cost", "externalCost", "requiresExternalTool",
             "result", "executionTime", "createdAt", "completedAt"}


@pytest.fixture
def hub(demo_agents, eve, fund):
    fund(eve, "10")
    return eve


def wallet(user) -> Account:
    return ledger.account_for(user=user)


def create(api, user, query, budget="1", **extra):
    response = api(user).post("/api/tasks", {"userQuery": query, "maxBudget": budget, **extra}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def wait_for(task_id, statuses=("completed", "failed", "cancelled"), timeout=30.0) -> Task:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = Task.objects.get(pk=task_id)
        if task.status in statuses:
            return task
        time.sleep(0.05)
    raise AssertionError(f"task still {task.status}")


def steps_of(api, user, task_id) -> list[dict]:
    response = api(user).get(f"/api/tasks/{task_id}/steps")
    assert response.status_code == 200
    return response.json()


def test_a_single_step_request_runs_at_once_and_is_paid_once(api, hub):
    created = create(api, hub, f"Summarize this: {ARTICLE}")
    task = wait_for(created["id"])
    assert task.status == "completed", task.error
    body = api(hub).get(f"/api/tasks/{task.pk}").json()
    assert TASK_KEYS <= set(body) and body["status"] == "completed" and body["planner"] == "builtin"
    assert body["quote"]["steps"][0]["agent"] == "summarizer" and body["quote"]["autoApproved"] is True
    [step] = steps_of(api, hub, task.pk)
    assert STEP_KEYS <= set(step)
    assert (step["agentId"], step["subtaskType"], step["status"]) == ("summarizer", "summarization", "completed")
    assert "Solar" in step["result"] and "fence" not in step["result"]
    assert D(str(step["cost"])) == D("0.03") == task.total_cost and step["executionTime"] is not None
    assert wallet(hub).balance == D("9.97") and wallet(hub).held == 0
    payments = api(hub).get("/api/payments/bazaarbucks").json()
    assert {p["type"] for p in payments} == {"agent_payment", "platform_fee"}
    assert {p["taskId"] for p in payments} == {str(task.pk)} and {p["agentId"] for p in payments} == {"summarizer"}
    assert sum(D(str(p["amount"])) for p in payments) == D("0.03")
    assert ledger.ledger_is_consistent()


def test_a_chain_hands_the_summary_to_the_translator(api, hub):
    created = create(api, hub, f"Summarize this and translate the summary into Spanish: {ARTICLE}")
    task = wait_for(created["id"])
    assert task.status == "completed", task.error
    summary, translation = steps_of(api, hub, task.pk)
    assert (summary["subtaskType"], translation["subtaskType"]) == ("summarization", "translation")
    assert translation["dependsOn"] == [0] and translation["agentId"] == "translator"
    step = TaskStep.objects.get(pk=translation["id"])
    assert step.input["text"] == summary["result"] and step.input["targetLanguage"] == "es"
    assert step.output["targetLanguage"] == "es"
    assert step.started_at >= TaskStep.objects.get(pk=summary["id"]).completed_at
    assert task.total_cost == D("0.05") == D(str(summary["cost"])) + D(str(translation["cost"]))


def test_parallel_parts_do_not_wait_for_each_other(api, hub):
    created = create(api, hub, "Translate 'The red car is very fast.' into French and into German")
    task = wait_for(created["id"])
    assert task.status == "completed", task.error
    french, german = steps_of(api, hub, task.pk)
    assert french["dependsOn"] == [] and german["dependsOn"] == []
    assert "rouge" in french["result"] and "rote" in german["result"]


def test_busy_and_over_budget_agents_lose_and_the_step_says_why(api, hub):
    created = create(api, hub, f"Summarize this: {ARTICLE}", budget="0.1")
    task = wait_for(created["id"])
    [step] = steps_of(api, hub, task.pk)
    selection = step["selection"]
    assert selection["chosen"]["agent"] == "summarizer" and selection["chosen"]["reason"]
    passed = {c["agent"]: c for c in selection["candidates"]}
    assert passed["mock-busy"]["busy"] is True and "busy" in passed["mock-busy"]["passedOver"]
    assert D(passed["mock-busy"]["price"]) < D(passed["summarizer"]["price"])  # cheaper, and still passed over
    assert "above the" in passed["mock-highprice"]["passedOver"] and "budget" in passed["mock-highprice"]["passedOver"]


def test_the_negotiator_is_countered_once_within_the_budget(api, hub):
    Agent.objects.filter(slug="translator").update(availability=False)
    created = create(api, hub, "Translate 'The red car is very fast.' into Spanish", budget="0.04")
    task = wait_for(created["id"])
    assert task.status == "completed", task.error
    [step] = steps_of(api, hub, task.pk)
    negotiation = step["selection"]["negotiation"]
    assert step["agentId"] == "mock-negotiator" and negotiation["listPrice"] == "0.0500"
    assert [round_["offer"] for round_ in negotiation["history"]] == [None, "0.0400"]
    assert negotiation["status"] == "accepted" and negotiation["agreedPrice"] == "0.0400"
    assert D(str(step["cost"])) == D("0.04") == task.total_cost  # the agreed price, not the list price
    assert wallet(hub).balance == D("9.96")


def test_a_quote_above_the_threshold_waits_for_confirmation(api, hub):
    ledger.wallet_caps_set(user=hub, auto_approve_threshold=D("0"))
    created = create(api, hub, f"Summarize this: {ARTICLE}")
    task = wait_for(created["id"], statuses=("awaiting_confirmation",))
    body = api(hub).get(f"/api/tasks/{task.pk}").json()
    assert body["quote"] == {"steps": [{"position": 0, "skill": "summarization", "agent": "summarizer",
                                        "agentName": "Summarizer Agent", "price": 0.03}],
                             "total": 0.03, "autoApproved": False}
    assert Execution.objects.count() == 0 and wallet(hub).held == 0
    assert api(hub).post(f"/api/tasks/{task.pk}/confirm").status_code == 200
    assert wait_for(task.pk).status == "completed"
    again = api(hub).post(f"/api/tasks/{task.pk}/confirm")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"


def test_cancelling_a_quoted_task_costs_nothing(api, hub):
    ledger.wallet_caps_set(user=hub, auto_approve_threshold=D("0"))
    task = wait_for(create(api, hub, f"Summarize this: {ARTICLE}")["id"], statuses=("awaiting_confirmation",))
    response = api(hub).delete(f"/api/tasks/{task.pk}")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert TaskStep.objects.get(task=task).status == "cancelled"
    assert wallet(hub).balance == D("10") and api(hub).post(f"/api/tasks/{task.pk}/confirm").status_code == 409


def test_a_plan_above_the_budget_fails_clearly_and_costs_nothing(api, hub):
    task = wait_for(create(api, hub, f"Summarize this: {ARTICLE}", budget="0.01")["id"])
    assert task.status == "failed" and "above your budget of 0.0100 BB" in task.error
    assert not Execution.objects.exists() and not Hold.objects.exists() and wallet(hub).balance == D("10")


def test_an_unknown_request_fails_with_what_was_not_understood(api, hub):
    task = wait_for(create(api, hub, "Bake me a chocolate cake")["id"])
    assert task.status == "failed" and "No agent in the catalog can do this" in task.error


def test_a_failed_step_moves_to_the_next_best_agent(api, hub, settings, make_agent, alice):
    settings.EXECUTION_RETRY_BACKOFF_SECONDS = 0.01
    # A stellar summarizer that is down: it wins the choice, fails, and the next in line does the work.
    make_agent(created_by=alice, slug="dead-summarizer", name="Dead Summarizer", skills=["summarization"],
               status="active", is_public=True, transport="http", endpoint_url="http://127.0.0.1:9/agent",
               price_per_use=D("0.01"), dynamic_price=D("0.01"), rating=5, rating_count=500, jobs_completed=5000,
               avg_response_time=10, health_checked_at=timezone.now())
    task = wait_for(create(api, hub, f"Summarize this: {ARTICLE}")["id"])
    [step] = steps_of(api, hub, task.pk)
    assert task.status == "completed", task.error
    assert step["selection"]["chosen"]["agent"] == "dead-summarizer" and step["agentId"] == "summarizer"
    assert step["attempts"] == 2 and step["selection"]["fallbacks"][0]["agent"] == "summarizer"
    runs = Execution.objects.filter(task=task).order_by("created_at")
    assert [(run.agent.slug, run.status) for run in runs] == [
        ("dead-summarizer", "failed"), ("summarizer", "completed")]
    assert task.total_cost == D("0.03") and wallet(hub).balance == D("9.97") and wallet(hub).held == 0


def test_a_step_with_no_one_left_fails_the_task_and_keeps_finished_steps_paid(api, hub, settings):
    settings.EXECUTION_RETRY_BACKOFF_SECONDS = 0.01
    # Only the translator can translate; it is down, so the chain's second step has nowhere to go.
    Agent.objects.filter(slug__in=["mock-highprice", "mock-negotiator"]).update(availability=False)
    Agent.objects.filter(slug="translator").update(endpoint_url="http://127.0.0.1:9/translator",
                                                   health_checked_at=timezone.now())
    AgentVersion.objects.filter(agent__slug="translator").update(endpoint_url="http://127.0.0.1:9/translator")
    task = wait_for(create(api, hub, f"Summarize this and translate the summary into German: {ARTICLE}")["id"])
    summary, translation = steps_of(api, hub, task.pk)
    assert task.status == "failed" and "Step 2 (translation) failed" in task.error
    assert (summary["status"], translation["status"]) == ("completed", "failed")
    assert task.total_cost == D("0.03") and wallet(hub).balance == D("9.97") and wallet(hub).held == 0


def test_a_task_is_planned_and_advanced_once_however_often_its_jobs_arrive(api, hub):
    from orchestration import tasks

    task = wait_for(create(api, hub, f"Summarize this: {ARTICLE}")["id"])
    for job in (tasks.plan_task, tasks.advance_task, tasks.answer_task):
        job(str(task.pk))
    assert TaskStep.objects.filter(task=task).count() == 1 and Execution.objects.filter(task=task).count() == 1
    assert wallet(hub).balance == D("9.97")


def test_hubchat_message_answers_at_once_and_the_reply_carries_the_cost_breakdown(api, hub):
    response = api(hub).post("/api/hubchat/message",
                             {"content": f"Summarize this and translate the summary into French: {ARTICLE}"},
                             format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["success"] is True and set(body) == {"success", "taskId", "messageId"}
    task = wait_for(body["taskId"])
    assert task.status == "completed" and task.max_budget == D("1") and task.source == "hubchat"
    deadline = time.monotonic() + 10
    while not Message.objects.filter(task=task, role="assistant").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    question, answer = api(hub).get("/api/messages").json()
    assert (question["id"], question["role"], question["taskId"]) == (body["messageId"], "user", body["taskId"])
    assert answer["role"] == "assistant" and answer["taskId"] == body["taskId"]
    assert {"id", "role", "content", "taskId", "costBreakdown", "createdAt"} <= set(answer)
    breakdown = answer["costBreakdown"]
    assert [(s["agent"], s["cost"]) for s in breakdown["subtasks"]] == [("Summarizer Agent", 0.03),
                                                                        ("Translator Agent", 0.02)]
    assert breakdown["total"] == 0.05 and "Translator Agent" in answer["content"]


@pytest.mark.parametrize("body, field", [
    ({"maxBudget": "1"}, "userQuery"),
    ({"userQuery": "  ", "maxBudget": "1"}, "userQuery"),
    ({"userQuery": "Summarize this: hi"}, "maxBudget"),
    ({"userQuery": "Summarize this: hi", "maxBudget": "-1"}, "maxBudget"),
    ({"userQuery": "Summarize this: hi", "maxBudget": "0"}, "maxBudget"),
    ({"userQuery": "Summarize this: hi", "maxBudget": "lots"}, "maxBudget"),
])
def test_bad_task_input_is_a_400_naming_the_field_and_writes_nothing(api, eve, body, field):
    response = api(eve).post("/api/tasks", body, format="json")
    assert response.status_code == 400 and field in str(response.json()), response.json()
    assert not Task.objects.exists()


def test_hubchat_bad_input_is_a_400(api, eve):
    response = api(eve).post("/api/hubchat/message", {"content": ""}, format="json")
    assert response.status_code == 400 and "content" in str(response.json())
    assert not Message.objects.exists() and not Task.objects.exists()


def test_the_budget_changes_only_before_the_task_runs(api, hub):
    ledger.wallet_caps_set(user=hub, auto_approve_threshold=D("0"))
    task = wait_for(create(api, hub, f"Summarize this: {ARTICLE}")["id"], statuses=("awaiting_confirmation",))
    low = api(hub).patch(f"/api/tasks/{task.pk}", {"maxBudget": "0.01"}, format="json")
    assert low.status_code == 400 and "maxBudget" in str(low.json())
    assert api(hub).patch(f"/api/tasks/{task.pk}", {"maxBudget": "0.5"}, format="json").json()["maxBudget"] == 0.5
    api(hub).post(f"/api/tasks/{task.pk}/confirm")
    wait_for(task.pk)
    late = api(hub).patch(f"/api/tasks/{task.pk}", {"maxBudget": "2"}, format="json")
    assert late.status_code == 409


def test_tasks_list_is_own_newest_first_and_filterable(api, hub, bob):
    first = create(api, hub, "Bake me a cake")
    second = create(api, hub, f"Summarize this: {ARTICLE}")
    wait_for(second["id"])
    listed = api(hub).get("/api/tasks").json()
    assert [t["id"] for t in listed] == [second["id"], first["id"]]
    assert [t["id"] for t in api(hub).get("/api/tasks", {"status": "failed"}).json()] == [first["id"]]
    assert [t["id"] for t in api(hub).get("/api/tasks", {"q": "cake"}).json()] == [first["id"]]
    assert api(bob).get("/api/tasks").json() == []
    assert set(api(hub).get("/api/v1/tasks").json()[0]) >= {"user_query", "max_budget", "total_cost"}


@pytest.mark.redis
def test_cancelling_a_running_task_releases_its_hold(api, hub, celery_worker, make_agent, alice):
    """A real worker runs the slow step; the user cancels it midway: nothing is charged."""
    echo = Agent.objects.get(slug="echo-http")
    slow = make_agent(created_by=alice, slug="slow-echo", status="active", is_public=True, skills=["echo"],
                      endpoint_url=echo.endpoint_url, price_per_use=D("0.03"), dynamic_price=D("0.03"))
    task = Task.objects.create(user=hub, user_query="slow", max_budget=D("1"), status="awaiting_confirmation",
                               quote_total=D("0.03"))
    TaskStep.objects.create(task=task, position=0, subtask_type="echo", agent=slow, price=D("0.03"),
                            input={"text": ARTICLE, "delayMs": 4000})
    assert api(hub).post(f"/api/tasks/{task.pk}/confirm").status_code == 200
    deadline = time.monotonic() + 10
    while not Execution.objects.filter(task=task, status="running").exists():
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    assert wallet(hub).held == D("0.03")
    response = api(hub).delete(f"/api/tasks/{task.pk}")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert Execution.objects.get(task=task).status == "cancelled"
    assert TaskStep.objects.get(task=task).status == "cancelled"
    assert wallet(hub).held == 0 and wallet(hub).balance == D("10") and Hold.objects.get().status == "released"


@pytest.mark.redis
def test_a_chain_and_parallel_steps_through_a_real_worker(api, hub, celery_worker):
    chain = create(api, hub, f"Summarize this and translate the summary into Spanish: {ARTICLE}")
    parallel = create(api, hub, "Translate 'The red car is very fast.' into French and into German")
    for created in (chain, parallel):
        task = wait_for(created["id"])
        assert task.status == "completed", task.error
        assert task.total_cost <= task.max_budget
    assert wallet(hub).balance == D("10") - D("0.05") - D("0.04") and wallet(hub).held == 0
    assert ledger.ledger_is_consistent()


@pytest.mark.redis
def test_many_tasks_at_once_never_pass_their_budgets(api, hub, celery_worker):
    ids, errors = [], []

    def send():
        try:
            ids.append(create(api, hub, f"Summarize this and translate the summary into German: {ARTICLE}",
                              budget="0.06")["id"])
        except AssertionError as error:
            errors.append(error)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    tasks = [wait_for(task_id, timeout=60) for task_id in ids]
    assert all(task.status == "completed" and task.total_cost <= task.max_budget for task in tasks)
    assert wallet(hub).balance == D("10") - 6 * D("0.05") and ledger.ledger_is_consistent()


def test_an_llm_plans_and_answers_when_configured(api, hub, settings):
    from orchestration.tests.llm_servers import LLMServer, answer, text

    plan = {"subtasks": [{"skill": "summarization", "instruction": "Summarise the article",
                          "input": {"text": ARTICLE}, "dependsOn": []}]}
    with LLMServer() as llm:
        llm.script(answer(plan), text("Solar is the cheapest new power (summarised for you)."))
        settings.HUBCHAT_PROVIDERS = [{"kind": "anthropic", "model": "claude-test", "api_key": "sk-ant-test",
                                       "base_url": llm.url}]
        body = api(hub).post("/api/hubchat/message", {"content": f"Give me the gist: {ARTICLE}"},
                             format="json").json()
        task = wait_for(body["taskId"])
    assert task.status == "completed" and task.planner == "anthropic:claude-test" and task.planner_notes == []
    assert Message.objects.get(task=task, role="assistant").content.startswith("Solar is the cheapest")


def test_a_failing_llm_falls_back_to_the_builtin_planner_and_the_task_says_so(api, hub, settings):
    from orchestration.tests.llm_servers import LLMServer, overloaded

    with LLMServer() as llm:
        llm.script(overloaded())
        settings.HUBCHAT_PROVIDERS = [{"kind": "anthropic", "model": "claude-test", "api_key": "sk-ant-test",
                                       "base_url": llm.url}]
        task = wait_for(create(api, hub, f"Summarize this: {ARTICLE}")["id"])
    assert task.status == "completed" and task.planner == "builtin"
    assert any("anthropic:claude-test failed" in note and "529" in note for note in task.planner_notes)
    assert api(hub).get(f"/api/tasks/{task.pk}").json()["plannerNotes"] == task.planner_notes


def test_a_task_started_with_an_api_key_is_held_to_the_keys_daily_cap(hub):
    from rest_framework.test import APIClient

    from accounts import services as accounts_services

    key, raw = accounts_services.api_key_create(user=hub, name="chat bot", scopes=["read", "invoke"],
                                                daily_cap=D("0.04"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    first = client.post("/api/tasks", {"userQuery": f"Summarize this: {ARTICLE}", "maxBudget": "1"}, format="json")
    second = client.post("/api/tasks", {"userQuery": f"Summarize this: {ARTICLE}", "maxBudget": "1"}, format="json")
    assert first.status_code == second.status_code == 201
    done, refused = wait_for(first.json()["id"]), wait_for(second.json()["id"])
    assert done.status == "completed" and done.api_key == key and Execution.objects.get(task=done).api_key == key
    assert refused.status == "failed" and "chat bot" in refused.error and "0.0400" in refused.error
    assert refused.total_cost == 0 and wallet(hub).balance == D("9.97") and wallet(hub).held == 0


def test_search_results_are_handed_to_the_summarizer(api, hub):
    task = wait_for(create(api, hub, "Search for solar batteries then summarise the results")["id"])
    assert task.status == "completed", task.error
    search, summary = steps_of(api, hub, task.pk)
    assert (search["agentId"], summary["agentId"], summary["dependsOn"]) == ("search", "summarizer", [0])
    handed = TaskStep.objects.get(pk=summary["id"]).input["text"]
    assert handed.startswith("1. ") and handed == search["result"] and summary["result"]


def test_invoke_agent_with_a_task_id_records_the_payment_under_the_task(api, hub, bob):
    task = Task.objects.create(user=hub, user_query="by hand", max_budget=D("1"))
    body = {"agentId": "translator", "taskId": str(task.pk),
            "payload": {"text": "The red car is very fast.", "targetLanguage": "es"}}
    response = api(hub).post("/api/invoke-agent", body, format="json")
    assert response.status_code == 200 and response.json()["status"] == "completed", response.json()
    payments = api(hub).get("/api/payments/bazaarbucks").json()
    assert payments and {p["taskId"] for p in payments} == {str(task.pk)}
    assert Execution.objects.get().task == task
    theirs = api(bob).post("/api/invoke-agent", body, format="json")
    assert theirs.status_code == 404 and Execution.objects.count() == 1


def test_the_task_list_reads_a_fixed_number_of_queries_however_many_tasks(api, eve, alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    agent = Agent.objects.create(slug="list-agent", name="List Agent", created_by=alice, status="active")

    def tasks(n):
        for _ in range(n):
            task = Task.objects.create(user=eve, user_query="q", max_budget=D("1"), quote_total=D("0.01"))
            TaskStep.objects.create(task=task, position=0, subtask_type="summarization", agent=agent)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api(eve).get("/api/tasks").status_code == 200
        return len(captured)

    tasks(2)
    few = queries()
    tasks(8)
    assert queries() == few
