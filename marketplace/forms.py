"""Forms for the catalog pages.

List fields are edited one item per line, tools and KPIs as `a | b | c` rows, so a person
never types JSON (except the config schema, which *is* JSON). The forms only check shapes;
the rules (who may edit what, what a submission needs) stay in the services.
"""

import json
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug

from marketplace.choices import AgentStatus, PricingModel, Transport
from marketplace.models import REVIEWED_FIELDS, Agent

ORDERING_CHOICES = [
    ("trending", "Trending"),
    ("rating", "Top rated"),
    ("price", "Price: low to high"),
    ("-price", "Price: high to low"),
    ("newest", "Newest"),
    ("name", "Name A–Z"),
]
RATING_CHOICES = [("", "Any rating"), ("4.5", "4.5 ★ and up"), ("4", "4 ★ and up"), ("3", "3 ★ and up"),
                  ("2", "2 ★ and up")]


def domain_label(domain: str) -> str:
    """"customer-success" -> "Customer Success"."""
    return (domain or "").replace("-", " ").replace("_", " ").title()


class MarketplaceFilterForm(forms.Form):
    """What the marketplace's search and filter bar shows. Filtering itself is AgentFilterSet's job."""

    q = forms.CharField(required=False, max_length=200, label="Search",
                        widget=forms.SearchInput(attrs={"placeholder": "Search agents, skills, problems…",
                                                        "aria-label": "Search agents"}))
    domain = forms.ChoiceField(required=False, label="Domain")
    skills = forms.CharField(required=False, max_length=300, label="Skills",
                             widget=forms.TextInput(attrs={"placeholder": "e.g. summarization, translation"}))
    pricing_model = forms.ChoiceField(required=False, label="Pricing",
                                      choices=[("", "Any pricing"), *PricingModel.choices])
    min_rating = forms.ChoiceField(required=False, label="Rating", choices=RATING_CHOICES)
    availability = forms.BooleanField(required=False, label="Available now",
                                      widget=forms.CheckboxInput(attrs={"value": "true"}))
    ordering = forms.ChoiceField(required=False, label="Sort by", choices=ORDERING_CHOICES)

    def __init__(self, *args, domains: list[dict] = (), searching: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["domain"].choices = [("", "All domains")] + [
            (row["domain"], f"{domain_label(row['domain'])} ({row['count']})") for row in domains
        ]
        if searching:
            self.fields["ordering"].choices = [("", "Best match"), *ORDERING_CHOICES]


# --- Fields that turn lines into lists ------------------------------------------


class LinesField(forms.Field):
    """A list of strings, one per line (and, with `commas`, also separated by commas)."""

    widget = forms.Textarea

    def __init__(self, *, max_items: int = 100, max_item_length: int = 1000, commas: bool = False,
                 item_validator=None, rows: int = 3, placeholder: str = "", **kwargs):
        self.max_items, self.max_item_length, self.commas = max_items, max_item_length, commas
        self.item_validator = item_validator
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.attrs["rows"] = rows
        if placeholder:
            self.widget.attrs["placeholder"] = placeholder

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list):
            return value
        text = (value or "").replace(",", "\n") if self.commas else (value or "")
        items = [line.strip() for line in text.splitlines()]
        return list(dict.fromkeys(item for item in items if item))  # drop blanks and repeats, keep order

    def validate(self, value):
        super().validate(value)
        if len(value) > self.max_items:
            raise ValidationError(f"At most {self.max_items} items (got {len(value)}).")
        for item in value:
            if len(item) > self.max_item_length:
                raise ValidationError(f"“{item[:40]}…” is longer than {self.max_item_length} characters.")
            if self.item_validator:
                self.item_validator(item)

    def has_changed(self, initial, data):
        return (initial or []) != self.to_python(data)


