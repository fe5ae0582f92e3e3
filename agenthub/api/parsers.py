import orjson
from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from agenthub.api.dialect import is_snake_case, to_snake


def _too_deep(document, limit: int) -> bool:
    # Iterative, so a hostile document cannot exhaust the interpreter's stack.
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class ApiJSONParser(BaseParser):
    """Strict JSON with a nesting limit; keys are turned into snake_case for /api/ requests."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        limit = settings.API_MAX_JSON_DEPTH
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if str(exc).startswith("depth limit exceeded"):  # orjson's own guard, at 1024 levels
                raise ParseError(f"JSON is nested deeper than {limit} levels.") from None
            raise ParseError(f"Malformed JSON: {exc}") from None
        if _too_deep(document, limit):
            raise ParseError(f"JSON is nested deeper than {limit} levels.")
        request = (parser_context or {}).get("request")
        if request is not None and not is_snake_case(request.path):
            document = to_snake(document)
        return document
