"""Two spellings of one API: /api/... speaks camelCase, /api/v1/... speaks snake_case."""

from django.conf import settings
from djangorestframework_camel_case.util import camelize, underscoreize

SNAKE_CASE_PREFIX = "/api/v1/"


def is_snake_case(path: str) -> bool:
    return path.startswith(SNAKE_CASE_PREFIX)


def to_camel(data):
    return camelize(data, ignore_fields=settings.API_OPAQUE_FIELDS)


def to_snake(data):
    return underscoreize(data, ignore_fields=settings.API_OPAQUE_FIELDS)


def camel_to_snake_key(key: str) -> str:
    return next(iter(to_snake({key: None})))
