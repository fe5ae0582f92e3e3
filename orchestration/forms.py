"""Forms for hiring and running agents, and for filtering the execution history.

The hire form is generated from the agent's config schema (see `schema_form`). The run form
takes the input as JSON, and, when the agent's listed inputs are plain enough to read as fields
(`message (string)`, `operation (add | subtract)`, `numbers (list of numbers)`), also as a
generated form prefilled with an example.
"""

import json
import re

from django import forms
from django.utils.formats import date_format
from django.utils.timezone import localtime

from marketplace.models import Agent, Hiring
from orchestration.models import ExecutionStatus
from orchestration.schema_form import SchemaForm, parse_json

# --- Hiring -----------------------------------------------------------------------------------


class HireForm(SchemaForm):
    """The agent's config, field by field, and how the hiring is billed."""

    billing_cycle = forms.ChoiceField(label="Billing cycle", required=False)

    def __init__(self, *args, agent: Agent, **kwargs):
        super().__init__(*args, schema=agent.config_schema, root="config", **kwargs)
        subscription = agent.pricing_model == "subscription"
        cycles = [Hiring.BillingCycle.MONTHLY] if subscription else [
            Hiring.BillingCycle.PER_USE, Hiring.BillingCycle.MONTHLY, Hiring.BillingCycle.LIFETIME,
        ]
        field = self.fields["billing_cycle"]
        field.choices = [(cycle.value, cycle.label) for cycle in cycles]
        field.initial = cycles[0].value
        field.help_text = (
            "Subscriptions renew every 30 days." if subscription
            else "Per use and lifetime hirings do not expire; monthly ones run for 30 days."
        )

    def config(self) -> dict:
        return self.value()


# --- Running ------------------------------------------------------------------------------------

_INPUT_LINE = re.compile(r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\((?P<hint>[^()]*)\))?\s*$")
_ENUM_WORD = re.compile(r"^[\w.-]+$")
# Example values for inputs with these common names (seed 002's own examples among them).
SAMPLE_VALUES = {
    "message": "Hello World!",
    "prefix": "Echo: ",
    "text": "Hello World",
    "query": "open source agent frameworks",
    "target_language": "fr",
    "source_language": "en",
    "max_words": 50,
    "max_results": 5,
}
LONG_TEXT_NAMES = {"text", "content", "body", "document", "prompt"}
INTEGER_NAME = re.compile(r"^(max|min|top)_|_(count|limit)$|^limit$")
NUMBER_NAMES = {"offer", "price", "budget", "amount"}
TYPE_HINTS = {
    "string": {"type": "string"}, "str": {"type": "string"}, "text": {"type": "string"},
    "number": {"type": "number"}, "float": {"type": "number"}, "decimal": {"type": "number"},
    "integer": {"type": "integer"}, "int": {"type": "integer"},
    "boolean": {"type": "boolean"}, "bool": {"type": "boolean"},
    "list": {"type": "array", "items": {"type": "string"}},
    "list of strings": {"type": "array", "items": {"type": "string"}},
    "list of numbers": {"type": "array", "items": {"type": "number"}},
    "numbers": {"type": "array", "items": {"type": "number"}},
    "list of integers": {"type": "array", "items": {"type": "integer"}},
}


def input_schema(descriptions) -> dict | None:
    """A JSON Schema for the agent's input read from its `inputs` list, or None when it is not that plain.

    Every line must name one field, with an optional hint in brackets: a type (`string`,
    `list of numbers`...), choices (`add | subtract`) and/or `optional`.
    """
    if not isinstance(descriptions, list) or not descriptions:
        return None
    properties, required = {}, []
    for line in descriptions:
        match = _INPUT_LINE.match(line) if isinstance(line, str) else None
        if match is None:
            return None
        name = match.group("name")
        hints = [part.strip() for part in (match.group("hint") or "").split(",") if part.strip()]
        optional = any(hint.lower() == "optional" for hint in hints)
        hints = [hint for hint in hints if hint.lower() != "optional"]
        prop = _property(name, hints)
        if prop is None:
            return None
        properties[name] = prop
        if not optional:
            required.append(name)
    return {"type": "object", "properties": properties, "required": required}


