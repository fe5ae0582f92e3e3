from decimal import Decimal

import orjson
from django.utils.encoding import force_str
from django.utils.functional import Promise
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer

from agenthub.api.dialect import is_snake_case, to_camel


def _default(value):
    if isinstance(value, Decimal):
        # Money stays exact: the decimal's own digits become a JSON number.
        return orjson.Fragment(str(value))
    if isinstance(value, Promise):
        return force_str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class ApiJSONRenderer(JSONRenderer):
    """JSON via orjson, with keys in the dialect of the URL (camelCase unless /api/v1/)."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        request = (renderer_context or {}).get("request")
        if request is None or not is_snake_case(request.path):
            data = to_camel(data)
        option = orjson.OPT_NON_STR_KEYS
        if self.get_indent(accepted_media_type, renderer_context or {}):  # the browsable API asks for it
            option |= orjson.OPT_INDENT_2
        return orjson.dumps(data, default=_default, option=option)


class ApiBrowsableRenderer(BrowsableAPIRenderer):
    def get_default_renderer(self, view):
        return ApiJSONRenderer()
