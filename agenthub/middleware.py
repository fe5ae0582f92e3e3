import logging
import re
import time
import uuid
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.http import QueryDict
from django.utils.log import log_response
from rest_framework.response import Response as DRFResponse

from agenthub import logging as request_logging
from agenthub import metrics
from agenthub.api.dialect import camel_to_snake_key, is_snake_case
from agenthub.api.exceptions import error_response

logger = logging.getLogger("agenthub.request")
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Anything else becomes one label value, so a client cannot grow the metrics without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_PATH_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


class RequestIdMiddleware:
    """Gives every request an id (the caller's X-Request-ID when it is sane), logs it, returns it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        # fullmatch: a header is copied into logs and other services' headers, so no newlines or spaces.
        request.id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_logging.set_request_id(request.id)
        try:
            response = self.get_response(request)
            if response.status_code >= 400:
                # Django logs error responses after the last middleware has returned, when the id
                # is gone; logging here (once: it marks the response) keeps the id on that line.
                log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        finally:
            request_logging.reset_request_id(token)
        response["X-Request-ID"] = request.id
        return response


@lru_cache(maxsize=512)
def route_label(route: str) -> str:
    """A URL pattern as a metrics label: `api/agents/(?P<id>[-a-z]+)/?$` -> `/api/agents/{id}`."""
    label = _PATH_CONVERTER.sub(r"{\1}", _REGEX_GROUP.sub(r"{\1}", route))
    label = label.replace("^", "").replace("$", "").replace("/?", "")
    return "/" + label.lstrip("/")


class MetricsMiddleware:
    """Counts requests, their latency and their database queries, by route and status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        queries = [0]

        def count_query(execute, sql, params, many, context):
            queries[0] += 1
            return execute(sql, params, many, context)

        started = time.perf_counter()
        with connection.execute_wrapper(count_query):
            response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        route = route_label(match.route) if match is not None else "unmatched"  # the home page's route is ""
        method = request.method if request.method in _METHODS else "other"
        metrics.observe_request(
            method=method, route=route, status=response.status_code, seconds=elapsed, queries=queries[0]
        )
        details = {
            "method": method, "path": request.path, "route": route, "status": response.status_code,
            "ms": round(elapsed * 1000, 1), "queries": queries[0],
        }
        if elapsed > 1:
            logger.warning("slow request", extra=details)
        else:
            logger.info("request", extra=details)
        return response


class ApiErrorMiddleware:
    """Under /api/: oversized bodies get 413, camelCase query keys become snake_case, and any
    error Django itself answers (404 for an unknown path, CSRF 403, 500) is the API's JSON shape.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not _is_api(request):
            return self.get_response(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(400, "invalid", "Content-Length is not a number.")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if length > limit:
            return error_response(413, "payload_too_large", f"The request body is larger than {limit} bytes.")
        if not is_snake_case(request.path) and request.GET:
            query = QueryDict(mutable=True)
            for key, values in request.GET.lists():
                query.setlist(camel_to_snake_key(key), values)
            query._mutable = False
            request.GET = query
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        # DRF's own responses already carry the error shape (as an HTML page only for a browser
        # that asked for the browsable API); everything else Django answered becomes JSON.
        if response.status_code >= 400 and "json" not in content_type and not isinstance(response, DRFResponse):
            return self._as_json(response)
        return response

    def process_exception(self, request, exception):
        if not _is_api(request):
            return None
        response = error_response(500, "server_error", "Internal server error.")
        log_response("%s: %s", "Internal Server Error", request.path, response=response, request=request,
                     exception=exception)
        return response

    @staticmethod
    def _as_json(response):
        code, message = _DJANGO_ERRORS.get(response.status_code, ("error", response.reason_phrase))
        replaced = error_response(response.status_code, code, message)
        replaced._has_been_logged = getattr(response, "_has_been_logged", False)
        for header in ("Allow", "Retry-After", "X-Request-ID"):
            if header in response:
                replaced[header] = response[header]
        return replaced


_DJANGO_ERRORS = {
    400: ("bad_request", "Bad request."),
    403: ("permission_denied", "Forbidden (the request failed a CSRF or permission check)."),
    404: ("not_found", "No such API endpoint."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Unsupported media type."),
    500: ("server_error", "Internal server error."),
}