def _property(name: str, hints: list[str]) -> dict | None:
    if len(hints) > 1:
        return None
    hint = hints[0] if hints else ""
    if "|" in hint:
        choices = [choice.strip() for choice in hint.split("|")]
        if not all(_ENUM_WORD.match(choice) for choice in choices):
            return None
        return {"type": "string", "enum": choices}
    if hint:
        known = TYPE_HINTS.get(hint.lower())
        if known is None:
            return None
        prop = dict(known)
    elif INTEGER_NAME.search(name):
        prop = {"type": "integer", "minimum": 1}
    elif name in NUMBER_NAMES:
        prop = {"type": "number", "minimum": 0}
    else:
        prop = {"type": "string"}
    if prop["type"] == "string" and name in LONG_TEXT_NAMES:
        prop["x-widget"] = "textarea"
    return prop


def example_input(schema: dict | None) -> dict:
    """An input to start from: every required field, and optional ones with a well-known sample."""
    if not schema:
        return {}
    required = set(schema.get("required", []))
    example = {}
    for name, prop in schema["properties"].items():
        if name in SAMPLE_VALUES and _fits(SAMPLE_VALUES[name], prop):
            example[name] = SAMPLE_VALUES[name]
        elif name in required:
            example[name] = _placeholder(prop)
    return example


def _fits(value, prop: dict) -> bool:
    kind = prop.get("type")
    if "enum" in prop:
        return value in prop["enum"]
    return {"string": isinstance(value, str), "integer": isinstance(value, int),
            "number": isinstance(value, int | float)}.get(kind, False)


def _placeholder(prop: dict):
    if "enum" in prop:
        return prop["enum"][0]
    kind = prop.get("type")
    if kind == "array":
        return [1, 2, 3] if prop["items"]["type"] in ("number", "integer") else []
    return {"integer": 1, "number": 1, "boolean": False}.get(kind, "")


class RunForm(forms.Form):
    """How to send the input (fields or JSON), the input as JSON, and which hiring to run under."""

    MODES = [("form", "Fields"), ("json", "JSON")]

    mode = forms.ChoiceField(choices=MODES, initial="json", required=False, widget=forms.RadioSelect)
    # Read in clean(), and only when the input is sent as JSON: the fields may be what counts.
    input = forms.CharField(
        label="Input (JSON)", required=False, strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "class": "mono", "spellcheck": "false"}),
    )
    hiring = forms.ChoiceField(label="Run under hiring", required=False)

    def __init__(self, *args, example: dict, friendly: bool, hirings: list[Hiring], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["input"].initial = json.dumps(example, indent=2, ensure_ascii=False)
        self.friendly = friendly
        if friendly:
            self.fields["mode"].initial = "form"
        else:
            del self.fields["mode"]
        self.hirings = {str(hiring.pk): hiring for hiring in hirings}
        if hirings:
            self.fields["hiring"].choices = [
                (str(h.pk), f"{h.get_billing_cycle_display()} hiring since {date_format(localtime(h.hired_at))}")
                for h in hirings
            ]
            self.fields["hiring"].required = True
            self.fields["hiring"].initial = str(hirings[0].pk)
        else:
            del self.fields["hiring"]

    @property
    def uses_fields(self) -> bool:
        """Whether the input comes from the generated fields (the default when there are some)."""
        if not self.friendly:
            return False
        return (self.data.get("mode") if self.is_bound else "form") != "json"

    def clean(self):
        data = super().clean()
        if not self.uses_fields:
            try:
                value = parse_json(data.get("input"))
            except forms.ValidationError as error:
                self.add_error("input", error)
            else:
                if isinstance(value, dict):
                    data["input"] = value
                else:
                    self.add_error("input", "The input must be a JSON object, such as {\"text\": \"…\"}.")
        return data

    def chosen_hiring(self) -> Hiring | None:
        return self.hirings.get(self.cleaned_data.get("hiring") or "")


class InputFieldsForm(SchemaForm):
    """The input as generated fields (only for agents whose inputs read as fields)."""

    def __init__(self, *args, schema: dict, example: dict, **kwargs):
        super().__init__(*args, schema=schema, root="input", initial_value=example, **kwargs)


# --- History -----------------------------------------------------------------------------------


class ExecutionFilterForm(forms.Form):
    agent = forms.ChoiceField(required=False, label="Agent")
    status = forms.ChoiceField(required=False, label="Status", choices=[("", "Any status"), *ExecutionStatus.choices])
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, agents: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].choices = [("", "All agents"), *agents]

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data
