"""Synthetic catalog agents for benchmarks: `manage.py seed_catalog --count 10000`.

The rows are realistic enough to exercise the catalog like real data (every seed 000/002/004
field filled, varied domains, pricing consistent with the pricing model, ratings, dates over
two years) and drawn from the same vocabulary as the FastAPI peer's seed
(`../shared/bench-peers/seed.py`), so a query such as "quantum analyst" matches a similar
share of rows in both. Agent number i always gets the same content for a given --seed (its
own random.Random), and every agent belongs to the "catalog-bot" user.

Slugs are predictable so a load generator can address agents at random: the listed agents
(public, approved or active: what an anonymous client can open) are `catalog-1` ..
`catalog-L` with no gaps, the others `catalog-unlisted-1` .. `catalog-unlisted-M`; the command
prints L. So `/api/agents/catalog-{rand:1-L}` never answers 404.

Rows are inserted with bulk_create in batches; on PostgreSQL the search vector is filled by
the table's trigger and the table is ANALYZEd at the end so the planner sees the new rows.
Without --clear, new agents are numbered after the bot's existing ones.
"""

import contextlib
import hashlib
import random
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, connection, transaction

from marketplace.choices import AgentStatus, PricingModel, Transport
from marketplace.models import Agent, AgentReview, AgentVersion, AgentView

BOT_USERNAME = "catalog-bot"
SLUG_PREFIX = "catalog-"
UNLISTED_PREFIX = "catalog-unlisted-"

# The peer's vocabulary (bench-peers/seed.py), so searches match comparable shares of rows.
CATEGORIES = ["coding", "data-analysis", "writing", "research", "customer-support", "marketing",
              "sales", "devops", "security", "finance", "education", "design"]
TAGS = ["python", "javascript", "sql", "llm", "rag", "summarization", "translation", "seo", "email",
        "slack", "github", "jira", "pdf", "spreadsheet", "web-scraping", "api", "automation", "chatbot",
        "analytics", "dashboard", "kubernetes", "aws", "terraform", "testing", "code-review", "docs",
        "crm", "hubspot", "salesforce", "social-media", "image", "audio", "video", "compliance",
        "gdpr", "invoice", "accounting", "tutoring", "quiz", "ux"]
SKILLS = ["planning", "tool-use", "retrieval", "code-generation", "sql-generation", "classification",
          "extraction", "summarization", "translation", "reasoning", "web-browsing", "memory",
          "scheduling", "negotiation", "critique"]
ADJ = ["Smart", "Rapid", "Deep", "Auto", "Clever", "Swift", "Precise", "Friendly", "Tireless", "Quantum",
       "Lean", "Bright", "Agile", "Steady", "Bold", "Calm", "Nimble", "Sharp", "Wise", "Open"]
NOUN = ["Coder", "Analyst", "Writer", "Researcher", "Helper", "Marketer", "Closer", "Operator", "Guardian",
        "Accountant", "Tutor", "Designer", "Scout", "Pilot", "Crafter", "Mentor", "Reviewer", "Planner"]
WORDS = ("agent automates reports python pipelines summarizes documents answers customer questions "
         "drafts emails reviews pull requests generates sql queries monitors kubernetes clusters "
         "translates content analyzes spreadsheets builds dashboards schedules meetings triages tickets "
         "writes blog posts researches competitors extracts invoices checks compliance tutors students "
         "designs landing pages optimizes seo scrapes websites integrates slack github jira salesforce "
         "hubspot with retrieval augmented generation and long term memory fast reliable secure").split()

# What each domain's agents are for: (short description, problem statement) material.
DOMAIN_TASKS = {
    "coding": ("reviews pull requests and suggests fixes", "Code review queues slow every release down"),
    "data-analysis": ("turns spreadsheets into charts and findings", "Analysts spend days cleaning data"),
    "writing": ("drafts and edits long-form content", "Content calendars slip for lack of writers"),
    "research": ("collects and summarises sources on a topic", "Desk research takes weeks per question"),
    "customer-support": ("answers customer questions and triages tickets", "Support backlogs keep growing"),
    "marketing": ("plans campaigns and writes ad copy", "Campaigns launch late and untested"),
    "sales": ("qualifies leads and drafts follow-ups", "Reps lose deals to slow follow-up"),
    "devops": ("monitors clusters and proposes remediations", "On-call engineers drown in alerts"),
    "security": ("checks configurations against policies", "Misconfigurations reach production unnoticed"),
    "finance": ("extracts invoices and reconciles accounts", "Month-end close takes too long"),
    "education": ("tutors students and builds quizzes", "Teachers cannot give every student feedback"),
    "design": ("designs landing pages and reviews UX", "Design reviews bottleneck product teams"),
}
CAPABILITIES = ["batch-processing", "streaming-output", "multi-language", "file-upload", "webhooks",
                "human-in-the-loop", "citations", "structured-output", "long-context", "vision"]
