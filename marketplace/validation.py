"""What a submission must satisfy before a reviewer sees it.

Each check returns {field: [messages]}; an empty dict means the field is fine.
"""

import io
import re
import zipfile
from decimal import Decimal
from re import _constants as sre_constants  # the stdlib's own regex parser, for shape analysis
from re import _parser as sre_parse

import jsonschema
import re2
from referencing import Registry
from referencing.exceptions import NoSuchResource

from agenthub.netguard import UnsafeURL, resolve_public
from marketplace.choices import PricingModel, Transport

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
ENTRY_POINT = re.compile(r"^[A-Za-z_][\w\-/]*\.py:[A-Za-z_]\w*$")
MAX_PATTERN_LENGTH = 1000
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, getattr(sre_constants, "POSSESSIVE_REPEAT", None)}


def _refuse_remote(uri: str):
    raise NoSuchResource(ref=uri)


# A registry that knows no remote documents: `$ref` to http(s) or file: URIs fails instead of
# being fetched (the jsonschema library would otherwise download them).
OFFLINE_REGISTRY = Registry(retrieve=_refuse_remote)


def _re2_pattern(validator, pattern, instance, schema):
    # Instances are matched with RE2, whose running time is linear in the input.
    if validator.is_type(instance, "string") and not re2.search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


SafeValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _re2_pattern})


def config_validator(schema: dict) -> jsonschema.protocols.Validator:
    """A validator for a hiring's config: offline `$ref`s and linear-time regexes."""
    return SafeValidator(schema, registry=OFFLINE_REGISTRY)


def _nested_unbounded_repeat(parsed, inside_repeat: bool = False) -> bool:
    for op, argument in parsed:
        if op in _REPEATS:
            low, high, body = argument
            unbounded = high == sre_constants.MAXREPEAT or high > 100
            if unbounded and inside_repeat:
                return True
            if _nested_unbounded_repeat(body, inside_repeat or unbounded):
                return True
        elif op == sre_constants.SUBPATTERN:
            if _nested_unbounded_repeat(argument[-1], inside_repeat):
                return True
        elif op == sre_constants.BRANCH:
            if any(_nested_unbounded_repeat(branch, inside_repeat) for branch in argument[1]):
                return True
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            if _nested_unbounded_repeat(argument[1], inside_repeat):
                return True
    return False


