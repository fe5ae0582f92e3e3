"""Benchmark the built-in HubChat planner over a large catalog (see run.sh; `bash bench/hubchat/run.sh planner`).

1. Catalog: AGENTS listed agents (bulk_create) with 1-4 skills each, drawn from the demo skills and
   SKILLS synthetic ones ("legal_review", "invoice_extraction"...), names like "Swift Analyst 00042";
   plus UNLISTED draft/private agents whose own skills must not be offered.
2. Cold: `SkillVocabulary.build_from_catalog()` (the two catalog queries and the phrase table) COLD_RUNS
   times; `from_catalog(refresh=True)` (the same plus the write to the shared cache); and the path of
   another process (its copy dropped: read the shared cache and unpickle).
3. Warm: ROUNDS rounds over the REQUESTS (≥ 30, from one-liners to a 100,000-character text):
   `builtin_plan` alone, and `from_catalog()` + `builtin_plan` (what planning a task costs: one cache
   read of the catalog version, then the plan).
Prints JSON. Target: p95 of `builtin_plan` under 50 ms with 10,000 agents.
"""

import json
import os
import pickle
import random
import statistics
import sys
import time

import django

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agenthub.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from marketplace.choices import AgentStatus  # noqa: E402
from marketplace.models import Agent  # noqa: E402
from orchestration.hubchat import planner as planner_module  # noqa: E402
from orchestration.hubchat.planner import SkillVocabulary, builtin_plan  # noqa: E402

AGENTS = int(os.environ.get("AGENTS", 10_000))
UNLISTED = int(os.environ.get("UNLISTED", 1_000))
SKILLS = int(os.environ.get("SKILLS", 300))
ROUNDS = int(os.environ.get("ROUNDS", 200))
COLD_RUNS = int(os.environ.get("COLD_RUNS", 10))
TARGET_P95_MS = 50.0
SEED = 42

DEMO_SKILLS = ["summarization", "text_analysis", "translation", "language", "search", "research",
               "information_retrieval", "echo", "calculation", "math", "negotiation", "testing",
               "classification", "extraction", "sentiment_analysis", "code-generation", "sql-generation",
               "planning", "scheduling", "critique", "web-browsing", "memory", "reasoning", "tool-use"]
DOMAINS = ["legal", "medical", "finance", "hr", "sales", "marketing", "support", "devops", "security", "retail",
           "logistics", "energy", "insurance", "education", "travel", "real_estate", "gaming", "media", "biotech",
           "agriculture", "automotive", "telecom", "government", "nonprofit", "manufacturing", "hospitality",
           "sports", "fashion", "music", "research_lab"]
ACTIONS = ["review", "extraction", "classification", "summarization", "drafting", "analysis", "translation",
           "search", "monitoring", "forecasting", "auditing", "tagging", "reporting", "scoring"]
ADJ = ["Smart", "Rapid", "Deep", "Clever", "Swift", "Precise", "Friendly", "Tireless", "Quantum", "Lean",
       "Bright", "Agile", "Steady", "Bold", "Calm", "Nimble", "Sharp", "Wise", "Open", "Keen"]
NOUN = ["Coder", "Analyst", "Writer", "Researcher", "Helper", "Marketer", "Closer", "Operator", "Guardian",
        "Accountant", "Tutor", "Designer", "Scout", "Pilot", "Crafter", "Mentor", "Reviewer", "Planner"]

ARTICLE = ("Solar power is now the cheapest source of new electricity in many countries. The price of solar "
           "panels has fallen by about ninety percent in a decade. Grid operators pair solar farms with "
           "batteries so that electricity is available after sunset. ")
