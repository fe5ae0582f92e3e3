"""`manage.py seed_demo`: the demo users, the nine demo agents and a realistic catalog, safe to run again.

Users and agents are matched by username and slug. A second run refreshes the agents'
catalog text but leaves what has happened since alone: lifecycle status, reviewed fields,
market figures, passwords, versions, decisions and views are only written the first time.
"""

import hashlib
import math
import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import creator_role_grant
from billing.services import wallet_credit
from demo_agents import hosted
from demo_agents.http import catalog as http_catalog
from marketplace import demo_data, services
from marketplace.choices import LISTED_STATUSES, AgentStatus, ReviewDecision, Transport, VersionStatus
from marketplace.models import REVIEWED_FIELDS, Agent, AgentPackage, AgentReview, AgentVersion, AgentView

# Keys of the demo data that are not Agent fields.
DATA_ONLY = {"slug", "status", "trending", "rejection_reason"}
# Written only when an agent is created: they change through the lifecycle and real use afterwards.
FIRST_RUN_ONLY = {
    "status",
    "is_public",
    "validation_errors",
    "rating",
    "rating_count",
    "jobs_completed",
    "total_hires",
    "total_executions",
    "load",
    "availability",
    "avg_response_time",
    "dynamic_price",
    *REVIEWED_FIELDS,
}
REVIEWER_GROUP = "Reviewers"
DEMO_CREDIT = Decimal("25")  # BazaarBucks each demo user starts with


# What the demo market has made of the HTTP agents: demo_data's figures win over the server's catalog.
MARKET_FIGURES = ("dynamic_price", "load", "rating", "rating_count", "jobs_completed", "total_hires",
                  "avg_response_time", "trending")


def _demo_http_agents() -> list[dict]:
    """Seed 004's HTTP agents as the demo server really serves them (demo_agents/http), with demo_data's
    catalog detail (goals, personas, KPIs...) and market figures."""
    agents = []
    for entry in http_catalog.HTTP_AGENTS:
        data = next((data for data in demo_data.HTTP_AGENTS if data["slug"] == entry["slug"]), {})
        served = http_catalog.agent_fields(entry, settings.DEMO_AGENTS_URL)
        agents.append({**data, **served, **{key: data[key] for key in MARKET_FIGURES if key in data}})
    return agents


