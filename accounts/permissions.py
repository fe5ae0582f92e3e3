"""What an API key may do: scopes.

A request signed in as a person (JWT or session) holds every scope. A request made with an API
key holds the key's scopes, and every DRF view checks them as the key authenticates (see
accounts.authentication), so no view can forget to: reads (GET, HEAD, OPTIONS) need `read`,
writes need `manage`, unless the view says otherwise with `required_scope`, a scope or a dict
by action (or by lower-case method)::

    class ExecutionViewSet(OwnedQuerysetMixin, viewsets.ModelViewSet):
        required_scope = {"create": "invoke", "cancel": "invoke"}   # the rest: read / manage

    @api_view(["POST"])
    @permission_classes([IsAuthenticated, HasScope("invoke")])      # the same, as a permission
    def invoke_agent(request): ...

A view that must never be driven by a key (managing keys, passwords, sessions) sets
`api_keys_allowed = False`: a key gets 403 there whatever its scopes.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.choices import Scope
from accounts.models import ApiKey


def required_scope(*, view, request) -> str:
    """The scope a key needs for this request: the view's `required_scope`, else its HasScope
    permission, else `read` for safe methods and `manage` for the rest."""
    declared = getattr(view, "required_scope", None)
    if isinstance(declared, dict):
        declared = declared.get(getattr(view, "action", None)) or declared.get(request.method.lower())
    if declared:
        return str(Scope(declared))
    for permission in getattr(view, "permission_classes", ()):
        if isinstance(permission, HasScope):
            return permission.scope
    return str(Scope.READ if request.method in SAFE_METHODS else Scope.MANAGE)


def request_api_key(request) -> ApiKey | None:
    """The API key a request was made with (`request.auth`; a JWT's is its token, a session's None)."""
    return request.auth if isinstance(request.auth, ApiKey) else None


def request_scopes(request) -> set[str]:
    """The scopes a request holds: the key's, or all of them for a person signed in."""
    if isinstance(request.auth, ApiKey):
        return set(request.auth.scopes)
    return {str(scope) for scope in Scope}


class HasScope(BasePermission):
    """`permission_classes = [IsAuthenticated, HasScope("invoke")]`: API keys need that scope."""

    def __init__(self, scope: str):
        self.scope = str(Scope(scope))  # an unknown scope fails at import, not at request time
        self.message = f"This API key does not have the {self.scope!r} scope."

    def __call__(self):
        # DRF instantiates each entry of permission_classes; an instance stands for itself.
        return self

    def has_permission(self, request, view) -> bool:
        return self.scope in request_scopes(request)