LONG_TEXT = (ARTICLE * (100_000 // len(ARTICLE) + 1))[:100_000]

REQUESTS = [
    f"Summarize this: {ARTICLE}",
    f"Summarize this and translate the summary into Spanish: {ARTICLE}",
    "Translate 'The red car is very fast.' into French and into German",
    "translate good morning into French and Spanish",
    "Translate into French, German, Spanish and Dutch: good morning",
    "search for quantum computing then summarise the results",
    "Search for bees, summarise the top result and translate it into Spanish",
    "translate it to French, then summarize it: Bonjour tout le monde",
    "summarise the meeting notes and search for bees",
    "Summarise 'a long story'; translate 'good night' into German; search for owls",
    "translate this into French and German, then summarise the translations: Bonjour",
    "Summarise this in Spanish: Bees make honey.",
    "TL;DR: the quick brown fox jumps over the lazy dog",
    "Can you give me a short summary of this? It is about bees.",
    "Please look up the capital of France",
    "What is 2 plus 3?",
    "calculate the average of 4, 5 and 6",
    "echo 'hi there'",
    "classify this support ticket: my invoice is wrong",
    "extract the names from this text: Ada met Grace in London.",
    "analyse the sentiment of this review: great product, slow delivery",
    "Generate SQL for the monthly sales report",
    "plan a product launch and schedule the kick-off meeting",
    "legal review of this contract: The parties agree...",
    "run a finance audit and then summarise the findings",
    "{agent_name}, please: quarterly numbers attached",  # a listed agent's name, filled in from the catalog
    "Bake me a chocolate cake",
    "summarise this and paint a picture of it: Bees.",
    "SUMMARISE THIS!!! The cat sat on the mat.",
    "Line one.\nLine two.\n\nSummarise the above",
    f"Summarise this: {LONG_TEXT}",
    f"Summarize {LONG_TEXT}",
    "",
]


def percentiles(samples: list[float]) -> dict:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"n": len(samples), "p50_ms": round(cuts[49], 3), "p95_ms": round(cuts[94], 3),
            "p99_ms": round(cuts[98], 3), "max_ms": round(max(samples), 3),
            "mean_ms": round(statistics.fmean(samples), 3)}


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def seed_catalog() -> dict:
    rng = random.Random(SEED)
    synthetic = [f"{domain}_{action}" for domain in DOMAINS for action in ACTIONS]
    rng.shuffle(synthetic)
    synthetic = synthetic[:SKILLS]
    owner, _ = get_user_model().objects.get_or_create(username="planner-bench",
                                                      defaults={"email": "planner-bench@example.com"})
    Agent.objects.filter(created_by=owner).delete()
    agents = []
    for i in range(1, AGENTS + UNLISTED + 1):
        skills = []
        if rng.random() < 0.6:
            skills.append(rng.choice(DEMO_SKILLS))
        skills += rng.sample(synthetic, rng.randint(1, 3))
        is_listed = i <= AGENTS
        if not is_listed:
            skills.append(f"unlisted_only_{i % 50}")  # never offered
        agents.append(Agent(
            slug=f"planner-bench-{i}", name=f"{rng.choice(ADJ)} {rng.choice(NOUN)} {i:05d}", created_by=owner,
            skills=skills, status=rng.choice([AgentStatus.ACTIVE, AgentStatus.APPROVED]) if is_listed else
            rng.choice([AgentStatus.DRAFT, AgentStatus.SUBMITTED, AgentStatus.INACTIVE]),
            is_public=is_listed or rng.random() < 0.5, short_description="A benchmark agent.",
        ))
    started = time.perf_counter()
    Agent.objects.bulk_create(agents, batch_size=2000)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Agent._meta.db_table}")
    return {"listed_agents": AGENTS, "unlisted_agents": UNLISTED, "synthetic_skills": len(synthetic),
            "demo_skills": len(DEMO_SKILLS), "insert_seconds": round(seconds, 1)}


def main() -> None:
    catalog = seed_catalog()

    # --- cold
    build_ms, vocabulary = [], None
    for _ in range(COLD_RUNS):
        started = time.perf_counter()
        vocabulary = SkillVocabulary.build_from_catalog()
        build_ms.append((time.perf_counter() - started) * 1000)
    refresh_ms = [timed(lambda: SkillVocabulary.from_catalog(refresh=True)) for _ in range(COLD_RUNS)]

    def other_process():
        planner_module._memo = None
        SkillVocabulary.from_catalog()

    shared_cache_ms = [timed(other_process) for _ in range(COLD_RUNS)]
    assert not any(skill.startswith("unlisted_only_") for skill in vocabulary.skills), "an unlisted skill is offered"

    # --- warm
    named = Agent.objects.filter(slug="planner-bench-42").values_list("name", "skills").get()
    REQUESTS[25] = REQUESTS[25].format(agent_name=named[0])
    checks = {
        "chain": [(s.skill, s.depends_on) for s in builtin_plan(REQUESTS[1], vocabulary=vocabulary).subtasks],
        "parallel": [(s.skill, s.depends_on) for s in builtin_plan(REQUESTS[2], vocabulary=vocabulary).subtasks],
        "agent_name": {"request": REQUESTS[25], "agent_skills": named[1],
                       "planned": [s.skill for s in builtin_plan(REQUESTS[25], vocabulary=vocabulary).subtasks]},
        "unknown": list(builtin_plan(REQUESTS[26], vocabulary=vocabulary).unknown),
    }
    for query in REQUESTS:  # warm-up
        builtin_plan(query, vocabulary=vocabulary)
    plan_ms, request_ms, by_request = [], [], {i: [] for i in range(len(REQUESTS))}
    for _ in range(ROUNDS):
        for i, query in enumerate(REQUESTS):
            took = timed(lambda q=query: builtin_plan(q, vocabulary=vocabulary))
            plan_ms.append(took)
            by_request[i].append(took)
            request_ms.append(timed(lambda q=query: builtin_plan(q, vocabulary=SkillVocabulary.from_catalog())))
    slowest = sorted(((statistics.median(samples), i) for i, samples in by_request.items()), reverse=True)[:3]

    warm = percentiles(plan_ms)
    print(json.dumps({
        "catalog": catalog,
        "vocabulary": {"skills": len(vocabulary.skills), "phrases": len(vocabulary.phrases),
                       "pickled_bytes": len(pickle.dumps(vocabulary)),
                       "cache_backend": settings.CACHES["default"]["BACKEND"]},
        "cold": {"build_from_catalog": percentiles(build_ms) | {"runs": COLD_RUNS},
                 "from_catalog_refresh": percentiles(refresh_ms),
                 "from_catalog_other_process": percentiles(shared_cache_ms)},
        "warm": {"requests": len(REQUESTS), "rounds": ROUNDS, "builtin_plan": warm,
                 "from_catalog_plus_builtin_plan": percentiles(request_ms),
                 "slowest_requests_median_ms": [{"request": REQUESTS[i][:60], "chars": len(REQUESTS[i]),
                                                 "median_ms": round(ms, 3)} for ms, i in slowest]},
        "checks": checks,
        "target": {"builtin_plan_p95_ms_below": TARGET_P95_MS, "met": warm["p95_ms"] < TARGET_P95_MS},
        "load_average": open("/proc/loadavg").read().split()[:3],
    }, indent=2, default=str))


if __name__ == "__main__":
    main()
