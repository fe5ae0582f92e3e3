"""Every demo agent, seeded as `make run` seeds it, run end to end over its real transport.

The HTTP agents answer from the demo server (started here on a free port); the hosted ones run
their uploaded packages in the sandbox. With REDIS_URL the runs travel through a real worker.
"""

from decimal import Decimal

import pytest
from django.core.management import call_command

from demo_agents.http import start_in_thread
from orchestration import outbound

pytestmark = pytest.mark.django_db(transaction=True)

# slug -> (input, what the output must hold)
RUNS = {
    "echo": ({"message": "Hello World!", "prefix": "Echo: "}, {"response": "Echo: Hello World!"}),
    "calculator": ({"operation": "add", "numbers": [1, 2, 3]}, {"result": 6}),
    "text-processor": ({"text": "Hello World", "operation": "analyze"}, {"word_count": 2, "character_count": 11}),
    "summarizer": ({"text": "Solar power is cheap. Solar panels fell in price. My cat sleeps. Solar farms use "
                            "batteries so solar power lasts after sunset.", "maxSentences": 1}, {}),
    "translator": ({"text": "The red car is very fast.", "targetLanguage": "es"},
                   {"translation": "El coche rojo es muy rápido."}),
    "search": ({"query": "solar batteries"}, {}),
    "mock-highprice": ({"text": "Short text to summarise. It has two sentences."}, {}),
    "echo-http": ({"anything": [1, 2]}, {"anything": [1, 2]}),
}


@pytest.fixture
def demo(settings, eve, fund):
    fund(eve, "50")  # the paid demo agents charge per run
    server, base_url = start_in_thread(0)
    settings.DEMO_AGENTS_URL = base_url
    settings.AGENT_ALLOWED_INTERNAL_HOSTS = ["127.0.0.1"]
    outbound.close_pools()
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    yield base_url
    server.stop()


def run(api, user, slug, payload):
    response = api(user).post(f"/api/agents/{slug}/execute?wait=20", {"input": payload}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def _check(slug, execution):
    payload, expected = RUNS[slug]
    assert execution["status"] == "completed", (slug, execution["error"])
    output = execution["output"]
    for key, value in expected.items():
        assert output[key] == value, (slug, output)
    if slug == "summarizer":
        assert "My cat sleeps" not in output["summary"] and "Solar" in output["summary"]
    if slug == "search":
        assert output["results"] and "solar" in output["results"][0]["title"].lower() + output["results"][0][
            "snippet"].lower()
    if slug in ("mock-highprice",):
        assert Decimal(str(execution["cost"])) >= Decimal("0.5")
    if slug in ("echo", "calculator", "text-processor"):  # measured in the sandbox
        assert execution["cpuUsage"] > 0 and execution["memoryUsage"] > 0


def test_each_demo_agent_answers_over_its_transport(api, eve, demo):
    for slug, (payload, _) in RUNS.items():
        _check(slug, run(api, eve, slug, payload))


def test_calculator_errors_are_the_agents_failure(api, eve, demo):
    execution = run(api, eve, "calculator", {"operation": "divide", "numbers": [1, 0]})
    assert execution["status"] == "failed" and "zero" in execution["error"].lower()


@pytest.mark.redis
def test_demo_agents_through_a_real_worker(api, eve, demo, celery_worker):
    for slug in ("echo", "translator", "summarizer"):
        _check(slug, run(api, eve, slug, RUNS[slug][0]))
