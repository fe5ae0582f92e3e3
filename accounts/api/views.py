"""The accounts API: /api/auth/..., /api/keys, /api/users/... (and the same under /api/v1/)."""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.api import serializers as s
from accounts.authentication import ApiKeyAuthentication, NoAuthentication
from accounts.choices import SessionEnd
from accounts.errors import AuthFailed, LoginLocked
from accounts.lockout import client_ip
from accounts.models import ApiKey, LoginSession, User
from accounts.signals import WEB_SESSION_ID
from accounts.throttling import AuthEmailThrottle
from accounts.tokens import SESSION_CLAIM
from agenthub.api.ownership import OwnedQuerysetMixin
from billing.services import spent_today_by_key

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
NO_CONTENT = {204: OpenApiResponse(description="Done; no body.")}


class AccountErrors:
    """View mixin: the accounts services' 401 and 429 become DRF's, with WWW-Authenticate and Retry-After."""

    def get_authenticators(self):
        authenticators = super().get_authenticators()
        if getattr(self, "swagger_fake_view", False) and getattr(self, "api_keys_allowed", True) is False:
            # (the schema: a key is refused here, with a 403 that says so, so do not offer it)
            authenticators = [a for a in authenticators if not isinstance(a, ApiKeyAuthentication)]
        return authenticators

    def handle_exception(self, exc):
        if isinstance(exc, AuthFailed):
            exc = exceptions.AuthenticationFailed(exc.message, code=exc.code)
        elif isinstance(exc, LoginLocked):
            exc = exceptions.Throttled(wait=exc.retry_after, detail=exc.message)
        return super().handle_exception(exc)


class PublicAuthView(AccountErrors, APIView):
    """Endpoints whose credentials travel in the body: no other authentication is looked at."""

    authentication_classes = [NoAuthentication]
    permission_classes = [AllowAny]

    def get_authenticators(self):
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema: no credentials in headers
            return []
        return super().get_authenticators()


def _with_email_throttle(view_class):
    view_class.throttle_classes = [*view_class.throttle_classes, AuthEmailThrottle]
    return view_class


def _agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")


def _valid(serializer_class, request, **kwargs):
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def current_session_id(request) -> str | None:
    """The LoginSession the request is made in: from the access token, or the browser session."""
    token = request.auth
    if token is not None and hasattr(token, "payload"):
        return str(token.payload.get(SESSION_CLAIM))
    session = getattr(request._request, "session", None)
    return session.get(WEB_SESSION_ID) if session is not None else None


@_with_email_throttle
class RegisterView(PublicAuthView):
    @extend_schema(summary="Create an account (a verification email follows)", request=s.SignUpInput,
                   responses={201: s.AccountSerializer})
    def post(self, request):
        data = _valid(s.SignUpInput, request)
        user = services.user_register(**data)
        return Response(s.AccountSerializer(user, context={"request": request}).data, status=status.HTTP_201_CREATED)


class LoginView(PublicAuthView):
    @extend_schema(summary="Log in with a username or email and a password: a token pair",
                   request=s.LoginInput, responses={200: s.LoginResponse})
    def post(self, request):
        data = _valid(s.LoginInput, request)
        user, pair = services.auth_login(
            request=request._request, identifier=data.get("username") or data["email"], password=data["password"],
            ip=client_ip(request), user_agent=_agent(request),
        )
        return Response({**pair, "user": s.AccountSerializer(user, context={"request": request}).data})


class RefreshView(PublicAuthView):
    @extend_schema(summary="Trade a refresh token for a new pair (the old refresh token dies)",
                   request=s.TokenRefreshInput, responses={200: s.TokenPairSerializer})
    def post(self, request):
        data = _valid(s.TokenRefreshInput, request)
        return Response(services.auth_refresh(raw=data["refresh"], ip=client_ip(request), user_agent=_agent(request)))


