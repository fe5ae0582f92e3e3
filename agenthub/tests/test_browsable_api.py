"""The browsable API renders for a signed-in person: lists, details and the forms to post."""

from decimal import Decimal

import pytest
from django.test import Client

from orchestration.models import Message, Task, TaskStep

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(eve) -> Client:
    client = Client()
    client.force_login(eve)
    return client


def test_the_browsable_api_renders_hubchat_tasks_and_the_wallet(browser, eve):
    task = Task.objects.create(user=eve, user_query="Summarize this: <b>bold</b>", max_budget=Decimal("1"))
    TaskStep.objects.create(task=task, position=0, subtask_type="summarization")
    Message.objects.create(user=eve, role="user", content="hello", task=task)
    pages = {
        "/api/tasks": "userQuery",
        f"/api/tasks/{task.pk}": "userQuery",
        f"/api/tasks/{task.pk}/steps": "subtaskType",
        "/api/messages": "hello",
        "/api/hubchat/message": "content",  # GET is 405, but the page offers the form to post
        "/api/v1/tasks": "user_query",
        "/api/wallet": "available",
        "/api/executions": "[",
    }
    for url, expected in pages.items():
        response = browser.get(url, HTTP_ACCEPT="text/html")
        body = response.content.decode()
        assert response.status_code in (200, 405), (url, response.status_code)
        assert response["Content-Type"].startswith("text/html") and "Django REST framework" in body, url
        assert expected in body, (url, expected)
        assert "<b>bold</b>" not in body
