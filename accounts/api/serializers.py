"""Shapes of the accounts API. Inputs check shape only; the rules live in accounts.services."""

import orjson
from django.contrib.auth.validators import UnicodeUsernameValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.choices import Role, Scope
from accounts.models import ApiKey, LoginSession, User

PASSWORD = {"write_only": True, "trim_whitespace": False, "max_length": 1024, "style": {"input_type": "password"}}
MAX_PREFERENCES_BYTES = 16 * 1024

# Fields a client may never set on an account, whatever it sends: answered 400, never applied.
PRIVILEGED_FIELDS = (
    "is_staff", "is_superuser", "is_active", "role", "roles", "groups", "user_permissions", "is_verified",
    "email_verified_at", "last_login", "date_joined", "id",
)


class RefusePrivilegedFields:
    """Serializer mixin: a privileged field in the body is a 400 naming it, not silently dropped."""

    refused_fields: tuple[str, ...] = PRIVILEGED_FIELDS
    refused_messages: dict[str, str] = {}

    def to_internal_value(self, data):
        sent = data.keys() if hasattr(data, "keys") else ()
        refused = {name: [self.refused_messages.get(name, "This field cannot be set.")]
                   for name in self.refused_fields if name in sent}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if refused and isinstance(exc.detail, dict):
                exc.detail.update(refused)  # every problem at once
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value


class HttpUrlField(serializers.URLField):
    """A web address a page may link to: http or https, nothing else (no javascript:, no ftp:)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value and not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Enter an http:// or https:// address.")
        return value


class SignUpInput(RefusePrivilegedFields, serializers.Serializer):
    username = serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(**PASSWORD)
    full_name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class LoginInput(serializers.Serializer):
    username = serializers.CharField(max_length=254, required=False, help_text="A username or an email address.")
    email = serializers.CharField(max_length=254, required=False, help_text="Instead of `username`.")
    password = serializers.CharField(**PASSWORD)

    def validate(self, attrs):
        if not (attrs.get("username") or attrs.get("email")):
            raise serializers.ValidationError({"username": ["Give a username or an email address."]})
        return attrs


class TokenRefreshInput(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096, trim_whitespace=True)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class AccountSerializer(serializers.ModelSerializer):
    """The signed-in user's own account (seed 002's users row, without the password)."""

    role = serializers.ChoiceField(choices=Role.choices, read_only=True)
    roles = serializers.ListField(child=serializers.CharField(), read_only=True,
                                  help_text="Every role held: user, creator, reviewer, admin.")

    class Meta:
        model = User
        fields = ["id", "username", "email", "full_name", "avatar_url", "bio", "website", "preferences",
                  "is_verified", "email_verified_at", "role", "roles", "date_joined", "last_login"]
        read_only_fields = fields


class LoginResponse(TokenPairSerializer):
    user = AccountSerializer()


class ProfileUpdateInput(RefusePrivilegedFields, serializers.Serializer):
    refused_fields = (*PRIVILEGED_FIELDS, "username", "password")
    refused_messages = {"username": "The username cannot be changed.",
                        "password": "Change the password at /api/auth/password-change."}

    full_name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False)
    avatar_url = HttpUrlField(max_length=500, required=False, allow_blank=True)
    bio = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    website = HttpUrlField(max_length=500, required=False, allow_blank=True)
    preferences = serializers.DictField(required=False, help_text="Free-form settings, kept as sent.")

    def validate_preferences(self, value):
        if len(orjson.dumps(value)) > MAX_PREFERENCES_BYTES:
            raise serializers.ValidationError(f"At most {MAX_PREFERENCES_BYTES // 1024} KiB of preferences.")
        return value


class VerifyEmailInput(serializers.Serializer):
    token = serializers.CharField(max_length=512)


class PasswordResetInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmInput(serializers.Serializer):
    uid = serializers.CharField(max_length=100)
    token = serializers.CharField(max_length=200)
    new_password = serializers.CharField(**PASSWORD)


class PasswordChangeInput(serializers.Serializer):
    current_password = serializers.CharField(**PASSWORD)
    new_password = serializers.CharField(**PASSWORD)


class NoticeSerializer(serializers.Serializer):
    message = serializers.CharField()


class EmailVerifiedSerializer(NoticeSerializer):
    is_verified = serializers.BooleanField()


DAILY_CAP = {"max_digits": 14, "decimal_places": 4, "min_value": 0, "allow_null": True,
             "help_text": "The most the runs this key starts may cost per day (UTC), in BB; null for no cap."}


class ApiKeySerializer(serializers.ModelSerializer):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices))
    status = serializers.SerializerMethodField()
    daily_cap = serializers.DecimalField(**DAILY_CAP, read_only=True)
    spent_today = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "status", "daily_cap", "spent_today", "created_at",
                  "last_used_at", "expires_at", "revoked_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(help_text="active, expired or revoked"))
    def get_status(self, key: ApiKey) -> str:
        if key.revoked_at is not None:
            return "revoked"
        return "active" if key.is_usable() else "expired"

    @extend_schema_field(serializers.DecimalField(
        max_digits=14, decimal_places=4,
        help_text="What the runs this key started paid today (UTC), net of refunds, plus what they hold now (BB).",
    ))
    def get_spent_today(self, key: ApiKey):
        from billing.services import spent_today_by_key

        spent = self.context.get("spent_today")  # the list view reads every key's in one go
        if spent is None or key.pk not in spent:
            spent = spent_today_by_key(user_id=key.user_id, api_key_ids=[key.pk])
        return serializers.DecimalField(max_digits=14, decimal_places=4).to_representation(spent[key.pk])


class ApiKeyCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.CharField(max_length=20), max_length=10, required=False,
                                   default=[str(Scope.READ)], help_text="Any of read, invoke, manage.")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    daily_cap = serializers.DecimalField(**DAILY_CAP, required=False, default=None)


class ApiKeyUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    daily_cap = serializers.DecimalField(**DAILY_CAP, required=False)

    def validate(self, attrs):
        # Scopes and expiry are fixed at creation: a PATCH naming them is refused, not half applied.
        unknown = sorted(set(self.initial_data) - set(self.fields)) if hasattr(self.initial_data, "keys") else []
        if unknown:
            raise serializers.ValidationError({name: ["This field cannot be changed."] for name in unknown})
        return attrs


class ApiKeyCreatedSerializer(serializers.Serializer):
    """The key itself appears here, once; it is never stored and cannot be shown again."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    key = serializers.CharField()
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices))
    expires_at = serializers.DateTimeField(allow_null=True)
    daily_cap = serializers.DecimalField(**DAILY_CAP)
    created_at = serializers.DateTimeField()


class LoginSessionSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(help_text="web (a browser) or api (a token session)")
    current = serializers.SerializerMethodField()

    class Meta:
        model = LoginSession
        fields = ["id", "kind", "ip", "user_agent", "created_at", "last_used_at", "expires_at", "current"]
        read_only_fields = fields

    def get_current(self, session: LoginSession) -> bool:
        return str(session.pk) == self.context.get("current_session_id")


class UserSummarySerializer(serializers.ModelSerializer):
    """Someone in a list of followers: what anyone may see."""

    class Meta:
        model = User
        fields = ["username", "full_name", "avatar_url"]
        read_only_fields = fields


class PublicProfileSerializer(serializers.ModelSerializer):
    """A user's public profile: never their email address or settings."""

    role = serializers.ChoiceField(choices=Role.choices, read_only=True)
    follower_count = serializers.IntegerField(read_only=True)
    following_count = serializers.IntegerField(read_only=True)
    is_following = serializers.SerializerMethodField(help_text="Whether you follow them (null when anonymous).")
    agents = serializers.SerializerMethodField(help_text="Their agents listed in the public catalog.")

    class Meta:
        model = User
        fields = ["username", "full_name", "avatar_url", "bio", "website", "role", "date_joined",
                  "follower_count", "following_count", "is_following", "agents"]
        read_only_fields = fields

    def get_is_following(self, user: User) -> bool | None:
        return getattr(user, "is_followed", None)

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_agents(self, user: User) -> list[dict]:
        from marketplace.api.serializers import AgentSummarySerializer

        return AgentSummarySerializer(self.context.get("agents", []), many=True, context=self.context).data


class FollowStateSerializer(serializers.Serializer):
    username = serializers.CharField()
    following = serializers.BooleanField()
    follower_count = serializers.IntegerField()