def pattern_problem(pattern: str) -> str | None:
    """Why a regex in a schema is unsafe, or None.

    RE2 must accept it (no backreferences or lookaround), and it may not nest unbounded
    repetition such as `(a+)+`: harmless to RE2, but catastrophic for the backtracking
    engines that clients and agents validating the same schema commonly use.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"is longer than {MAX_PATTERN_LENGTH} characters"
    try:
        re2.compile(pattern, _RE2_OPTIONS)
        parsed = sre_parse.parse(pattern)
    except Exception as exc:  # noqa: BLE001 - both engines raise their own error types
        return f"is not a supported regular expression ({exc})"
    if _nested_unbounded_repeat(parsed):
        return "nests unbounded repetition (e.g. (a+)+), which can backtrack catastrophically"
    return None


def _walk(node, path: str = "#"):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


def check_config_schema(schema) -> dict[str, list[str]]:
    if schema in (None, {}):
        return {}
    if not isinstance(schema, dict):
        return {"config_schema": ["Must be a JSON object (a JSON Schema)."]}
    problems = []
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        location = "/".join(str(part) for part in exc.path) or "(root)"
        problems.append(f"Not a valid JSON Schema (2020-12) at {location}: {exc.message}")
    for path, node in _walk(schema):
        for keyword in ("$ref", "$dynamicRef"):
            ref = node.get(keyword)
            if isinstance(ref, str) and not ref.startswith("#"):
                problems.append(f"{path}/{keyword}: only local references (#...) are allowed, not {ref!r}.")
        patterns = []
        if isinstance(node.get("pattern"), str):
            patterns.append((f"{path}/pattern", node["pattern"]))
        if isinstance(node.get("patternProperties"), dict):
            patterns += [(f"{path}/patternProperties", key) for key in node["patternProperties"]]
        for where, pattern in patterns:
            if problem := pattern_problem(pattern):
                problems.append(f"{where}: the pattern {pattern!r} {problem}.")
    return {"config_schema": problems} if problems else {}


def check_pricing(*, pricing_model: str, price_per_use: Decimal, monthly_price: Decimal) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if pricing_model == PricingModel.FREE:
        if price_per_use:
            errors["price_per_use"] = ["A free agent has no price per use."]
        if monthly_price:
            errors["monthly_price"] = ["A free agent has no monthly price."]
    elif pricing_model == PricingModel.PER_USE:
        if price_per_use <= 0:
            errors["price_per_use"] = ["A per-use agent needs a price per use above 0."]
        if monthly_price:
            errors["monthly_price"] = ["A per-use agent has no monthly price."]
    elif pricing_model == PricingModel.SUBSCRIPTION:
        if monthly_price <= 0:
            errors["monthly_price"] = ["A subscription agent needs a monthly price above 0."]
        if price_per_use:
            errors["price_per_use"] = ["Runs of a subscription agent are covered by the monthly price."]
    else:
        errors["pricing_model"] = [f"Unknown pricing model {pricing_model!r}."]
    return errors


def check_endpoint(*, transport: str, endpoint_url: str) -> dict[str, list[str]]:
    if transport == Transport.HOSTED:
        return {}
    if not endpoint_url:
        return {"endpoint_url": [f"An agent called over {transport} needs an endpoint URL."]}
    try:
        resolve_public(endpoint_url)
    except UnsafeURL as exc:
        return {"endpoint_url": [str(exc)]}
    return {}


def check_entry_point(*, transport: str, entry_point: str) -> dict[str, list[str]]:
    if not entry_point:
        if transport == Transport.HOSTED:
            return {"entry_point": ["A hosted agent needs an entry point such as main.py:AgentClass."]}
        return {}
    if not ENTRY_POINT.match(entry_point):
        return {"entry_point": [f"{entry_point!r} does not look like main.py:AgentClass."]}
    return {}


def check_package(agent) -> dict[str, list[str]]:
    """A hosted agent runs the package whose SHA-256 is its code hash: it must have been uploaded."""
    if agent.transport != Transport.HOSTED:
        return {}
    if not agent.code_hash:
        return {"code_hash": ["Upload the agent's package (a zip) first."]}
    package = agent.packages.filter(sha256=agent.code_hash).only("content").first()
    if package is None:
        return {"code_hash": ["No uploaded package has this SHA-256."]}
    module = agent.entry_point.partition(":")[0]
    if module and module not in zip_names(bytes(package.content)):
        return {"entry_point": [f"The package has no {module}."]}
    return {}


def zip_names(content: bytes) -> set[str]:
    """The file names in a zip; empty when it is not one."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return set(archive.namelist())
    except zipfile.BadZipFile:
        return set()


def check_version(version: str) -> dict[str, list[str]]:
    if not SEMVER.match(version or ""):
        return {"version": [f"{version!r} is not a semantic version such as 1.2.0."]}
    return {}


def check_submission(agent) -> dict[str, list[str]]:
    """Every problem that stops `agent` going to review, by field."""
    errors: dict[str, list[str]] = {}
    for field in ("name", "description", "business_domain"):
        if not (getattr(agent, field) or "").strip():
            errors[field] = ["This field is required to submit."]
    if not agent.skills:
        errors["skills"] = ["Name at least one skill, so the agent can be found and chosen."]
    errors.update(check_version(agent.version))
    errors.update(check_entry_point(transport=agent.transport, entry_point=agent.entry_point))
    errors.update(check_endpoint(transport=agent.transport, endpoint_url=agent.endpoint_url))
    if "entry_point" not in errors:
        errors.update(check_package(agent))
    errors.update(check_config_schema(agent.config_schema))
    errors.update(check_pricing(
        pricing_model=agent.pricing_model, price_per_use=agent.price_per_use, monthly_price=agent.monthly_price
    ))
    return errors
