import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.choices import ROLE_GROUPS, Role, SessionEnd, SessionKind


class User(AbstractUser):
    """A person or program's account: seed 002's users table on Django's auth."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=255, blank=True)
    first_name = None
    last_name = None
    is_verified = models.BooleanField(default=False)
    avatar_url = models.URLField(max_length=500, blank=True)
    bio = models.TextField(blank=True)
    website = models.URLField(max_length=500, blank=True)
    preferences = models.JSONField(default=dict, blank=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["username"]
        constraints = [
            # "Alice" and "alice" (or two spellings of one mailbox) must not be two accounts.
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique",
                                    violation_error_message="A user with that username already exists."),
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique",
                                    violation_error_message="An account with this email address already exists."),
        ]

    def __str__(self) -> str:
        return self.username

    def get_full_name(self) -> str:
        return self.full_name or self.username

    def get_short_name(self) -> str:
        return self.username

    @property
    def roles(self) -> list[str]:
        """Every role the user holds, from their groups (prefetch `groups` when listing many users)."""
        names = {group.name for group in self.groups.all()}
        roles = [role for role, group in ROLE_GROUPS.items() if group in names]
        if self.is_superuser:
            roles.append(Role.ADMIN)
        return [str(role) for role in roles] or [str(Role.USER)]

    @property
    def role(self) -> str:
        """The highest role: admin > reviewer > creator > user."""
        held = self.roles
        return next(str(role) for role in (Role.ADMIN, Role.REVIEWER, Role.CREATOR, Role.USER) if role in held)


class Follow(models.Model):
    """`follower` follows `followed` (seed 001's community)."""

    follower = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following_links")
    followed = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follower_links")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followed"], name="accounts_follow_once"),
            models.CheckConstraint(condition=~Q(follower=F("followed")), name="accounts_follow_not_self"),
        ]
        indexes = [models.Index(fields=["followed", "-created_at"], name="accounts_follow_followed_idx")]

    def __str__(self) -> str:
        return f"{self.follower_id} → {self.followed_id}"


class ApiKey(models.Model):
    """A key a program sends as `Authorization: Api-Key <key>`: stored as a hash, found by its prefix."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, help_text="Shown to tell keys apart; not a secret.")
    key_hash = models.CharField(max_length=64, help_text="SHA-256 of the whole key (hex).")
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    daily_cap = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True,
        help_text="The most the runs this key starts may cost per day (UTC), in BB; empty for no cap.",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="accounts_apikey_user_idx")]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, *, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class LoginSession(models.Model):
    """One signed-in place: a browser session or a family of rotated refresh tokens.

    Every refresh token and every access token carries its session's id (`sid`). Ending the
    session ends them all at once: refresh is refused and access tokens stop authenticating.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_sessions")
    kind = models.CharField(max_length=10, choices=SessionKind.choices)
    session_key = models.CharField(max_length=40, blank=True, db_index=True, help_text="Browser sessions only.")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=SessionEnd.choices, blank=True)

    class Meta:
        ordering = ["-last_used_at"]
        indexes = [models.Index(fields=["user", "-last_used_at"], name="accounts_session_user_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} session of {self.user_id} from {self.ip or '?'}"


class ProviderKey(models.Model):
    """A user's own key for an LLM provider, which HubChat tries before the platform's (seed 001).

    The key is encrypted at rest (Fernet: AES-128-CBC with an HMAC-SHA256) and shown only by its
    last four characters. The encryption key comes from FIELD_ENCRYPTION_KEY or, when that is
    unset, from SECRET_KEY; see `field_fernet`.
    """

    class Provider(models.TextChoices):
        ANTHROPIC = "anthropic", "Anthropic"
        OPENAI = "openai", "OpenAI"
        OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible server"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_keys")
    provider = models.CharField(max_length=20, choices=Provider.choices)
    label = models.CharField(max_length=100, blank=True)
    base_url = models.CharField(max_length=500, blank=True, help_text="OpenAI-compatible servers only.")
    model = models.CharField(max_length=200, blank=True, help_text="Empty: the platform's default model.")
    key_encrypted = models.TextField(help_text="A Fernet token; never shown.")
    last_four = models.CharField(max_length=4, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]  # the order HubChat tries them in
        indexes = [models.Index(fields=["user", "created_at"], name="accounts_providerkey_user_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(provider="openai_compatible") | Q(base_url=""),
                name="accounts_providerkey_base_url_compatible_only",
            ),
        ]

    def __str__(self) -> str:
        name = self.label or self.get_provider_display()
        return f"{name} (…{self.last_four})" if self.last_four else name

    def set_key(self, raw: str) -> None:
        self.key_encrypted = field_fernet().encrypt(raw.encode()).decode("ascii")
        # Short keys keep their last four to themselves: four of eight characters is half the secret.
        self.last_four = raw[-4:] if len(raw) >= 12 else ""

    def key(self) -> str:
        """The plaintext key; raises cryptography.fernet.InvalidToken when the encryption key changed."""
        return field_fernet().decrypt(self.key_encrypted.encode("ascii")).decode()


def field_fernet():
    """The cipher for secrets stored in fields (users' provider keys).

    Each secret in FIELD_ENCRYPTION_KEY (a comma-separated list; the first encrypts, all decrypt,
    so a key can be rotated in) or, when it is empty, SECRET_KEY is stretched into a Fernet key
    with HKDF-SHA256. Changing SECRET_KEY without setting FIELD_ENCRYPTION_KEY makes the stored
    keys unreadable: users then add them again.
    """
    import base64

    from cryptography.fernet import Fernet, MultiFernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    secrets = list(settings.FIELD_ENCRYPTION_KEY) or [settings.SECRET_KEY]
    fernets = [
        Fernet(base64.urlsafe_b64encode(
            HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"agenthub field encryption v1")
            .derive(secret.encode())
        ))
        for secret in secrets
    ]
    return MultiFernet(fernets)
