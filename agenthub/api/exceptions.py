"""One error shape for the whole API: {"error": {"code", "message", "fields"}}."""

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.log import log_response
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from agenthub.errors import DomainError


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def error_response(status_code: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    """For places outside DRF (middleware, Django's own handlers)."""
    return JsonResponse(error_body(code, message, fields), status=status_code)


def _validation_body(detail) -> dict:
    if isinstance(detail, dict):
        fields = {key: value for key, value in detail.items() if key != "non_field_errors"}
        general = [str(message) for message in detail.get("non_field_errors", [])]
        if fields:
            message = "Invalid input: " + ", ".join(fields) + "."
        else:
            message = " ".join(general) or "Invalid input."
        if general and fields:
            message = " ".join(general) + " " + message
        return error_body("invalid", message, fields)
    messages = detail if isinstance(detail, list) else [detail]
    return error_body("invalid", " ".join(str(message) for message in messages) or "Invalid input.")


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):  # e.g. too many form fields: Django answers these 400
        exc = exceptions.ParseError(str(exc) or "Bad request.")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        set_rollback()
        response = Response(error_body("server_error", "Internal server error."), status=500)
        request = context.get("request")
        # Logged as Django logs its own 500s (django.request, with the traceback), and only once.
        log_response("%s: %s", "Internal Server Error", request.path if request else "?", response=response,
                     request=getattr(request, "_request", None), exception=exc)
        return response

    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_body(exc.detail)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(code, str(getattr(exc, "detail", exc)))
    return response