class Command(BaseCommand):
    help = "Load the demo users, the demo agents of seeds 002 and 004, and about 40 catalog agents with views."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2024, help="Random seed for dates and views (default 2024).")
        parser.add_argument("--days", type=int, default=14, help="Spread the demo views over this many days.")

    def handle(self, *args, seed: int, days: int, **options):
        rng = random.Random(seed)
        now = timezone.now()
        with transaction.atomic():
            users, new_logins = self._users(now=now)
            creator, reviewer = users[demo_data.DEMO_CREATOR], users[demo_data.DEMO_REVIEWER]
            creator_role_grant(user=creator)  # their agents are in the catalog: a creator
            created, updated, views = 0, 0, 0
            catalog = [
                *[(data, Transport.HOSTED, AgentStatus.APPROVED) for data in demo_data.HOSTED_AGENTS],
                *[(data, Transport.HTTP, AgentStatus.ACTIVE) for data in _demo_http_agents()],
                *[(data, Transport.HTTP, AgentStatus.ACTIVE) for data in demo_data.CATALOG_AGENTS],
            ]
            for data, transport, status in catalog:
                agent, was_created = self._agent(data, transport=transport, status=status, creator=creator)
                if was_created:
                    created += 1
                    self._history(agent, data, creator=creator, reviewer=reviewer, now=now, rng=rng)
                else:
                    updated += 1
                views += self._views(agent, data, users=users, now=now, days=days, rng=rng)
        scored = services.trending_scores_refresh()

        if new_logins:
            self.stdout.write(self.style.SUCCESS("Demo users created. Log in with (development only):"))
            for username, password, role in new_logins:
                self.stdout.write(f"  {username:<10} {password:<20} {role}")
        self.stdout.write(
            f"Agents: {created} created, {updated} already there. Views: {views} created. "
            f"Trending scores: {scored} agents."
        )

    # -- users ------------------------------------------------------------------------

    def _users(self, *, now: datetime) -> tuple[dict[str, User], list[tuple[str, str, str]]]:
        reviewers = self._reviewer_group()
        users, new_logins = {}, []
        for data in demo_data.USERS:
            user, created = User.objects.update_or_create(
                username=data["username"],
                defaults={
                    "email": data["email"],
                    "full_name": data["full_name"],
                    "bio": data.get("bio", ""),
                    "website": data.get("website", ""),
                    "is_staff": data["is_staff"],
                    "is_superuser": data["is_superuser"],
                    "is_active": True,
                    "is_verified": True,
                },
            )
            if created:
                # Only on creation: a password changed since is someone's, not ours to reset.
                user.set_password(data["password"])
                user.email_verified_at = now
                user.save(update_fields=["password", "email_verified_at"])
                role = (
                    "admin"
                    if data["is_superuser"]
                    else "reviewer"
                    if data["reviewer"]
                    else ("creator" if data["username"] == demo_data.DEMO_CREATOR else "user")
                )
                new_logins.append((data["username"], data["password"], role))
            if data["reviewer"]:
                user.groups.add(reviewers)
            users[user.username] = user
            # Demo money, so the paid demo agents can be tried at once: booked once, like a top-up.
            wallet_credit(user=user, amount=DEMO_CREDIT, reference=f"demo-credit:{user.username}",
                          memo="Demo credit from seed_demo (development only)")
        return users, new_logins

    def _reviewer_group(self) -> Group:
        # Created by a migration; made again here in case the database was flushed since.
        group, _ = Group.objects.get_or_create(name=REVIEWER_GROUP)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="marketplace", codename="review_agent")
        )
        return group

    # -- agents -----------------------------------------------------------------------

    def _agent(self, data: dict, *, transport: str, status: str, creator: User) -> tuple[Agent, bool]:
        fields = {key: value for key, value in data.items() if key not in DATA_ONLY}
        if data["slug"] in hosted.PACKAGES:  # seed 002's agents run their real package in the sandbox
            fields.update(transport=Transport.HOSTED, entry_point=hosted.PACKAGES[data["slug"]],
                          code_hash=hosted.package_hash(data["slug"]))
        fields.setdefault("transport", transport)
        if fields["transport"] != Transport.HOSTED:
            fields.setdefault("endpoint_url", f"https://{data['slug']}.agents.example")
        fields.setdefault("author", creator.get_full_name())
        fields.setdefault("email", creator.email)
        fields.setdefault("dynamic_price", fields.get("price_per_use", Decimal("0")))
        jobs = fields.get("jobs_completed", 0)
        fields.setdefault("total_executions", jobs + math.ceil(jobs * 0.02))  # a few runs fail
        status = data.get("status", status)
        fields["status"] = status
        fields["is_public"] = status in (*LISTED_STATUSES, AgentStatus.INACTIVE)
        agent = Agent.objects.filter(slug=data["slug"]).first()
        if agent is None:
            agent = Agent.objects.create(slug=data["slug"], created_by=creator, updated_by=creator, **fields)
            self._package(agent, creator=creator)
            return agent, True
        self._package(agent, creator=creator)
        # Like update_or_create, but an agent whose text has not changed is not saved (nor its updated_at moved).
        changed = [key for key, value in fields.items() if key not in FIRST_RUN_ONLY and getattr(agent, key) != value]
        if changed:
            for key in changed:
                setattr(agent, key, fields[key])
            agent.save(update_fields=[*changed, "updated_at"])
        return agent, False

    def _package(self, agent: Agent, *, creator: User) -> None:
        """The hosted demo agents' zips, uploaded as a creator would; the agent runs the one its hash names."""
        if agent.slug not in hosted.PACKAGES:
            return
        content = hosted.build_package(agent.slug)
        AgentPackage.objects.get_or_create(
            agent=agent, sha256=hashlib.sha256(content).hexdigest(),
            defaults={"content": content, "size": len(content), "filename": f"{agent.slug}.zip",
                      "uploaded_by": creator},
        )

    def _history(
        self, agent: Agent, data: dict, *, creator: User, reviewer: User, now: datetime, rng: random.Random
    ) -> None:
        """Dates, and for submitted agents onwards the version and decision the review would have left."""
        if agent.status in (AgentStatus.DRAFT, AgentStatus.SUBMITTED, AgentStatus.REJECTED):
            created_at = now - timedelta(days=rng.uniform(3, 25))
        else:
            created_at = now - timedelta(days=rng.uniform(40, 300))
        Agent.objects.filter(pk=agent.pk).update(created_at=created_at, updated_at=created_at)
        if agent.status == AgentStatus.DRAFT:
            return
        if agent.status == AgentStatus.SUBMITTED:
            submitted_at = now - timedelta(hours=rng.uniform(2, 60))
            version_status = VersionStatus.SUBMITTED
        else:
            submitted_at = created_at + timedelta(days=rng.uniform(0.5, 3))
            version_status = VersionStatus.REJECTED if agent.status == AgentStatus.REJECTED else VersionStatus.APPROVED
        version = services.agent_version_create(agent=agent, user=creator, status=version_status)
        AgentVersion.objects.filter(pk=version.pk).update(created_at=submitted_at)
        if version_status == VersionStatus.SUBMITTED:
            Agent.objects.filter(pk=agent.pk).update(updated_at=submitted_at)
            return
        rejected = version_status == VersionStatus.REJECTED
        review = AgentReview.objects.create(
            agent=agent,
            version=version,
            reviewer=reviewer,
            decision=ReviewDecision.REJECTED if rejected else ReviewDecision.APPROVED,
            reason=data.get("rejection_reason", "")
            if rejected
            else "Endpoint healthy, pricing consistent, description and security controls checked.",
        )
        decided_at = submitted_at + timedelta(hours=rng.uniform(1, 40))
        AgentReview.objects.filter(pk=review.pk).update(created_at=decided_at)
        Agent.objects.filter(pk=agent.pk).update(
            updated_at=min(decided_at + timedelta(days=rng.uniform(0, 30)), now),
            **({} if rejected else {"current_version": version}),
        )

    # -- views ------------------------------------------------------------------------

    def _views(
        self, agent: Agent, data: dict, *, users: dict[str, User], now: datetime, days: int, rng: random.Random
    ) -> int:
        """Page views over the last `days` for a listed agent that has none yet; recent ones for trending agents."""
        if not agent.is_public or agent.status not in (*LISTED_STATUSES, AgentStatus.INACTIVE):
            return 0
        if agent.views.exists():
            return 0
        trending = data.get("trending", False)
        popularity = math.log10(agent.jobs_completed + 10)  # 1 for a new agent, ~5 for a busy one
        count = int(rng.uniform(5, 12) * popularity * (2.5 if trending else 1))

        def age_in_days() -> float:
            # A trending agent's views pile up in the last few days (most around a day ago); the others are
            # spread evenly. Nobody viewed anything in the last half hour: the seed is not a live event.
            return rng.triangular(0.02, days, 1.0) if trending else rng.uniform(0.02, days)

        viewers = [None] * 6 + [users["user1"], users[demo_data.DEMO_CREATOR]]
        views = [
            AgentView(
                agent=agent,
                user=rng.choice(viewers),
                session_id=f"demo-{rng.getrandbits(64):016x}",
                viewed_at=now - timedelta(days=age_in_days()),
            )
            for _ in range(count)
        ]
        AgentView.objects.bulk_create(views, batch_size=1000)
        Agent.objects.filter(pk=agent.pk).update(view_count=count)
        return count

