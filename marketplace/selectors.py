"""Reads of the catalog: what a user may see, analytics and search."""

import html
import re
from collections import defaultdict
from datetime import timedelta
from functools import lru_cache

import snowballstemmer
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Avg,
    Case,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Lower, TruncHour
from django.utils import timezone

from accounts.models import User
from marketplace.choices import LISTED_STATUSES, AgentStatus
from marketplace.models import Agent, AgentView

LISTED = Q(is_public=True, status__in=LISTED_STATUSES)


# The creator's username rides along as a column (a subquery, not a join, so that counting
# the catalog for pagination stays an index-only scan). Built once; querysets copy it.
_CREATOR_USERNAME = Subquery(User.objects.filter(pk=OuterRef("created_by_id")).values("username")[:1])


def agent_visible(*, user=None) -> QuerySet[Agent]:
    """The agents `user` may see; for anyone else they do not exist (404).

    Everyone sees listed agents; creators also see their own; reviewers also see every
    agent that has been submitted (drafts stay private); staff see all.
    """
    agents = Agent.objects.annotate(creator_username=_CREATOR_USERNAME)
    if user is None or not user.is_authenticated:
        return agents.filter(LISTED)
    if user.is_staff:
        return agents
    visible = LISTED | Q(created_by=user)
    if user.has_perm("marketplace.review_agent"):
        visible |= ~Q(status=AgentStatus.DRAFT)
    return agents.filter(visible)


# What hiring and running an agent read: not its catalog text, nor its search vector.
AGENT_RUN_FIELDS = (
    "slug", "name", "status", "is_public", "created_by_id", "pricing_model", "price_per_use", "monthly_price",
    "dynamic_price", "config_schema", "transport", "endpoint_url", "entry_point", "code_hash", "protocol_version",
    "current_version__number", "current_version__transport", "current_version__endpoint_url",
    "current_version__entry_point", "current_version__code_hash", "current_version__agent_id",
)


def agent_for(*, slug: str, user=None) -> Agent | None:
    """One agent by slug if `user` may see it (agent_visible's rule), reading no permissions for a
    listed agent: the common case of running or hiring one costs a single query."""
    agent = Agent.objects.select_related("current_version").only(*AGENT_RUN_FIELDS).filter(slug=slug).first()
    if agent is None or agent.is_listed:
        return agent
    user_ok = user is not None and user.is_authenticated
    if user_ok and (user.is_staff or agent.created_by_id == user.pk):
        return agent
    if user_ok and agent.status != AgentStatus.DRAFT and user.has_perm("marketplace.review_agent"):
        return agent
    return None


CATALOG_VERSION_KEY = "catalog:version"
LISTED_COUNT_TTL = 60


def listed_agent_count() -> int:
    """How many agents the public catalog lists, cached until an agent changes (or a minute passes).

    Counting is linear in the catalog's size, and the unfiltered public list (the home page,
    the React UI's first call) asks for it on every request. Any saved or deleted agent bumps
    the catalog version (see marketplace.signals); the TTL covers bulk writes that send no signal.
    """
    return cache.get_or_set(
        f"catalog:listed-count:{catalog_version()}", lambda: Agent.objects.filter(LISTED).count(), LISTED_COUNT_TTL
    )


def catalog_version() -> int:
    """Moves whenever an agent is saved or deleted: part of the key of anything cached about the catalog."""
    return cache.get(CATALOG_VERSION_KEY, 0)


def agent_manageable_by(*, agent: Agent, user) -> bool:
    """The agent's creator and staff may edit, submit, (de)activate and delete it."""
    return bool(user and user.is_authenticated and (user.is_staff or agent.created_by_id == user.pk))


def agent_reviews_visible_to(*, agent: Agent, user) -> bool:
    """Review decisions (who, when, why) are shown to the agent's managers and to reviewers."""
    return agent_manageable_by(agent=agent, user=user) or bool(
        user and user.is_authenticated and user.has_perm("marketplace.review_agent")
    )


def catalog_counts() -> dict:
    return {
        "agents": Agent.objects.count(),
        "listedAgents": Agent.objects.filter(LISTED).count(),
        "views": AgentView.objects.count(),
    }


# --- Analytics ----------------------------------------------------------------


