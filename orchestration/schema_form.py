"""Forms generated from a JSON Schema, and the JSON value they stand for.

An agent's config schema becomes the hire form: a field per property (string → text input, or a
select for an enum; integer/number → number input with its bounds; boolean → checkbox; an array
of strings or numbers → one item per line; a nested object → a fieldset; anything else → a JSON
textarea), required marks, descriptions as help text and defaults prefilled.

Fields are named by the JSON path of their value (`config.limits.maxWords`), spelled the way
`jsonschema` spells `ValidationError.json_path`, which is how the hiring service keys the problems
it finds. `SchemaForm.add_schema_errors` uses that to put each problem next to its input.

The form checks shapes only (is this a number? is this JSON?). What the value must be is the
schema's business, checked once, by the service.

One extension keyword is read: `"x-widget": "textarea"` on a string asks for a multi-line input.
"""

import json
import re
from dataclasses import dataclass, field

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

# jsonschema writes `.key` for keys like this and `['key']` for the others.
_PLAIN_KEY = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")
_REQUIRED_MESSAGE = re.compile(r"^'(?P<key>(?:[^'\\]|\\.)*)' is a required property$")
_ARRAY_ITEM = re.compile(r"\[(\d+)\]$")
MAX_DEPTH = 6  # nesting shown as fieldsets; deeper objects are edited as JSON
SCALAR_TYPES = (str, int, float, bool, type(None))
LINE_TYPES = ("string", "integer", "number")
TEXTAREA_WIDGETS = ("textarea", "multiline")


def json_path(root: str, keys: tuple) -> str:
    """`config` + ("limits", "maxWords") → `config.limits.maxWords`, as jsonschema writes paths."""
    path = root
    for key in keys:
        if isinstance(key, int):
            path += f"[{key}]"
        elif _PLAIN_KEY.match(key):
            path += f".{key}"
        else:
            path += "['" + key.replace("\\", "\\\\").replace("'", r"\'") + "']"
    return path


def humanize(key: str) -> str:
    """`maxWords` / `max_words` / `max-words` → "Max words"."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").replace("-", " ").split()
    text = " ".join(words).lower()
    return text[:1].upper() + text[1:] if text else key


@dataclass
class Node:
    """One property of the schema: a form field, or (kind "object") a fieldset of nodes."""

    name: str  # the form field's name: the value's JSON path
    keys: tuple  # the keys from the root object to this value
    schema: dict
    kind: str  # text, textarea, choice, choices, integer, number, boolean, lines, json, object
    label: str
    required: bool
    help_text: str = ""
    children: list["Node"] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.keys[-1] if self.keys else ""

    @property
    def hint(self) -> str:
        """The schema's limits in words, shown under the input."""
        schema, kind = self.schema, self.kind
        if kind in ("integer", "number"):
            low, high = schema.get("minimum"), schema.get("maximum")
            if low is not None and high is not None:
                return f"From {low} to {high}."
            if low is not None:
                return f"At least {low}."
            if high is not None:
                return f"At most {high}."
        if kind in ("text", "textarea") and isinstance(schema.get("maxLength"), int):
            return f"At most {schema['maxLength']} characters."
        if kind == "lines":
            return "One per line." if _type(schema["items"]) == "string" else "One number per line."
        if kind == "json":
            kind_name = _type(schema)
            return f"JSON ({'an ' if kind_name in ('object', 'array', 'integer') else 'a '}{kind_name})." if kind_name \
                else "Any JSON value."
        return ""


def _resolve(schema, root: dict, seen: frozenset = frozenset()) -> dict:
    """Follow local `$ref`s (`#/$defs/x`, `#/definitions/x`); anything else is left as it is."""
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#"):
        ref = schema["$ref"]
        if ref in seen:
            return {}
        seen = seen | {ref}
        target = root
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            return {}
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **siblings}
    return schema if isinstance(schema, dict) else {}