TOOLS = [("web_search", "Searches the public web."), ("sql", "Runs read-only SQL queries."),
         ("python", "Executes sandboxed Python."), ("email", "Drafts and sends email."),
         ("slack", "Posts to Slack channels."), ("github", "Reads repositories and pull requests."),
         ("jira", "Reads and updates tickets."), ("pdf_reader", "Extracts text from PDF files."),
         ("calendar", "Reads and books calendar slots."), ("crm", "Reads and updates CRM records.")]
SECURITY = ["PII redaction before model calls", "Read-only credentials", "Audit log of every action",
            "Data stays in the EU region", "Secrets from a vault, never in prompts", "Rate-limited outbound calls",
            "Human approval for external emails", "SOC 2 controls"]
PERSONAS = ["Team lead", "Analyst", "Support agent", "Engineer", "Marketer", "Account executive", "Student",
            "Finance controller", "Designer", "Researcher"]
KPI_NAMES = ["Time saved per task", "Accuracy", "Customer satisfaction", "Tickets resolved", "Cost per task",
             "First response time", "Adoption"]
INPUTS = ["Documents (PDF, DOCX)", "Spreadsheets (CSV, XLSX)", "A plain-text request", "A repository URL",
          "Ticket history", "A URL to analyse", "Meeting transcripts", "Invoice scans"]
OUTPUTS = ["A Markdown report", "A JSON summary", "Draft emails", "Review comments", "A chart and findings",
           "A ticket reply", "A quiz", "A remediation plan"]
TEAMS = ["Platform team", "Growth team", "Data team", "Support operations", "Finance automation",
         "Developer productivity", "Learning team", "Security engineering"]
AUTHORS = ["Ada Moreau", "Ben Okafor", "Chen Wei", "Dana Kowalski", "Elif Yilmaz", "Farid Haddad",
           "Grace Lindqvist", "Hugo Santos", "Ines Duarte", "Jonas Berg", "Kiko Tanaka", "Lena Fischer"]

# Mostly listed: about 85% active or approved, the rest spread over the other states.
STATUS_WEIGHTS = [(AgentStatus.ACTIVE, 78), (AgentStatus.APPROVED, 8), (AgentStatus.DRAFT, 5),
                  (AgentStatus.SUBMITTED, 3), (AgentStatus.INACTIVE, 4), (AgentStatus.REJECTED, 2)]
PRICING_WEIGHTS = [(PricingModel.PER_USE, 55), (PricingModel.FREE, 25), (PricingModel.SUBSCRIPTION, 20)]
TRANSPORT_WEIGHTS = [(Transport.HTTP, 70), (Transport.A2A, 15), (Transport.HOSTED, 15)]
PUBLIC_SHARE = 0.92
CENT = Decimal("0.01")


def _pick(rng: random.Random, weighted):
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights)[0]


def _sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."


