"""Runs, attempts, hirings, packages and health probes in the admin: shown, cancellable, never edited."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.models import AgentPackage, Hiring
from marketplace.tests.factories import listed
from orchestration.models import Execution, ExecutionAttempt, HealthCheck

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(dave) -> Client:
    client = Client()
    client.force_login(dave)
    return client


@pytest.fixture
def records(alice, eve):
    agent = listed(created_by=alice, slug="admin-agent")
    hiring = Hiring.objects.create(agent=agent, user=eve, config={"tone": "<b>dry</b>"})
    running = Execution.objects.create(agent=agent, user=eve, hiring=hiring, status="running", input={"q": 1},
                                       started_at=timezone.now(), attempt_count=1)
    ExecutionAttempt.objects.create(execution=running, number=1, started_at=timezone.now())
    done = Execution.objects.create(agent=agent, user=eve, status="completed", output={"a": "<script>x</script>"})
    HealthCheck.objects.create(agent=agent, ok=False, response_ms=12, detail="503")
    AgentPackage.objects.create(agent=agent, sha256="a" * 64, size=3, content=b"zip")
    return {"hiring": hiring, "running": running, "done": done}


def test_every_page_of_the_runtime_admin_loads(staff, records):
    for model in (Execution, Hiring, HealthCheck, AgentPackage):
        opts = model._meta
        assert staff.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).status_code == 200
        for obj in model.objects.all():
            page = staff.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
            assert page.status_code == 200
    page = staff.get(reverse("admin:orchestration_execution_change", args=[records["done"].pk])).content.decode()
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page
    assert staff.get(reverse("admin:orchestration_execution_add")).status_code == 403


def test_staff_cancel_runs_and_hirings_through_the_services(staff, records):
    changelist = reverse("admin:orchestration_execution_changelist")
    staff.post(changelist, {"action": "cancel_executions",
                            "_selected_action": [records["running"].pk, records["done"].pk]})
    assert Execution.objects.get(pk=records["running"].pk).status == "cancelled"
    assert Execution.objects.get(pk=records["done"].pk).status == "completed"

    staff.post(reverse("admin:marketplace_hiring_changelist"),
               {"action": "cancel_hirings", "_selected_action": [records["hiring"].pk]})
    assert Hiring.objects.get(pk=records["hiring"].pk).status == "cancelled"


def test_tasks_steps_and_messages_show_in_the_admin_and_staff_can_cancel_a_task(staff, alice, eve):
    from decimal import Decimal

    from orchestration.models import Message, Task, TaskStep

    agent = listed(created_by=alice, slug="task-agent")
    task = Task.objects.create(user=eve, user_query="<b>summarise</b>", max_budget=Decimal("1"),
                               status="awaiting_confirmation", quote_total=Decimal("0.05"))
    TaskStep.objects.create(task=task, position=0, subtask_type="summarization", agent=agent, price=Decimal("0.05"),
                            selection={"chosen": {"agent": "task-agent", "reason": "<i>best</i>"}})
    Message.objects.create(user=eve, role="user", content="<script>hi</script>", task=task)
    for model in (Task, TaskStep, Message):
        opts = model._meta
        assert staff.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).status_code == 200
        for obj in model.objects.all():
            page = staff.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
            assert page.status_code == 200 and "<script>hi</script>" not in page.content.decode()
        assert staff.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")).status_code == 403
    changelist = reverse("admin:orchestration_task_changelist")
    staff.post(changelist, {"action": "cancel_tasks", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.status == "cancelled" and TaskStep.objects.get(task=task).status == "cancelled"