class LogoutView(PublicAuthView):
    @extend_schema(summary="End the session of a refresh token", request=s.TokenRefreshInput, responses=NO_CONTENT)
    def post(self, request):
        data = _valid(s.TokenRefreshInput, request)
        services.auth_logout(raw=data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(AccountErrors, APIView):
    """The signed-in user's account: /api/auth/me and /api/users/me."""

    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Your account", responses={200: s.AccountSerializer})
    def get(self, request):
        return Response(s.AccountSerializer(request.user, context={"request": request}).data)

    @extend_schema(summary="Change your profile", request=s.ProfileUpdateInput, responses={200: s.AccountSerializer})
    def patch(self, request):
        data = _valid(s.ProfileUpdateInput, request, partial=True)
        user = services.profile_update(user=request.user, data=data)
        return Response(s.AccountSerializer(user, context={"request": request}).data)


class VerifyEmailView(PublicAuthView):
    @extend_schema(summary="Confirm an email address with the token from its link", request=s.VerifyEmailInput,
                   responses={200: s.EmailVerifiedSerializer})
    def post(self, request):
        user = services.email_verify(token=_valid(s.VerifyEmailInput, request)["token"])
        return Response({"message": "Your email address is verified.", "is_verified": user.is_verified})


@_with_email_throttle
class VerifyEmailResendView(AccountErrors, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Send the verification email again", request=None, responses={200: s.NoticeSerializer})
    def post(self, request):
        if request.user.is_verified:
            return Response({"message": "Your email address is already verified."})
        services.email_verification_resend(user=request.user)
        return Response({"message": f"A verification link is on its way to {request.user.email}."})


@_with_email_throttle
class PasswordResetView(PublicAuthView):
    @extend_schema(summary="Email a password reset link (answered the same whether the address exists or not)",
                   request=s.PasswordResetInput, responses=NO_CONTENT)
    def post(self, request):
        services.password_reset_request(email=_valid(s.PasswordResetInput, request)["email"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetConfirmView(PublicAuthView):
    @extend_schema(summary="Set a new password with the uid and token from a reset link; every session ends",
                   request=s.PasswordResetConfirmInput, responses=NO_CONTENT)
    def post(self, request):
        data = _valid(s.PasswordResetConfirmInput, request)
        services.password_reset_confirm(uid=data["uid"], token=data["token"], new_password=data["new_password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(AccountErrors, APIView):
    permission_classes = [IsAuthenticated]
    api_keys_allowed = False

    @extend_schema(
        summary="Change your password. Every session ends; a token caller gets a new pair, a browser stays in.",
        request=s.PasswordChangeInput, responses={200: s.TokenPairSerializer, **NO_CONTENT},
    )
    def post(self, request):
        data = _valid(s.PasswordChangeInput, request)
        browser = request.auth is None  # a session, not a token
        keep = LoginSession.objects.filter(pk=current_session_id(request)).first() if browser else None
        services.password_change(user=request.user, current_password=data["current_password"],
                                 new_password=data["new_password"], request=request._request, keep=keep)
        if browser:
            from django.contrib.auth import update_session_auth_hash

            update_session_auth_hash(request._request, request.user)
            if keep is not None:
                services.web_session_rekeyed(session_id=keep.pk, session_key=request._request.session.session_key)
            return Response(status=status.HTTP_204_NO_CONTENT)
        _, pair = services.api_session_start(user=request.user, ip=client_ip(request), user_agent=_agent(request))
        return Response(pair)


class ApiKeyViewSet(AccountErrors, OwnedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                    mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Your API keys. Managed while signed in: a key cannot create, change or revoke keys."""

    queryset = ApiKey.objects.all()
    serializer_class = s.ApiKeySerializer
    permission_classes = [IsAuthenticated]
    api_keys_allowed = False
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN
    pagination_class = None  # a person has a handful (at most 50 active)

    def get_queryset(self):
        return super().get_queryset().order_by("-created_at")

    @extend_schema(summary="Your keys, with each one's daily cap and what its runs spent today")
    def list(self, request, *args, **kwargs):
        keys = list(self.get_queryset())
        spent = spent_today_by_key(user_id=request.user.pk, api_key_ids=[key.pk for key in keys])
        return Response(self.get_serializer(keys, many=True, context={**self.get_serializer_context(),
                                                                      "spent_today": spent}).data)

    @extend_schema(summary="Create a key; the response is the only time the key is shown",
                   request=s.ApiKeyCreateInput, responses={201: s.ApiKeyCreatedSerializer})
    def create(self, request):
        data = _valid(s.ApiKeyCreateInput, request)
        key, raw = services.api_key_create(user=request.user, **data)
        body = {"id": key.id, "name": key.name, "prefix": key.prefix, "key": raw, "scopes": key.scopes,
                "expires_at": key.expires_at, "daily_cap": key.daily_cap, "created_at": key.created_at}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Rename a key or set its daily cap (null removes it)", request=s.ApiKeyUpdateInput,
                   responses={200: s.ApiKeySerializer})
    def partial_update(self, request, *args, **kwargs):
        key = services.api_key_update(key=self.get_object(), **_valid(s.ApiKeyUpdateInput, request))
        return Response(self.get_serializer(key).data)

    @extend_schema(summary="Revoke a key: the next request with it is refused", responses=NO_CONTENT)
    def destroy(self, request, *args, **kwargs):
        services.api_key_revoke(key=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionViewSet(AccountErrors, OwnedQuerysetMixin, mixins.ListModelMixin, mixins.DestroyModelMixin,
                     viewsets.GenericViewSet):
    """Where you are signed in: browsers and token sessions. Ending one signs it out at once."""

    queryset = LoginSession.objects.filter(ended_at__isnull=True)  # scoped to the caller by OwnedQuerysetMixin
    serializer_class = s.LoginSessionSerializer
    permission_classes = [IsAuthenticated]
    api_keys_allowed = False
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN
    pagination_class = None

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "current_session_id": current_session_id(self.request)}

    def list(self, request, *args, **kwargs):
        sessions = selectors.session_list_active(user=request.user)
        return Response(self.get_serializer(sessions, many=True).data)

    @extend_schema(summary="End one of your sessions", responses=NO_CONTENT)
    def destroy(self, request, *args, **kwargs):
        services.session_end(session=self.get_object(), reason=SessionEnd.SIGNED_OUT)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="End every session but this one", request=None, responses={200: s.NoticeSerializer})
    @action(detail=False, methods=["post"], url_path="end-others")
    def end_others(self, request):
        keep = LoginSession.objects.filter(pk=current_session_id(request), user=request.user).first()
        ended = services.sessions_end_all(user=request.user, reason=SessionEnd.SIGNED_OUT, keep=keep)
        return Response({"message": f"Signed out of {ended} other session{'s' if ended != 1 else ''}."})


def _profile_user(request, username: str) -> User:
    try:
        return selectors.user_public_get(username=username, viewer=request.user)
    except User.DoesNotExist:
        raise Http404 from None


class PublicProfileView(AccountErrors, APIView):
    permission_classes = [AllowAny]

    @extend_schema(summary="A user's public profile, with their public agents",
                   responses={200: s.PublicProfileSerializer})
    def get(self, request, username: str):
        user = _profile_user(request, username)
        agents = selectors.user_public_agents(user=user)[:50]
        context = {"request": request, "agents": agents}
        return Response(s.PublicProfileSerializer(user, context=context).data)


class FollowView(AccountErrors, APIView):
    permission_classes = [IsAuthenticated]

    def _answer(self, request, followed: User, *, following: bool, created: bool = False) -> Response:
        count = followed.follower_links.count()
        body = {"username": followed.username, "following": following, "follower_count": count}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(summary="Follow a user (again: no change)", request=None,
                   responses={201: s.FollowStateSerializer, 200: s.FollowStateSerializer})
    def post(self, request, username: str):
        followed = _profile_user(request, username)
        _, created = services.follow_create(follower=request.user, followed=followed)
        return self._answer(request, followed, following=True, created=created)

    @extend_schema(summary="Stop following a user", responses=NO_CONTENT)
    def delete(self, request, username: str):
        followed = _profile_user(request, username)
        services.follow_delete(follower=request.user, followed=followed)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FollowersView(AccountErrors, ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = s.UserSummarySerializer
    queryset = User.objects.none()  # (what the schema reads; get_queryset answers requests)
    select = staticmethod(selectors.user_followers)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return self.select(user=_profile_user(self.request, self.kwargs["username"]))


class FollowingView(FollowersView):
    select = staticmethod(selectors.user_following)
