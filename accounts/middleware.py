from django.shortcuts import render

from accounts.errors import LoginLocked
from agenthub.api.exceptions import error_response


class LoginLockoutMiddleware:
    """A login refused by the brute-force guard is a 429 with Retry-After, on any login page.

    The guard raises from the authentication backend, so this covers the site's login, the
    admin's and any other form that calls `authenticate()`. API views answer it themselves.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, LoginLocked):
            return None
        if request.path.startswith("/api/"):
            response = error_response(429, exception.code, exception.message)
        else:
            response = render(request, "accounts/locked.html", {"message": exception.message}, status=429)
        response["Retry-After"] = str(exception.retry_after)
        return response