def _type(schema: dict) -> str | None:
    """The one JSON type the schema allows (null aside), or None."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return kinds[0] if len(kinds) == 1 else None
    return kind if isinstance(kind, str) else None


def _is_scalar_enum(values) -> bool:
    return isinstance(values, list) and bool(values) and all(isinstance(v, SCALAR_TYPES) for v in values)


def _kind(schema: dict, depth: int) -> str:
    kind = _type(schema)
    if _is_scalar_enum(schema.get("enum")) and kind != "array":
        return "choice"
    if kind == "string":
        return "textarea" if schema.get("x-widget") in TEXTAREA_WIDGETS else "text"
    if kind in ("integer", "number", "boolean"):
        return kind
    if kind == "array" and isinstance(schema.get("items"), dict):
        items = schema["items"]
        if _type(items) == "string" and _is_scalar_enum(items.get("enum")) and schema.get("uniqueItems"):
            return "choices"
        if _type(items) in LINE_TYPES and "enum" not in items:
            return "lines"
    if kind == "object" and isinstance(schema.get("properties"), dict) and schema["properties"] and depth < MAX_DEPTH:
        return "object"
    return "json"


def schema_tree(schema: dict, *, root: str = "config") -> list[Node]:
    """The schema's properties as nodes; [] when it has none (no config, or free-form JSON)."""
    schema = _resolve(schema or {}, schema or {})
    if _kind(schema, 0) != "object":
        return []
    return _nodes(schema, root_schema=schema, root=root, keys=(), depth=1)


def _nodes(schema: dict, *, root_schema: dict, root: str, keys: tuple, depth: int) -> list[Node]:
    required = set(schema.get("required") or []) if isinstance(schema.get("required"), list) else set()
    nodes = []
    for key, prop in schema["properties"].items():
        prop = _resolve(prop, root_schema)
        path = (*keys, key)
        kind = _kind(prop, depth)
        node = Node(
            name=json_path(root, path), keys=path, schema=prop, kind=kind,
            label=str(prop.get("title") or humanize(key)), required=key in required,
            help_text=str(prop.get("description") or ""),
        )
        if kind == "object":
            node.children = _nodes(prop, root_schema=root_schema, root=root, keys=path, depth=depth + 1)
        nodes.append(node)
    return nodes


def walk(nodes: list[Node]):
    for node in nodes:
        yield node
        yield from walk(node.children)


# --- Fields -------------------------------------------------------------------------------


class JSONTextField(forms.CharField):
    """Any JSON value, typed as text; blank is no value."""

    widget = forms.Textarea

    def prepare_value(self, value):
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)

    def to_python(self, value):
        return parse_json(super().to_python(value))


def parse_json(text: str | None):
    """The JSON value `text` holds; blank is None; anything else is a ValidationError saying where."""
    if not (text or "").strip():
        return None
    try:
        return json.loads(text, parse_constant=_not_json)
    except ValueError as error:
        raise ValidationError(f"Enter valid JSON ({error}).") from None


def _not_json(constant: str):
    raise ValueError(f"{constant} is not a JSON number")  # Python reads NaN and Infinity; JSON does not


class ItemLinesField(forms.CharField):
    """A list of strings or numbers, one per line; blank lines are skipped."""

    widget = forms.Textarea

    def __init__(self, *, item_type: str = "string", **kwargs):
        self.item_type = item_type
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list:
        text = super().to_python(value)
        items = [line.strip() for line in (text or "").splitlines()]
        items = [item for item in items if item]
        if self.item_type == "string":
            return items
        numbers = []
        for number, item in enumerate(items, start=1):
            try:
                numbers.append(_number(item, integer=self.item_type == "integer"))
            except ValueError:
                expected = "a whole number" if self.item_type == "integer" else "a number"
                raise ValidationError(f"Line {number}: “{item[:40]}” is not {expected}.") from None
        return numbers


class EnumField(forms.ChoiceField):
    """One of the schema's enum values, given back with its JSON type (1 stays 1, not "1")."""

    def __init__(self, *, values: list, **kwargs):
        self.values = {_option(value): value for value in values}
        super().__init__(choices=[(_option(v), _option(v)) for v in values], **kwargs)

    def prepare_value(self, value):
        return _option(value) if value is not None and not isinstance(value, str) else value

    def clean(self, value):
        value = super().clean(value)
        return self.values.get(value) if value != "" else None