def analytics_stats() -> dict:
    by_status = dict.fromkeys(AgentStatus.values, 0)
    by_status.update(Agent.objects.values_list("status").annotate(n=Count("pk")).order_by())
    totals = Agent.objects.aggregate(
        hires=Coalesce(Sum("total_hires"), 0), executions=Coalesce(Sum("total_executions"), 0)
    )
    return {
        "total_agents": sum(by_status.values()),
        "listed_agents": Agent.objects.filter(LISTED).count(),
        "agents_by_status": by_status,
        "total_views": AgentView.objects.count(),
        "total_hires": totals["hires"],
        "total_executions": totals["executions"],
        "total_users": User.objects.filter(is_active=True).count(),
    }


def trending_scores(*, days: int = 7, agent_ids=None) -> dict:
    """agent id -> score: views in the last `days`, each weighted by how recent it is.

    A view in the current hour weighs 1 and the weight falls linearly to 0 at `days` ago,
    so yesterday's burst outranks last week's. Views are counted per hour in the database.
    """
    now = timezone.now()
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    window_hours = days * 24
    views = AgentView.objects.filter(viewed_at__gte=now - timedelta(days=days))
    if agent_ids is not None:
        views = views.filter(agent_id__in=agent_ids)
    per_hour = views.annotate(hour=TruncHour("viewed_at")).values_list("agent_id", "hour").annotate(n=Count("pk"))
    scores: dict = defaultdict(float)
    for agent_id, hour, n in per_hour.order_by():
        age_hours = (this_hour - hour).total_seconds() / 3600
        scores[agent_id] += n * max(window_hours - age_hours, 0) / window_hours
    return dict(scores)


def analytics_trending(*, days: int = 7, limit: int = 10) -> list[dict]:
    since = timezone.now() - timedelta(days=days)
    scores = trending_scores(days=days, agent_ids=Agent.objects.filter(LISTED).values("pk"))
    top = sorted(scores.items(), key=lambda item: item[1], reverse=True)[:limit]
    ids = [pk for pk, _ in top]
    agents = Agent.objects.filter(pk__in=ids).annotate(
        recent_views=Count("views", filter=Q(views__viewed_at__gte=since))
    ).in_bulk()
    return [
        {
            "id": agents[pk].slug, "name": agents[pk].name, "business_domain": agents[pk].business_domain,
            "short_description": agents[pk].short_description, "rating": agents[pk].rating,
            "view_count": agents[pk].view_count, "views": agents[pk].recent_views, "score": round(score, 3),
        }
        for pk, score in top if pk in agents
    ]


def analytics_by_domain() -> list[dict]:
    rows = (
        Agent.objects.filter(LISTED)
        .values("business_domain")
        .annotate(count=Count("pk"), views=Coalesce(Sum("view_count"), 0), average_rating=Avg("rating"))
        .order_by("-count", "business_domain")
    )
    return [
        {"domain": row["business_domain"] or "uncategorised", "count": row["count"], "views": row["views"],
         "average_rating": round(row["average_rating"] or 0, 2)}
        for row in rows
    ]


# --- Search -------------------------------------------------------------------

SEARCH_FIELDS = ("name", "short_description", "description", "problem_statement", "business_domain")
MARK_START, MARK_STOP = "\x02", "\x03"  # never in text; turned into <mark> after escaping


