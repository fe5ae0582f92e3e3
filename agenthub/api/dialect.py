"""Two spellings of one API: /api/... speaks camelCase, /api/v1/... speaks snake_case."""

import datetime
import re
import uuid
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from djangorestframework_camel_case.util import underscoreize

SNAKE_CASE_PREFIX = "/api/v1/"
_SNAKE_PART = re.compile(r"_([a-z0-9])")


def is_snake_case(path: str) -> bool:
    return path.startswith(SNAKE_CASE_PREFIX)


_SCALARS = (str, int, float, bool, type(None), Decimal, datetime.datetime, datetime.date, uuid.UUID)


class CamelCased(dict):
    """A dict whose keys, and whose values' keys, are already in camelCase."""


@lru_cache(maxsize=8192)
def camel_key(key: str) -> str:
    return _SNAKE_PART.sub(lambda match: match.group(1).upper(), key)


def to_camel(data):
    """snake_case keys -> camelCase, recursively; the contents of opaque fields are left alone.

    Every response passes through here, so scalars are passed over without a call.
    """
    if type(data) is CamelCased:
        return data
    if isinstance(data, dict):
        opaque = settings.API_OPAQUE_FIELDS
        return {
            (camel_key(key) if isinstance(key, str) else key): (
                value if isinstance(value, _SCALARS) or key in opaque else to_camel(value)
            )
            for key, value in data.items()
        }
    if isinstance(data, (list, tuple)):
        return [item if isinstance(item, _SCALARS) else to_camel(item) for item in data]
    return data


def to_snake(data):
    return underscoreize(data, ignore_fields=settings.API_OPAQUE_FIELDS)


def camel_to_snake_key(key: str) -> str:
    return next(iter(to_snake({key: None})))
