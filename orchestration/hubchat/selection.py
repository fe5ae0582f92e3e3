"""Choosing an agent for each subtask within the budget, negotiating, and the quote.

Candidates for a subtask are the public, listed, available agents that declare its skill (a
subscription agent only when the user holds an active hiring of it). Agents whose last health
check is older than `HUBCHAT_HEALTH_MAX_AGE_SECONDS` are probed first, so their load is current.

**The score** (0..1, higher wins) weighs five things a buyer cares about:

    score = 0.25 × verified rating + 0.25 × success rate + 0.15 × speed + 0.20 × price + 0.15 × (1 − load)

- verified rating: a Bayesian average, (rating × n + 3 × 5) / (n + 5) / 5, so a few 5-star
  votes do not beat many 4.8s;
- success rate: (completed + 1) / (completed + failed + 2);
- speed: 1 / (1 + average response time in seconds);
- price: 1 − price / what is left of the budget for this step (a free agent scores 1);
- load: the agent's last reported load (0..1).

A **busy** agent (load ≥ `HUBCHAT_BUSY_LOAD`, 0.9) has its score halved; an agent whose price
does not fit what is left of the budget is passed over. What is left for a step is the budget
minus the prices already chosen and the cheapest price of every later step, so an early step
never spends the money a later one needs.

**Negotiation.** An agent that declares the skill `negotiation` is asked for a quote at
`{endpoint}/quote` (the demo mock-negotiator's protocol). When its price is above what we are
willing to pay (the best other candidate's price, at most what is left of the budget), it is
countered once with that amount; its answer is final. The agreed price is binding and the run
carries the quote's id.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.utils import timezone

from billing.pricing import run_price
from marketplace.choices import LISTED_STATUSES, PricingModel
from marketplace.models import Agent, Hiring
from orchestration import outbound
from orchestration.transports import CallError

logger = logging.getLogger(__name__)

WEIGHTS = {"rating": 0.25, "success": 0.25, "speed": 0.15, "price": 0.20, "load": 0.15}
PRIOR_RATING, PRIOR_VOTES = 3.0, 5
NEGOTIATION_SKILL = "negotiation"
ZERO = Decimal("0")


class OverBudget(Exception):
    """The cheapest agents for the plan cost more than the budget."""

    def __init__(self, cheapest: Decimal, budget: Decimal):
        super().__init__(f"The cheapest agents for this plan cost {cheapest} BB, above your budget of {budget} BB.")
        self.cheapest, self.budget = cheapest, budget


class NoCandidate(Exception):
    """No agent can do a subtask."""


@dataclass
class Candidate:
    agent: Agent
    price: Decimal
    score: float = 0.0
    passed_over: str | None = None
    quote_id: str = ""
    negotiation: dict | None = None
    busy: bool = False

    def to_json(self) -> dict:
        agent = self.agent
        done = agent.jobs_completed + agent.jobs_failed
        return {
            "agent": agent.slug, "name": agent.name, "score": round(self.score, 4), "price": str(self.price),
            "load": round(agent.load, 3), "rating": agent.rating, "avgResponseTime": agent.avg_response_time,
            "successRate": round(agent.jobs_completed / done, 4) if done else None,
            "busy": self.busy, "passedOver": self.passed_over,
        }


@dataclass
class StepChoice:
    """The ranked candidates of one subtask; `options` are the eligible ones, best first."""

    skill: str
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def options(self) -> list[Candidate]:
        return [candidate for candidate in self.candidates if candidate.passed_over is None]

    def selection(self, chosen: Candidate) -> dict:
        reason = (f"Best score {chosen.score:.3f} of {len(self.options)} eligible agent(s) with the skill "
                  f"'{self.skill}' at {chosen.price} BB")
        if len(self.options) == 1:
            reason = f"The only eligible agent with the skill '{self.skill}', at {chosen.price} BB"
        result = {
            "chosen": {**chosen.to_json(), "reason": reason},
            "candidates": [self._explained(candidate, chosen) for candidate in self.candidates],
        }
        if chosen.negotiation:
            result["negotiation"] = chosen.negotiation
        return result


    @staticmethod
    def _explained(candidate: Candidate, chosen: Candidate) -> dict:
        data = candidate.to_json()
        if candidate is chosen:
            data["chosen"] = True
        elif candidate.passed_over is None:
            busy = f" It is busy (load {candidate.agent.load:.2f}), which halves its score." if candidate.busy else ""
            data["passedOver"] = (f"Scored {candidate.score:.3f}, below {chosen.score:.3f}.{busy} "
                                  "Next in line if the chosen agent fails.")
            data["eligible"] = True
        return data


def candidates_for(*, skill: str, user) -> list[Candidate]:
    """Every public, listed, available agent with `skill`, with the price `user` would pay."""
    agents = Agent.objects.filter(status__in=LISTED_STATUSES, is_public=True, availability=True)
    if connection.features.supports_json_field_contains:
        agents = agents.filter(skills__contains=[skill])
    else:  # SQLite: a text match narrows, the exact check follows
        agents = agents.filter(skills__icontains=f'"{skill}"')
    agents = [agent for agent in agents.order_by("slug") if skill in agent.skills]
    _refresh_stale_health(agents)
    hirings = {
        hiring.agent_id: hiring
        for hiring in Hiring.objects.filter(user=user, status=Hiring.Status.ACTIVE, agent__in=agents)
    }
    found = []
    for agent in agents:
        hiring = hirings.get(agent.pk)
        if agent.pricing_model == PricingModel.SUBSCRIPTION and hiring is None:
            continue  # sold by subscription and not hired: not a candidate at all
        found.append(Candidate(agent=agent, price=run_price(agent=agent, hiring=hiring)))
    return found


def _refresh_stale_health(agents: list[Agent]) -> None:
    from orchestration.services import agent_health_check

    stale_before = timezone.now() - timedelta(seconds=settings.HUBCHAT_HEALTH_MAX_AGE_SECONDS)
    for agent in agents:
        if agent.endpoint_url and (agent.health_checked_at is None or agent.health_checked_at < stale_before):
            try:
                agent_health_check(agent=agent)
            except Exception:  # a probe that breaks must not stop the planning
                logger.exception("health probe of %s failed", agent.slug)
            agent.refresh_from_db()


def score(candidate: Candidate, *, room: Decimal) -> float:
    agent = candidate.agent
    rating = (agent.rating * agent.rating_count + PRIOR_RATING * PRIOR_VOTES) / (agent.rating_count + PRIOR_VOTES) / 5
    success = (agent.jobs_completed + 1) / (agent.jobs_completed + agent.jobs_failed + 2)
    speed = 1 / (1 + agent.avg_response_time / 1000)
    price = 1.0 if not candidate.price else max(0.0, 1 - float(candidate.price / room)) if room > 0 else 0.0
    total = (WEIGHTS["rating"] * rating + WEIGHTS["success"] * success + WEIGHTS["speed"] * speed
             + WEIGHTS["price"] * price + WEIGHTS["load"] * (1 - agent.load))
    candidate.busy = agent.load >= settings.HUBCHAT_BUSY_LOAD
    return total / 2 if candidate.busy else total


def rank(choice: StepChoice, *, room: Decimal, user_input=None) -> None:
    """Negotiate where it applies, pass over what does not fit `room`, score and sort, best first."""
    fitting = [c.price for c in choice.candidates if NEGOTIATION_SKILL not in c.agent.skills and c.price <= room]
    target = min([room, *fitting])
    for candidate in choice.candidates:
        candidate.passed_over = None
        if NEGOTIATION_SKILL in candidate.agent.skills and candidate.agent.endpoint_url and not candidate.quote_id:
            negotiate(candidate, target=target, user_input=user_input)
        if candidate.passed_over:
            continue
        if candidate.price > room:
            candidate.passed_over = f"Costs {candidate.price} BB, above the {room} BB left in the budget for this step."
        candidate.score = score(candidate, room=room)
    choice.candidates.sort(key=lambda c: (c.passed_over is not None, -c.score, c.price, c.agent.slug))


def negotiate(candidate: Candidate, *, target: Decimal, user_input=None) -> None:
    """Ask for a quote; counter once with `target` when the price is above it. Binding prices only."""
    url = f"{candidate.agent.endpoint_url.rstrip('/')}/quote"
    history = []

    def bid(body: dict) -> dict:
        answer = outbound.request("POST", url, json=body, total_timeout=settings.HUBCHAT_QUOTE_TIMEOUT_SECONDS).json()
        history.append({"offer": body.get("offer"), "status": answer.get("status"), "price": answer.get("price")})
        return answer

    try:
        quote = bid({"input": user_input} if user_input is not None else {})
        price = Decimal(str(quote["price"]))
        if price > target and not quote.get("final"):
            quote = bid({"quoteId": quote["quoteId"], "offer": str(target)})
            price = Decimal(str(quote["price"]))
    except (CallError, KeyError, ArithmeticError, TypeError, ValueError) as error:
        candidate.passed_over = f"Asked for a quote and got no usable answer ({error})."
        candidate.negotiation = {"history": history, "error": str(error)}
        return
    candidate.price, candidate.quote_id = price, quote["quoteId"]
    candidate.negotiation = {
        "quoteId": quote["quoteId"], "listPrice": str(quote.get("listPrice", price)), "agreedPrice": str(price),
        "status": quote.get("status"), "expiresAt": quote.get("expiresAt"), "history": history,
    }


def choose(*, skills_and_inputs: list[tuple[str, object]], user, budget: Decimal) -> list[tuple[StepChoice, Candidate]]:
    """The best affordable agent for each subtask, in order; OverBudget / NoCandidate when there is none."""
    choices = [StepChoice(skill=skill, candidates=candidates_for(skill=skill, user=user))
               for skill, _ in skills_and_inputs]
    for choice in choices:
        if not choice.candidates:
            raise NoCandidate(f"No available agent offers the skill '{choice.skill}'.")
    # A negotiating agent's price is not known before asking: it may go lower, so it counts as 0 here.
    cheapest = [min(ZERO if NEGOTIATION_SKILL in c.agent.skills else c.price for c in choice.candidates)
                for choice in choices]
    if sum(cheapest) > budget:
        raise OverBudget(sum(cheapest), budget)
    chosen, committed = [], ZERO
    for position, (choice, (_, user_input)) in enumerate(zip(choices, skills_and_inputs, strict=True)):
        room = budget - committed - sum(cheapest[position + 1:])
        rank(choice, room=room, user_input=user_input)
        if not choice.options:
            raise OverBudget(committed + sum(cheapest[position:]), budget)
        best = choice.options[0]
        chosen.append((choice, best))
        committed += best.price
    return chosen