class RowsField(LinesField):
    """Rows of `a | b | c`: each line becomes a dict with `columns` as keys."""

    def __init__(self, *, columns: tuple[str, ...], required_columns: int = 1, **kwargs):
        self.columns, self.required_columns = columns, required_columns
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            lines = []
            for row in value:
                cells = [str(row.get(column) or "") for column in self.columns] if isinstance(row, dict) else [str(row)]
                while len(cells) > 1 and not cells[-1]:
                    cells.pop()
                lines.append(" | ".join(cells))
            return "\n".join(lines)
        return value

    def to_python(self, value) -> list[dict]:
        if isinstance(value, list):
            return value
        rows = []
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            cells = [cell.strip() for cell in line.split("|")]
            if len(cells) > len(self.columns):
                raise ValidationError(
                    f"Line {number} has {len(cells)} parts; expected at most {len(self.columns)}: "
                    + " | ".join(self.columns) + "."
                )
            cells += [""] * (len(self.columns) - len(cells))
            missing = [column for column, cell in zip(self.columns[: self.required_columns], cells, strict=False)
                       if not cell]
            if missing:
                raise ValidationError(f"Line {number} needs a {' and a '.join(missing)}.")
            rows.append(dict(zip(self.columns, cells, strict=True)))
        return rows

    def validate(self, value):
        forms.Field.validate(self, value)
        if len(value) > self.max_items:
            raise ValidationError(f"At most {self.max_items} rows (got {len(value)}).")
        for row in value:
            for column, cell in row.items():
                if len(cell) > self.max_item_length:
                    raise ValidationError(f"A {column} is longer than {self.max_item_length} characters.")


class JsonObjectField(forms.CharField):
    """A JSON object typed into a textarea; blank means {}."""

    widget = forms.Textarea

    def prepare_value(self, value):
        if isinstance(value, dict):
            return json.dumps(value, indent=2) if value else ""
        return value

    def to_python(self, value) -> dict:
        if isinstance(value, dict):
            return value
        text = (value or "").strip()
        if not text:
            return {}
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"Not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}.") from None
        if not isinstance(parsed, dict):
            raise ValidationError("Must be a JSON object, e.g. {\"type\": \"object\", \"properties\": {}}.")
        return parsed

    def has_changed(self, initial, data):
        try:
            return (initial or {}) != self.to_python(data)
        except ValidationError:
            return True


def _slug_item(value: str) -> None:
    try:
        validate_slug(value)
    except ValidationError:
        raise ValidationError(f"“{value}” is not a valid tag: use letters, numbers, - and _ only.") from None


# --- The agent form ----------------------------------------------------------------

# Once approved, the reviewed fields are frozen (the service refuses changes); the form shows them read-only.
LIVE_STATUSES = (AgentStatus.APPROVED, AgentStatus.ACTIVE, AgentStatus.INACTIVE)
MONEY = {"max_digits": 12, "decimal_places": 4, "min_value": 0, "required": False}


