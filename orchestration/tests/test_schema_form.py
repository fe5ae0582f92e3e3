"""JSON Schema → form → JSON value (orchestration/schema_form.py)."""

import pytest
from django import forms

from marketplace.hirings import config_problems
from orchestration.forms import example_input, input_schema
from orchestration.schema_form import SchemaForm, humanize, json_path, schema_tree

SCHEMA = {
    "type": "object",
    "properties": {
        "language": {"type": "string", "enum": ["en", "es", "fr"], "description": "Language of the summary."},
        "style": {"type": "string", "title": "Writing style", "maxLength": 20, "default": "plain"},
        "maxWords": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "bullets": {"type": "boolean", "default": True},
        "strict": {"type": "boolean"},
        "keywords": {"type": "array", "items": {"type": "string"}},
        "weights": {"type": "array", "items": {"type": "number"}},
        "limits": {
            "type": "object",
            "description": "Hard limits.",
            "properties": {"maxWords": {"type": "integer", "minimum": 1}, "unit": {"type": "string"}},
            "required": ["maxWords"],
        },
        "extra": {"type": "object"},
        "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    },
    "required": ["language"],
    "additionalProperties": False,
}


def bound(data: dict, schema: dict = SCHEMA) -> SchemaForm:
    form = SchemaForm(data, schema=schema)
    assert form.is_valid(), form.errors
    return form


# --- Building the form ---------------------------------------------------------------------------


def test_each_property_becomes_the_right_kind_of_field():
    form = SchemaForm(schema=SCHEMA)

    kinds = {name: node.kind for name, node in form.node_by_name.items()}
    assert kinds == {
        "config.language": "choice", "config.style": "text", "config.maxWords": "integer",
        "config.temperature": "number", "config.bullets": "boolean", "config.strict": "boolean",
        "config.keywords": "lines", "config.weights": "lines", "config.limits": "object",
        "config.limits.maxWords": "integer", "config.limits.unit": "text", "config.extra": "json",
        "config.either": "json",
    }
    assert "config.limits" not in form.fields  # a fieldset, not an input
    assert isinstance(form.fields["config.language"].widget, forms.Select)
    assert isinstance(form.fields["config.bullets"].widget, forms.CheckboxInput)
    assert isinstance(form.fields["config.keywords"].widget, forms.Textarea)
    assert isinstance(form.fields["config.extra"].widget, forms.Textarea)


def test_labels_required_marks_help_texts_and_bounds():
    form = SchemaForm(schema=SCHEMA)
    nodes = form.node_by_name

    assert nodes["config.language"].required and not nodes["config.style"].required
    assert nodes["config.limits.maxWords"].required  # required within its object
    assert form.fields["config.style"].label == "Writing style"  # the title wins
    assert form.fields["config.maxWords"].label == "Max words"
    assert form.fields["config.language"].help_text == "Language of the summary."
    assert nodes["config.limits"].help_text == "Hard limits."
    html = str(form["config.maxWords"])
    assert 'type="number"' in html and 'min="1"' in html and 'max="500"' in html and 'step="1"' in html
    assert 'aria-required="true"' in str(form["config.language"])
    assert 'maxlength="20"' in str(form["config.style"])
    assert nodes["config.maxWords"].hint == "From 1 to 500."


def test_defaults_are_prefilled():
    form = SchemaForm(schema=SCHEMA)

    assert form["config.style"].value() == "plain"
    assert form["config.maxWords"].value() == 100
    assert form["config.bullets"].value() is True
    assert form["config.language"].value() is None


def test_enum_choices_keep_their_json_types():
    schema = {"type": "object", "properties": {"level": {"enum": [1, 2, 3]}}}
    form = bound({"config.level": "2"}, schema)

    assert form.value() == {"level": 2}
    assert SchemaForm({"config.level": "7"}, schema=schema).is_valid() is False


def test_local_refs_are_followed_and_deep_or_odd_schemas_fall_back_to_json():
    schema = {
        "type": "object",
        "$defs": {"lang": {"type": "string", "enum": ["en", "fr"]}},
        "properties": {"lang": {"$ref": "#/$defs/lang"}, "loop": {"$ref": "#/properties/loop"},
                       "remote": {"$ref": "https://example.com/schema.json"}},
    }
    kinds = {node.name: node.kind for node in schema_tree(schema)}

    assert kinds == {"config.lang": "choice", "config.loop": "json", "config.remote": "json"}


@pytest.mark.parametrize("schema", [{}, {"type": "object"}, {"type": "object", "properties": {}}, {"type": "string"}])
def test_no_properties_no_fields(schema):
    form = SchemaForm({}, schema=schema)

    assert form.has_fields is False
    assert form.is_valid() and form.value() == {}


# --- From the filled-in form to the config ---------------------------------------------------------


def test_a_filled_in_form_is_the_config_it_stands_for():
    form = bound({
        "config.language": "es", "config.style": "crisp", "config.maxWords": "250", "config.temperature": "0.5",
        "config.bullets": "on", "config.keywords": "alpha\n\n beta \n", "config.weights": "1\n2.5",
        "config.limits.maxWords": "40", "config.extra": '{"a": [1, 2]}', "config.either": "7",
    })

    assert form.value() == {
        "language": "es", "style": "crisp", "maxWords": 250, "temperature": 0.5, "bullets": True,
        "keywords": ["alpha", "beta"], "weights": [1, 2.5], "limits": {"maxWords": 40}, "extra": {"a": [1, 2]},
        "either": 7,
    }


def test_blank_optional_values_are_left_out():
    form = bound({"config.language": "en"})

    # bullets has a default, so an unticked box is `false`; strict has none, so it is left out.
    assert form.value() == {"language": "en", "bullets": False}


def test_number_fields_keep_integers_and_floats_apart():
    schema = {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}}

    assert bound({"config.x": "5", "config.y": "5.0"}, schema).value() == {"x": 5, "y": 5.0}
    assert isinstance(bound({"config.x": "5"}, schema).value()["x"], int)


