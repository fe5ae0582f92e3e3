"""What a planner produces: subtasks, each with a skill, an input, and the subtasks it waits for.

A plan is a small DAG. `depends_on` holds the positions of earlier subtasks whose output the
subtask takes as its input (a chain); subtasks with no dependency between them run in parallel.
Every planner (built-in or LLM) answers with a `Plan`; LLM answers arrive as JSON and pass
`plan_from_json`, which refuses anything that is not a valid plan over known skills.
"""

from dataclasses import dataclass, field

MAX_SUBTASKS = 8


class InvalidPlan(ValueError):
    """A planner's answer that cannot be used (bad JSON shape, unknown skill, a cycle...)."""


@dataclass(frozen=True)
class Subtask:
    skill: str  # one of the skills agents in the catalog declare, e.g. "translation"
    instruction: str  # what the step is asked to do, in words, e.g. "Translate the summary into Spanish"
    input: dict  # the agent's input, e.g. {"text": "...", "targetLanguage": "es"}; a chained step's
    #              input is completed at run time with its dependencies' output (see services.handoff)
    depends_on: tuple[int, ...] = ()  # positions of earlier subtasks


@dataclass(frozen=True)
class Plan:
    subtasks: tuple[Subtask, ...]
    planner: str = "builtin"  # "builtin", "anthropic:claude-...", "openai:gpt-...", "openai-compatible:..."
    notes: tuple[str, ...] = field(default=())  # e.g. "anthropic failed (timeout); used the built-in planner"
    unknown: tuple[str, ...] = field(default=())  # parts of the request no known skill covers

    def to_json(self) -> dict:
        return {
            "subtasks": [
                {"skill": s.skill, "instruction": s.instruction, "input": s.input, "dependsOn": list(s.depends_on)}
                for s in self.subtasks
            ],
        }


# The JSON schema an LLM's answer must follow (structured output), and `plan_from_json` enforces.
PLAN_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["subtasks"],
    "properties": {
        "subtasks": {
            "type": "array",
            "maxItems": MAX_SUBTASKS,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["skill", "instruction", "input", "dependsOn"],
                "properties": {
                    "skill": {"type": "string"},
                    "instruction": {"type": "string"},
                    "input": {"type": "object"},
                    "dependsOn": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                },
            },
        },
    },
}


def plan_from_json(data, *, known_skills, planner: str) -> Plan:
    """Validate an LLM's answer and turn it into a Plan; InvalidPlan names what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("subtasks"), list):
        raise InvalidPlan("The plan must be an object with a list of subtasks.")
    raw = data["subtasks"]
    if not raw:
        raise InvalidPlan("The plan has no subtasks.")
    if len(raw) > MAX_SUBTASKS:
        raise InvalidPlan(f"The plan has {len(raw)} subtasks; at most {MAX_SUBTASKS} are allowed.")
    subtasks = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidPlan(f"Subtask {position} is not an object.")
        skill, instruction = item.get("skill"), item.get("instruction", "")
        inputs, depends_on = item.get("input", {}), item.get("dependsOn", [])
        if not isinstance(skill, str) or skill not in known_skills:
            raise InvalidPlan(f"Subtask {position} asks for the skill {skill!r}, which no agent offers.")
        if not isinstance(instruction, str) or not isinstance(inputs, dict):
            raise InvalidPlan(f"Subtask {position} needs a text instruction and an object input.")
        if not isinstance(depends_on, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d < position for d in depends_on
        ):
            raise InvalidPlan(f"Subtask {position} may depend only on earlier subtasks.")
        subtasks.append(Subtask(skill=skill, instruction=instruction[:1000], input=inputs,
                                depends_on=tuple(sorted(set(depends_on)))))
    return Plan(subtasks=tuple(subtasks), planner=planner)