def _option(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _number(text: str, *, integer: bool):
    if integer:
        return int(text)
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return int(value) if value.is_integer() and not re.search(r"[.eE]", text) else value


class NumberField(forms.FloatField):
    """A JSON number: 5 stays 5, 2.5 stays 2.5."""

    def to_python(self, value):
        result = super().to_python(value)
        if result is None:
            return None
        if result.is_integer() and not re.search(r"[.eE]", str(value)):
            return int(result)
        return result


def _bound(schema: dict, name: str, exclusive: str, *, integer: bool):
    value = schema.get(name)
    value = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    excl = schema.get(exclusive)
    if isinstance(excl, int | float) and not isinstance(excl, bool):
        # Draft 6+: a number. HTML has no exclusive bounds: for integers move one step in.
        step = 1 if integer else 0
        candidate = excl + step if name == "minimum" else excl - step
        value = candidate if value is None else (max(value, candidate) if name == "minimum" else min(value, candidate))
    return value


def _form_field(node: Node) -> forms.Field:
    schema, kind = node.schema, node.kind
    common = {"required": False, "label": node.label, "help_text": node.help_text}
    attrs: dict = {}
    if kind == "text":
        fmt = schema.get("format")
        widget = {"email": forms.EmailInput, "uri": forms.URLInput, "date": forms.DateInput}.get(fmt, forms.TextInput)
        if fmt == "date":
            attrs["type"] = "date"
        if isinstance(schema.get("maxLength"), int):
            attrs["maxlength"] = schema["maxLength"]
        # Spaces and empty strings are values here: the schema decides whether they are allowed.
        return forms.CharField(strip=False, empty_value=None, widget=widget(attrs=attrs), **common)
    if kind == "textarea":
        return forms.CharField(strip=False, empty_value=None, widget=forms.Textarea(attrs={"rows": 5}), **common)
    if kind == "choice":
        field = EnumField(values=list(schema["enum"]), **common)
        if not (node.required and "default" in schema):  # "no value" is a choice too
            field.choices = [("", "—"), *field.choices]
        return field
    if kind == "choices":
        values = [v for v in schema["items"]["enum"] if isinstance(v, str)]
        return forms.MultipleChoiceField(choices=[(v, v) for v in values], widget=forms.CheckboxSelectMultiple,
                                         **common)
    if kind in ("integer", "number"):
        integer = kind == "integer"
        low = _bound(schema, "minimum", "exclusiveMinimum", integer=integer)
        high = _bound(schema, "maximum", "exclusiveMaximum", integer=integer)
        widget_attrs = {"step": "1" if integer else "any"}
        if isinstance(schema.get("multipleOf"), int | float) and not isinstance(schema.get("multipleOf"), bool):
            widget_attrs["step"] = str(schema["multipleOf"])
        field_class = forms.IntegerField if integer else NumberField
        field = field_class(widget=forms.NumberInput(attrs=widget_attrs), **common)
        # Bounds go on the input (min/max) for the browser; the schema is still what decides.
        if low is not None:
            field.widget.attrs["min"] = low
        if high is not None:
            field.widget.attrs["max"] = high
        return field
    if kind == "boolean":
        return forms.BooleanField(**common)
    if kind == "lines":
        item_type = _type(schema["items"])
        placeholder = "One per line" if item_type == "string" else "One number per line"
        return ItemLinesField(item_type=item_type, widget=forms.Textarea(attrs={"rows": 4, "placeholder": placeholder}),
                              **common)
    return JSONTextField(widget=forms.Textarea(attrs={"rows": 5, "class": "mono", "spellcheck": "false"}), **common)


def _script_attrs(node: Node) -> dict:
    """What a script needs to build the same value from the inputs (see static/js/runs.js)."""
    attrs = {"data-path": json.dumps(list(node.keys)), "data-kind": node.kind}
    if node.required:
        attrs["aria-required"] = "true"
    if node.kind == "lines":
        attrs["data-items"] = _type(node.schema["items"])
    if node.kind == "choice" and any(not isinstance(value, str) for value in node.schema["enum"]):
        attrs["data-json-options"] = "true"
    if node.kind == "boolean" and (node.required or "default" in node.schema):
        attrs["data-keep-false"] = "true"
    return attrs


# --- The form -------------------------------------------------------------------------------


class SchemaForm(forms.Form):
    """A form for the object a JSON Schema describes; `value()` is that object once the form is valid."""

    def __init__(self, *args, schema: dict, root: str = "config", initial_value: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.schema, self.root = schema or {}, root
        self.nodes = schema_tree(self.schema, root=root)
        self.node_by_name = {node.name: node for node in walk(self.nodes)}
        self.group_errors: dict[str, list[str]] = {}
        start = initial_value if isinstance(initial_value, dict) else None
        for node in walk(self.nodes):
            if node.kind == "object":
                continue
            self.fields[node.name] = _form_field(node)
            self.fields[node.name].widget.attrs.update(_script_attrs(node))
            value = _lookup(start, node.keys) if start is not None else node.schema.get("default")
            if value is not None:
                self.fields[node.name].initial = value

    @property
    def has_fields(self) -> bool:
        return bool(self.nodes)

    @property
    def has_required(self) -> bool:
        return any(node.required for node in walk(self.nodes))

    def layout(self) -> list[dict]:
        """What the template draws: fields and fieldsets (with their own items), in schema order."""
        return self._layout(self.nodes)

    def _layout(self, nodes: list[Node]) -> list[dict]:
        items = []
        for node in nodes:
            if node.kind == "object":
                items.append({"group": True, "node": node, "items": self._layout(node.children),
                              "errors": self.group_errors.get(node.name, [])})
            else:
                items.append({"group": False, "node": node, "field": self[node.name]})
        return items

    def value(self) -> dict:
        """The object the filled-in form stands for. Blank optional values are left out."""
        return self._collect(self.nodes, required=True) or {}

    def _collect(self, nodes: list[Node], *, required: bool) -> dict | None:
        result = {}
        for node in nodes:
            if node.kind == "object":
                value = self._collect(node.children, required=node.required)
            else:
                value = self._field_value(node)
            if value is not None:
                result[node.key] = value
        return result if result or required else None

    def _field_value(self, node: Node):
        value = self.cleaned_data.get(node.name)
        if node.kind == "boolean":
            # An unticked box is `false` when the schema expects a value, and no value otherwise.
            return True if value else (False if node.required or "default" in node.schema else None)
        if value in (None, "") or (value == [] and not node.required):
            return None
        return value

    def add_schema_errors(self, fields: dict[str, list[str]]) -> None:
        """Show the service's {json path: [messages]} next to the inputs they are about."""
        for path, messages in fields.items():
            for message in messages if isinstance(messages, list | tuple) else [messages]:
                self._add_schema_error(path, str(message))

    def _add_schema_error(self, path: str, message: str) -> None:
        required = _REQUIRED_MESSAGE.match(message)
        if required:
            key = required.group("key").replace("\\'", "'").replace("\\\\", "\\")
            parent = self.node_by_name.get(path)
            keys = (*parent.keys, key) if parent else (key,) if path == self.root else None
            target = self.node_by_name.get(json_path(self.root, keys)) if keys is not None else None
            if target is not None:
                self._attach(target, "This field is required.")
                return
        prefix = ""
        while path not in self.node_by_name and _ARRAY_ITEM.search(path):
            prefix = f"Item {int(_ARRAY_ITEM.search(path).group(1)) + 1}: " + prefix
            path = _ARRAY_ITEM.sub("", path)
        node = self.node_by_name.get(path)
        if node is None and path in self.fields:  # a field of a subclass, e.g. the billing cycle
            self.add_error(path, message)
        elif node is None:
            self.add_error(None, message if path == self.root else f"{path}: {message}")
        else:
            self._attach(node, prefix + message)

    def _attach(self, node: Node, message: str) -> None:
        if node.kind == "object":
            self.group_errors.setdefault(node.name, []).append(message)
        else:
            self.add_error(node.name, message)

    @property
    def field_error_count(self) -> int:
        """How many inputs and fieldsets have a problem shown next to them."""
        return len([name for name in self.errors if name != NON_FIELD_ERRORS]) + len(self.group_errors)


def _lookup(value, keys: tuple):
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value