def make_agent(i: int, *, seed: int, anchor: datetime, owner) -> Agent:
    """Agent number `i` (1-based): the same fields for the same (seed, i), whatever else exists.

    The slug is left empty: the caller numbers listed and unlisted agents separately.
    """
    rng = random.Random(seed * 1_000_003 + i)
    adj, noun, domain = rng.choice(ADJ), rng.choice(NOUN), rng.choice(CATEGORIES)
    does, problem = DOMAIN_TASKS[domain]
    name = f"{adj} {noun} {i:05d}"
    tags = rng.sample(TAGS, rng.randint(2, 6))
    skills = rng.sample(SKILLS, rng.randint(1, 4))

    pricing = _pick(rng, PRICING_WEIGHTS)
    per_use = monthly = Decimal("0")
    if pricing == PricingModel.PER_USE:
        per_use = (Decimal(rng.randint(1, 5000)) / 1000).quantize(Decimal("0.0001"))  # 0.001 .. 5 BB a run
    elif pricing == PricingModel.SUBSCRIPTION:
        monthly = Decimal(rng.choice([5, 9, 19, 29, 49, 99, 199])) - Decimal("0.01")
    load = round(rng.random() ** 2, 3)
    dynamic = (per_use * Decimal(str(1 + load / 2))).quantize(Decimal("0.0001"))

    transport = _pick(rng, TRANSPORT_WEIGHTS)
    endpoint = entry_point = code_hash = ""
    requirements: list[str] = []
    if transport == Transport.HOSTED:
        entry_point = f"main.py:{adj}{noun}Agent"
        requirements = rng.sample(["requests>=2.31", "pydantic>=2.6", "numpy>=1.26", "pandas>=2.2"], 2)
        code_hash = hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()
    else:
        endpoint = f"https://agents.example.com/a/{i}"

    status = _pick(rng, STATUS_WEIGHTS)
    rating_count = int(rng.paretovariate(1.2) * 3) if rng.random() < 0.9 else 0
    rating = round(rng.uniform(2.5, 5.0), 1) if rating_count else 0.0
    jobs = int(rng.paretovariate(1.1) * 20) - 20
    created = anchor - timedelta(seconds=rng.randint(0, 2 * 365 * 86400))
    updated = min(created + timedelta(seconds=rng.randint(0, 90 * 86400)), anchor)
    views = int(rng.paretovariate(1.3) * 10) - 10
    author = rng.choice(AUTHORS)

    return Agent(
        slug="",
        name=name,
        short_description=f"{adj} {noun.lower()} that {does}.",
        description=_sentence(rng, 25, 60),
        business_domain=domain,
        problem_statement=f"{problem}. {_sentence(rng, 8, 16)}",
        goals=[f"{_sentence(rng, 4, 8)}" for _ in range(rng.randint(1, 3))],
        in_scope=[f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} {rng.choice(WORDS)}" for _ in range(2)],
        out_of_scope=["Decisions without human review"] if rng.random() < 0.5 else [],
        operational_details=f"Runs on demand; median answer in {rng.randint(1, 30)} s. {_sentence(rng, 6, 12)}",
        inputs=rng.sample(INPUTS, rng.randint(1, 3)),
        outputs=rng.sample(OUTPUTS, rng.randint(1, 2)),
        tools=[{"name": n, "description": d} for n, d in rng.sample(TOOLS, rng.randint(1, 3))],
        security_controls=rng.sample(SECURITY, rng.randint(1, 3)),
        kpis=[{"name": k, "target": f"{rng.randint(50, 99)}%", "current": f"{rng.randint(30, 99)}%"}
              for k in rng.sample(KPI_NAMES, rng.randint(1, 3))],
        personas=rng.sample(PERSONAS, rng.randint(1, 3)),
        owner=rng.choice(TEAMS),
        version=f"{rng.randint(0, 3)}.{rng.randint(0, 12)}.{rng.randint(0, 20)}",
        author=author,
        email=f"{author.split()[0].lower()}@agents.example.com",
        transport=transport,
        entry_point=entry_point,
        requirements=requirements,
        config_schema={"type": "object", "properties": {"language": {"type": "string", "default": "en"}},
                       "additionalProperties": False},
        code_hash=code_hash,
        tags=tags,
        pricing_model=pricing,
        price_per_use=per_use,
        monthly_price=monthly,
        status=status,
        is_public=rng.random() < PUBLIC_SHARE,
        validation_errors=[],
        total_hires=max(jobs // 4, 0),
        total_executions=max(jobs, 0),
        skills=skills,
        capabilities=rng.sample(CAPABILITIES, rng.randint(1, 4)),
        dynamic_price=dynamic,
        load=load,
        rating=rating,
        rating_count=rating_count,
        jobs_completed=max(jobs, 0),
        endpoint_url=endpoint,
        avg_response_time=rng.randint(120, 8000),
        availability=rng.random() < 0.9,
        view_count=max(views, 0),
        trending_score=round(rng.random() * 10, 3) if rng.random() < 0.3 else 0.0,
        created_by=owner,
        updated_by=owner,
        created_at=created,
        updated_at=updated,
    )


@contextlib.contextmanager
def _explicit_timestamps():
    """Let bulk_create keep the generated created_at/updated_at instead of stamping "now"."""
    created, updated = Agent._meta.get_field("created_at"), Agent._meta.get_field("updated_at")
    saved = created.auto_now_add, updated.auto_now
    created.auto_now_add = updated.auto_now = False
    try:
        yield
    finally:
        created.auto_now_add, updated.auto_now = saved


def catalog_bot():
    User = get_user_model()
    bot, created = User.objects.get_or_create(
        username=BOT_USERNAME,
        defaults={"email": f"{BOT_USERNAME}@agenthub.local", "full_name": "Catalog Bot (synthetic benchmark data)"},
    )
    if created:
        bot.set_unusable_password()
        bot.save(update_fields=["password"])
    return bot


class Numbering:
    """Where the bot's agents stand: how many there are and the last listed / unlisted slug numbers."""

    LISTED = re.compile(re.escape(SLUG_PREFIX) + r"(\d+)")
    UNLISTED = re.compile(re.escape(UNLISTED_PREFIX) + r"(\d+)")

    def __init__(self, bot):
        self.agents = self.listed = self.unlisted = 0
        for slug in Agent.objects.filter(created_by=bot).values_list("slug", flat=True).iterator(chunk_size=10000):
            self.agents += 1
            if m := self.LISTED.fullmatch(slug):
                self.listed = max(self.listed, int(m.group(1)))
            elif m := self.UNLISTED.fullmatch(slug):
                self.unlisted = max(self.unlisted, int(m.group(1)))

    def name(self, agent: Agent) -> None:
        if agent.is_listed:
            self.listed += 1
            agent.slug = f"{SLUG_PREFIX}{self.listed}"
        else:
            self.unlisted += 1
            agent.slug = f"{UNLISTED_PREFIX}{self.unlisted}"


def delete_bot_agents(bot) -> int:
    """Delete the bot's agents without loading them: a queryset delete() fetches every row to send
    post_delete signals (minutes for 100,000 agents once a receiver listens)."""
    agents = Agent.objects.filter(created_by=bot)
    agents.update(current_version=None)
    for model in (AgentReview, AgentView, AgentVersion):  # what the catalog itself hangs on an agent
        model.objects.filter(agent__created_by=bot).delete()
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                table = connection.ops.quote_name(Agent._meta.db_table)
                owner = Agent._meta.get_field("created_by").get_db_prep_value(bot.pk, connection)
                cursor.execute(f"DELETE FROM {table} WHERE created_by_id = %s", [owner])
                deleted = cursor.rowcount
            connection.check_constraints()  # foreign keys are deferred: check them now
    except IntegrityError:  # something else (a hiring, an execution) refers to one: the ORM decides
        deleted = agents.delete()[0]
    return deleted


def announce_catalog_change() -> None:
    """bulk_create and the raw delete send no signals: tell the catalog's caches, when there are any."""
    try:
        from marketplace.signals import catalog_changed
    except ImportError:
        return
    catalog_changed(sender=Agent)


class Command(BaseCommand):
    help = ("Create N synthetic, deterministic catalog agents owned by the catalog-bot user "
            "(listed ones are catalog-1..catalog-L, the rest catalog-unlisted-<n>).")

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="How many agents to create.")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument("--batch", type=int, default=2000, help="Rows per INSERT (default 2000).")
        parser.add_argument("--clear", action="store_true", help="Delete the catalog-bot's agents first.")
        parser.add_argument("--anchor", help="Newest possible created_at, YYYY-MM-DD (default: today, UTC); "
                                             "agents are spread over the two years before it.")

    def handle(self, *args, count, seed, batch, clear, anchor, verbosity=1, **options):
        if count < 0:
            raise CommandError("--count must be 0 or more.")
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        if anchor:
            try:
                anchor_at = datetime.strptime(anchor, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
            except ValueError:
                raise CommandError("--anchor must look like 2026-11-01.") from None
        else:
            anchor_at = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        anchor_at -= timedelta(seconds=1)

        started = time.monotonic()
        with transaction.atomic():
            bot = catalog_bot()
            if clear:
                deleted = delete_bot_agents(bot)
                if verbosity:
                    self.stdout.write(f"cleared {deleted} rows owned by {BOT_USERNAME}")
            numbering = Numbering(bot)
            first_listed = numbering.listed + 1
            first = numbering.agents + 1
            made = 0
            with _explicit_timestamps():
                for start in range(first, first + count, batch):
                    stop = min(start + batch, first + count)
                    agents = [make_agent(i, seed=seed, anchor=anchor_at, owner=bot) for i in range(start, stop)]
                    for agent in agents:
                        numbering.name(agent)
                    Agent.objects.bulk_create(agents, batch_size=batch)
                    made += stop - start
                    if verbosity >= 2 or (verbosity and made % 20000 == 0):
                        self.stdout.write(f"  {made}/{count} ({time.monotonic() - started:.1f} s)")
            announce_catalog_change()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE marketplace_agent")
        if verbosity:
            self.stdout.write(self.style.SUCCESS(
                f"seeded {count} agents owned by {BOT_USERNAME} in {time.monotonic() - started:.1f} s; "
                f"listed: {SLUG_PREFIX}{first_listed}..{SLUG_PREFIX}{numbering.listed}, "
                f"unlisted: {numbering.unlisted} ({UNLISTED_PREFIX}N); bot owns {numbering.agents + count} agents"
            ))
            self.stdout.write(f"LISTED_LAST={numbering.listed}")