def test_shape_errors_are_caught_by_the_form():
    form = SchemaForm({"config.maxWords": "many", "config.extra": "{nope", "config.weights": "1\nx",
                       "config.either": "NaN"}, schema=SCHEMA)

    assert not form.is_valid()
    assert "Enter a whole number." in form.errors["config.maxWords"]
    assert form.errors["config.extra"][0].startswith("Enter valid JSON")
    assert form.errors["config.either"] == ["Enter valid JSON (NaN is not a JSON number)."]
    assert form.errors["config.weights"] == ["Line 2: “x” is not a number."]


def test_a_required_nested_object_is_sent_even_when_empty():
    schema = {"type": "object", "required": ["limits"],
              "properties": {"limits": {"type": "object", "properties": {"n": {"type": "integer"}}}}}

    assert bound({}, schema).value() == {"limits": {}}
    assert bound({}, {**schema, "required": []}).value() == {}


# --- The service's problems, back on the form ----------------------------------------------------


def test_problems_found_by_the_schema_land_next_to_their_inputs():
    form = bound({"config.style": "far too long a style for this", "config.maxWords": "100",
                  "config.limits.unit": "words"})
    problems = config_problems(schema=SCHEMA, config=form.value())
    fields = {f"config{path[1:]}": messages for path, messages in problems.items()}

    form.add_schema_errors(fields)

    assert form.errors["config.language"] == ["This field is required."]
    assert form.errors["config.limits.maxWords"] == ["This field is required."]
    assert "is too long" in form.errors["config.style"][0]
    assert form.field_error_count == 3


def test_problem_paths_map_to_fields_groups_and_items():
    form = bound({"config.language": "en"})

    form.add_schema_errors({
        "config.keywords[1]": ["'x' is too short"],
        "config.limits": ["Additional properties are not allowed ('z' was unexpected)"],
        "config": ["Additional properties are not allowed ('q' was unexpected)"],
        "config.nowhere": ["Odd."],
    })

    assert form.errors["config.keywords"] == ["Item 2: 'x' is too short"]
    assert form.group_errors["config.limits"] == ["Additional properties are not allowed ('z' was unexpected)"]
    assert form.non_field_errors() == ["Additional properties are not allowed ('q' was unexpected)",
                                       "config.nowhere: Odd."]


def test_keys_that_are_not_plain_names_use_jsonschemas_path_spelling():
    schema = {"type": "object", "properties": {"max words": {"type": "integer", "minimum": 1}}}
    form = bound({"config['max words']": "0"}, schema)
    problems = config_problems(schema=schema, config=form.value())

    form.add_schema_errors({f"config{path[1:]}": messages for path, messages in problems.items()})

    assert json_path("config", ("max words",)) == "config['max words']"
    assert "less than the minimum" in form.errors["config['max words']"][0]


def test_humanize():
    assert humanize("maxWords") == "Max words"
    assert humanize("approval_threshold") == "Approval threshold"
    assert humanize("top-k") == "Top k"


# --- The run form's input, read from an agent's listed inputs ------------------------------------


def test_plain_input_lists_become_an_input_schema_with_an_example():
    echo = input_schema(["message (string)", "prefix (string, optional)"])
    calculator = input_schema(["operation (add | subtract | multiply | divide | average)", "numbers (list of numbers)"])
    text = input_schema(["text (string)", "operation (analyze | uppercase | lowercase | title)"])

    assert echo == {"type": "object", "required": ["message"],
                    "properties": {"message": {"type": "string"}, "prefix": {"type": "string"}}}
    # Seed 002's own examples.
    assert example_input(echo) == {"message": "Hello World!", "prefix": "Echo: "}
    assert example_input(calculator) == {"operation": "add", "numbers": [1, 2, 3]}
    assert example_input(text) == {"text": "Hello World", "operation": "analyze"}
    assert text["properties"]["text"]["x-widget"] == "textarea"


def test_inputs_that_are_not_plain_get_no_generated_form():
    assert input_schema(["Invoice documents (PDF, image, UBL XML)", "Open purchase orders"]) is None
    assert input_schema(["text", "colour (mauve-ish)"]) is None
    assert input_schema([]) is None
    assert example_input(None) == {}


def test_the_generated_input_form_reads_back_as_the_input():
    schema = input_schema(["operation (add | subtract)", "numbers (list of numbers)", "max_words (optional)"])
    form = SchemaForm({"input.operation": "subtract", "input.numbers": "10\n2.5"}, schema=schema, root="input")

    assert form.is_valid(), form.errors
    assert form.value() == {"operation": "subtract", "numbers": [10, 2.5]}
    assert schema["properties"]["max_words"]["type"] == "integer"