class AgentForm(forms.Form):
    """Create or edit an agent. `cleaned_data` is what `agent_create` / `agent_update` take."""

    # Basics
    name = forms.CharField(max_length=255)
    slug = forms.SlugField(
        max_length=80, required=False, label="Public id",
        help_text="Appears in the agent's address (/agents/<id>/). Made from the name if left blank; "
                  "cannot change later.",
    )
    short_description = forms.CharField(max_length=500, required=False, help_text="One sentence for the card.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False)
    business_domain = forms.CharField(max_length=100, required=False, label="Business domain",
                                      widget=forms.TextInput(attrs={"list": "domain-options"}),
                                      help_text="e.g. finance, marketing, legal, productivity.")
    # What it does
    problem_statement = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    goals = LinesField(help_text="One goal per line.", placeholder="Cut manual data entry\nCatch duplicates")
    in_scope = LinesField(label="In scope", help_text="One item per line.")
    out_of_scope = LinesField(label="Out of scope", help_text="One item per line.")
    operational_details = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    personas = LinesField(help_text="Who it is for, one persona per line.")
    # Interface
    inputs = LinesField(help_text="One input per line.")
    outputs = LinesField(help_text="One output per line.")
    tools = RowsField(columns=("name", "description"), max_item_length=2000, rows=4,
                      placeholder="OCR engine | reads scanned pages\nLedger lookup | finds the vendor",
                      help_text="One tool per line: name | what it is used for.")
    skills = LinesField(max_items=50, max_item_length=80, commas=True, placeholder="summarization, translation",
                        help_text="Separated by commas or lines. Used to find and choose the agent.")
    capabilities = LinesField(help_text="One capability per line.")
    tags = LinesField(max_items=30, max_item_length=50, commas=True, item_validator=_slug_item,
                      help_text="Separated by commas or lines; letters, numbers, - and _.")
    # Quality and safety
    security_controls = LinesField(label="Security controls", help_text="One control per line.")
    kpis = RowsField(columns=("name", "target", "current"), required_columns=2, max_item_length=200, rows=4,
                     placeholder="Accuracy | 99% | 97.5%\nTime per document | < 5 s",
                     label="KPIs", help_text="One KPI per line: name | target | current (current is optional).")
    # Technical
    version = forms.CharField(max_length=50, initial="1.0.0", help_text="Semantic version, e.g. 1.2.0.")
    transport = forms.ChoiceField(choices=Transport.choices, initial=Transport.HTTP,
                                  help_text="How AgentHub calls the agent.")
    endpoint_url = forms.URLField(max_length=500, required=False, label="Endpoint URL",
                                  assume_scheme="https", help_text="For HTTP and Agent2Agent agents.")
    entry_point = forms.CharField(max_length=255, required=False,
                                  help_text="For hosted agents, e.g. main.py:AgentClass.")
    requirements = LinesField(help_text="Python packages, one per line (hosted agents).")
    config_schema = JsonObjectField(
        required=False, label="Config schema", widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
        help_text="A JSON Schema for the settings a hirer provides. Leave blank for none.",
    )
    # Pricing
    pricing_model = forms.ChoiceField(choices=PricingModel.choices, initial=PricingModel.FREE, label="Pricing model")
    price_per_use = forms.DecimalField(label="Price per use (BB)", **MONEY)
    monthly_price = forms.DecimalField(label="Monthly price (BB)", **MONEY)
    # People
    owner = forms.CharField(max_length=255, required=False, help_text="The team or person accountable for it.")
    author = forms.CharField(max_length=255, required=False)
    email = forms.EmailField(required=False, label="Contact email")

    SECTIONS = (
        ("Basics", ("name", "slug", "short_description", "description", "business_domain")),
        ("What it does", ("problem_statement", "goals", "personas", "in_scope", "out_of_scope",
                          "operational_details")),
        ("Interface", ("inputs", "outputs", "tools", "skills", "tags", "capabilities")),
        ("Quality and safety", ("kpis", "security_controls")),
        ("Technical", ("version", "transport", "endpoint_url", "entry_point", "requirements", "config_schema")),
        ("Pricing", ("pricing_model", "price_per_use", "monthly_price")),
        ("People", ("owner", "author", "email")),
    )

    # Fields that take the whole row; the rest sit two to a row.
    wide_fields = ("short_description", "description", "problem_statement", "operational_details", "tools", "kpis",
                   "config_schema")

    def __init__(self, *args, agent: Agent | None = None, **kwargs):
        self.agent = agent
        if agent is not None and "initial" not in kwargs:
            kwargs["initial"] = {name: getattr(agent, name) for name in self.base_fields if hasattr(agent, name)}
        super().__init__(*args, **kwargs)
        if agent is not None:
            del self.fields["slug"]  # the public id never changes
            if agent.status in LIVE_STATUSES:
                for name in REVIEWED_FIELDS:
                    if name in self.fields:
                        self.fields[name].disabled = True
                        self.fields[name].help_text = "Approved in review; it cannot change while the agent is live."

    def sections(self):
        for title, names in self.SECTIONS:
            fields = [self[name] for name in names if name in self.fields]
            if fields:
                yield title, fields

    def clean(self):
        data = super().clean()
        # Only the price that belongs to the chosen model is kept, so a price typed before
        # switching models does not linger unseen.
        model = data.get("pricing_model")
        for field, owner in (("price_per_use", PricingModel.PER_USE), ("monthly_price", PricingModel.SUBSCRIPTION)):
            if field in data and (data[field] is None or model != owner) and not self.fields[field].disabled:
                data[field] = Decimal("0")
        return data

    def service_data(self) -> dict:
        """What to hand to the services: blanks the service fills itself are left out on create."""
        data = {name: value for name, value in self.cleaned_data.items() if not self.fields[name].disabled}
        if self.agent is None:
            for name in ("slug", "author", "email"):
                if not data.get(name):
                    data.pop(name, None)
        return data

    def add_service_errors(self, fields: dict) -> None:
        """Show a service's {field: [messages]} next to the fields; unknown fields go on top."""
        for field, messages in fields.items():
            for message in messages if isinstance(messages, list | tuple) else [messages]:
                if field in self.fields:
                    self.add_error(field, message)
                else:
                    self.add_error(None, f"{field.replace('_', ' ').capitalize()}: {message}")


def agent_form_data(agent: Agent) -> dict:
    """The agent's current values as submitted form data (to show submission errors on a bound form)."""
    form = AgentForm(agent=agent)
    return {name: field.prepare_value(form.initial.get(name)) if form.initial.get(name) is not None else ""
            for name, field in form.fields.items()}