def _search_candidates(*, user, query: str):
    """The ways `query` can match, in order of preference; each ranked best first (`score`)."""
    agents = agent_visible(user=user)
    if connection.vendor == "postgresql":
        tsquery = SearchQuery(query, search_type="websearch", config="english")
        # Ranked by the weighted tsvector: name (A) above descriptions, tags, skills, domain.
        yield agents.filter(search_vector=tsquery).annotate(
            score=SearchRank(F("search_vector"), tsquery, weights=[0.1, 0.3, 0.6, 1.0])
        ).order_by("-score", "-rating", "slug")
        # Nothing matched word for word: tolerate typos in names. Every word of the query must be
        # like a word of the name (`lower(name) %> word`, pg_trgm's word similarity above the
        # threshold set in settings; GIN-indexed), so "sumarizer" finds "Summarizer".
        words = [word for word in re.findall(r"\w+", query.lower()) if len(word) > 2][:6]
        if words:
            fuzzy = Q()
            for word in words:
                fuzzy &= Q(lower_name__trigram_word_similar=word)
            similarity = TrigramWordSimilarity(query.lower(), Lower("name"))
            yield (
                agents.alias(lower_name=Lower("name"))
                .filter(fuzzy)
                .annotate(score=ExpressionWrapper(similarity, output_field=FloatField()))
                .order_by("-score", "-rating", "slug")
            )
        return
    # SQLite: every word must appear somewhere; a hit in the name counts most.
    words = [word for word in re.findall(r"\w+", query.lower()) if len(word) > 1][:8]
    if not words:
        return
    condition, score = Q(), Value(0, output_field=IntegerField())
    for word in words:
        any_field = Q()
        for field in (*SEARCH_FIELDS, "tags", "skills"):
            any_field |= Q(**{f"{field}__icontains": word})
        condition &= any_field
        score = score + Case(When(name__icontains=word, then=Value(3)), default=Value(0)) + Case(
            When(short_description__icontains=word, then=Value(1)), default=Value(0)
        )
    yield agents.filter(condition).annotate(score=score).order_by("-score", "-rating", "slug")


def agent_search(*, user, query: str) -> QuerySet[Agent]:
    """Visible agents matching `query`, best first (annotated with `score`)."""
    for hits in _search_candidates(user=user, query=query):
        if hits.exists():
            return hits
    return agent_visible(user=user).none()


def agent_search_page(*, user, query: str, columns, limit: int, offset: int) -> tuple[list[dict], int]:
    """One page of hits (rows of `columns`, `id` and `score`) and the total number of hits.

    The total rides along as a window count, so a page usually costs one query.
    """
    for hits in _search_candidates(user=user, query=query):
        rows = list(hits.values(*columns, "id", "score").annotate(total=Window(Count("pk")))[offset : offset + limit])
        if rows:
            return rows, rows[0]["total"]
        if offset and (total := hits.count()):
            return [], total  # past the last page of hits that do exist
    return [], 0


_STEMMER = snowballstemmer.stemmer("english")  # the same Snowball stemmer as PostgreSQL's 'english'
_WORD = re.compile(r"\w+")


@lru_cache(maxsize=50_000)
def _stem(word: str) -> str:
    return _STEMMER.stemWord(word.lower())


@lru_cache(maxsize=256)
def _candidates(stems: frozenset[str]) -> re.Pattern:
    """Words that may have one of `stems`: a word starts with its stem's first two letters,
    so only those need stemming."""
    prefixes = sorted({re.escape(stem[:2]) for stem in stems}) or ["(?!)"]
    return re.compile(r"\b(?:" + "|".join(prefixes) + r")\w*", re.IGNORECASE)


def _highlight(text: str, stems: frozenset[str]) -> str:
    """Escaped `text` with every word whose stem is one of `stems` in <mark>."""

    def mark(match: re.Match) -> str:
        word = match.group(0)
        return f"{MARK_START}{word}{MARK_STOP}" if _stem(word) in stems else word

    marked = _candidates(stems).sub(mark, text)
    return html.escape(marked).replace(MARK_START, "<mark>").replace(MARK_STOP, "</mark>")


def search_snippets(*, agents: list, query: str) -> dict:
    """agent id -> a short HTML snippet (escaped) around the first matched word, matches in <mark>.

    `agents` are model instances or rows from QuerySet.values() (with id, short_description
    and description). Words match by stem, as full-text search does ("translating" marks
    "translates").
    """
    stems = frozenset(_stem(word) for word in _WORD.findall(query) if len(word) > 1)
    snippets = {}
    for agent in agents:
        row = agent if isinstance(agent, dict) else vars(agent)
        text = " ".join(filter(None, [row.get("short_description"), row.get("description")]))
        first = next((m.start() for m in _candidates(stems).finditer(text) if _stem(m.group(0)) in stems), 0)
        start = text.find(" ", first - 60) + 1 if first > 60 else 0
        end = start + 220
        snippets[row["id"]] = ("…" if start else "") + _highlight(text[start:end], stems) + (
            "…" if end < len(text) else ""
        )
    return snippets
