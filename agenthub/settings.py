"""AgentHub settings: everything that differs between machines comes from the environment.

The embedded default (nothing set) is a development setup that works on a fresh
machine: SQLite, local-memory cache, Celery in eager mode, console email.
Production sets DEBUG=false, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and REDIS_URL.
"""

import ipaddress
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from agenthub.env import env_bool, env_choice, env_decimal, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VERSION = "0.1.0"

DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY", "") or None
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "accounts",
    "marketplace",
    "orchestration",
    "billing",
]

MIDDLEWARE = [
    "agenthub.middleware.RequestIdMiddleware",
    "agenthub.middleware.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "agenthub.middleware.ApiErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.LoginLockoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "agenthub.urls"
WSGI_APPLICATION = "agenthub.wsgi.application"
ASGI_APPLICATION = "agenthub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
try:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0 if DEBUG else 60, minimum=0),
            conn_health_checks=True,
        )
    }
except ValueError as exc:  # an unknown scheme or a malformed URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL ({exc}).") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Catalog search's typo tolerance: how alike a misspelt word and a word of a name must be
    # (pg_trgm's word similarity, default 0.6, misses transpositions such as "tranlsator").
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c pg_trgm.word_similarity_threshold=0.4"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for the write lock instead of failing at once when a request and a task overlap.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, Celery ------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL must be a redis://, rediss:// or unix:// URL, got {REDIS_URL!r}.")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Without timeouts an unreachable Redis hangs every request (and the health check) forever.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task that outlives the broker's visibility timeout would be handed to a second
# worker while the first still runs it: keep the hard limit well below it.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
# Workers log through Django's LOGGING (JSON lines with the request id), not Celery's own handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_TIME_LIMIT = 900
CELERY_TASK_SOFT_TIME_LIMIT = 840
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "accounts-delete-expired-credentials": {
        "task": "accounts.tasks.expired_credentials_delete",
        "schedule": timedelta(hours=24),
    },
    "marketplace-refresh-trending": {
        "task": "marketplace.tasks.refresh_trending_scores",
        "schedule": timedelta(minutes=10),
    },
    "marketplace-expire-hirings": {
        "task": "marketplace.tasks.expire_hirings",
        "schedule": timedelta(minutes=5),
    },
    "orchestration-check-agent-health": {
        "task": "orchestration.tasks.check_all_agents_health",
        "schedule": timedelta(seconds=env_int("AGENT_HEALTH_CHECK_SECONDS", 60)),
    },
    "orchestration-sweep-executions": {
        "task": "orchestration.tasks.sweep_executions",
        "schedule": timedelta(seconds=30),
    },
    "billing-reconcile-stripe-payments": {
        "task": "billing.tasks.stripe_payments_reconcile",
        "schedule": timedelta(minutes=15),
    },
}

# --- Auth ---------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "marketplace:home"
LOGOUT_REDIRECT_URL = "marketplace:home"
# Username or email at every login (the API, the pages, the admin), behind the brute-force guard.
AUTHENTICATION_BACKENDS = ["accounts.backends.AccountBackend"]
# Brute force: at most this many failed logins per account and per client address in the window
# (seconds); then 429 with Retry-After. Counted in the cache: Redis in production.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 60, minimum=1)
# Proxies (addresses or networks) whose X-Forwarded-For is believed; the client's address
# is otherwise REMOTE_ADDR, whatever the header says.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network.") from None
# Email verification and password reset links stay valid this long (seconds).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600, minimum=300)

# --- Internationalisation, static ---------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "media/"

# --- Email --------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "sent-emails"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "AgentHub <noreply@agenthub.local>")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)  # seconds: an unreachable SMTP server must not hang a worker

# --- Security -----------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BODY_BYTES", 1024 * 1024, minimum=1024)
API_MAX_JSON_DEPTH = 32
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers and Prometheus probe these over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^api/(v1/)?health$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = not DEBUG
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_EXPOSE_HEADERS = ["X-Total-Count", "Link", "X-Request-ID"]

# Hosts that outbound agent calls may reach even though they resolve to internal
# addresses (the demo agents in development and tests). Empty in production.
AGENT_ALLOWED_INTERNAL_HOSTS = env_list("AGENT_ALLOWED_INTERNAL_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
# Outbound agent calls (orchestration/outbound.py): seconds to connect, seconds one read may wait,
# and the largest reply read. Each call also has a total deadline that no read outlives.
AGENT_CONNECT_TIMEOUT = float(env_decimal("AGENT_CONNECT_TIMEOUT", "5"))
AGENT_READ_TIMEOUT = float(env_decimal("AGENT_READ_TIMEOUT", "30"))
if AGENT_CONNECT_TIMEOUT <= 0 or AGENT_READ_TIMEOUT <= 0:
    raise ImproperlyConfigured("AGENT_CONNECT_TIMEOUT and AGENT_READ_TIMEOUT must be positive numbers of seconds.")
AGENT_MAX_RESPONSE_BYTES = env_int("AGENT_MAX_RESPONSE_BYTES", 1024 * 1024, minimum=1024)
# Where `manage.py run_demo_agents` serves the demo HTTP agents; seed_demo registers them there.
DEMO_AGENTS_URL = env_str("DEMO_AGENTS_URL", "http://127.0.0.1:8700").rstrip("/")

# --- Executions ---------------------------------------------------------------
# One run may take this long end to end, all tries included; a run still marked running
# EXECUTION_LEASE_GRACE_SECONDS after that lost its worker, and the sweeper tries it again
# (with the same idempotency key) or fails it.
EXECUTION_TIMEOUT_SECONDS = env_int("EXECUTION_TIMEOUT_SECONDS", 120)
EXECUTION_LEASE_GRACE_SECONDS = env_int("EXECUTION_LEASE_GRACE_SECONDS", 30)
EXECUTION_MAX_ATTEMPTS = env_int("EXECUTION_MAX_ATTEMPTS", 3)
EXECUTION_RETRY_BACKOFF_SECONDS = env_decimal("EXECUTION_RETRY_BACKOFF_SECONDS", "0.5")
EXECUTION_MAX_WAIT_SECONDS = 30  # ?wait=N on the execute endpoint
AGENT_HEALTH_FAILURES_UNAVAILABLE = 3  # consecutive failed checks before an agent is marked unavailable
AGENT_HEALTH_HISTORY = 60  # checks kept per agent

# HubChat (orchestration/hubchat): planning, choosing agents, quotes.
HUBCHAT_DEFAULT_MAX_BUDGET = env_decimal("HUBCHAT_DEFAULT_MAX_BUDGET", "1.00")  # BB, when a message names none
HUBCHAT_MAX_BUDGET = env_decimal("HUBCHAT_MAX_BUDGET", "10000")
HUBCHAT_BUSY_LOAD = 0.9  # at or above this load an agent counts as busy (its score is halved)
HUBCHAT_HEALTH_MAX_AGE_SECONDS = env_int("HUBCHAT_HEALTH_MAX_AGE_SECONDS", 60)  # older: probe before choosing
HUBCHAT_QUOTE_TIMEOUT_SECONDS = 5.0
HUBCHAT_STEP_ATTEMPTS = 2  # a failed step is tried once more on the next-best agent

# HubChat's LLM planners (orchestration/hubchat/providers.py), tried in this order before the
# built-in planner, which is always the last resort. Empty (the default): no LLM is called.
# Names: anthropic, openai, local (any OpenAI-compatible server at LLM_BASE_URL, e.g. Ollama or
# vLLM). A user's own keys (accounts.ProviderKey) are tried before these.
ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY", "")
ANTHROPIC_MODEL = env_str("ANTHROPIC_MODEL", "claude-sonnet-4-6")
ANTHROPIC_BASE_URL = env_str("ANTHROPIC_BASE_URL", "https://api.anthropic.com").rstrip("/")
OPENAI_API_KEY = env_str("OPENAI_API_KEY", "")
OPENAI_MODEL = env_str("OPENAI_MODEL", "gpt-4.1-mini")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "https://api.openai.com/v1").rstrip("/")
LLM_BASE_URL = env_str("LLM_BASE_URL", "").rstrip("/")
LLM_MODEL = env_str("LLM_MODEL", "")
LLM_API_KEY = env_str("LLM_API_KEY", "")  # many local servers need none
_LLM_PROVIDERS = {
    "anthropic": ({"kind": "anthropic", "model": ANTHROPIC_MODEL, "api_key": ANTHROPIC_API_KEY,
                   "base_url": ANTHROPIC_BASE_URL}, {"ANTHROPIC_API_KEY": ANTHROPIC_API_KEY}),
    "openai": ({"kind": "openai", "model": OPENAI_MODEL, "api_key": OPENAI_API_KEY, "base_url": OPENAI_BASE_URL},
               {"OPENAI_API_KEY": OPENAI_API_KEY}),
    "local": ({"kind": "openai-compatible", "model": LLM_MODEL, "api_key": LLM_API_KEY, "base_url": LLM_BASE_URL},
              {"LLM_BASE_URL": LLM_BASE_URL, "LLM_MODEL": LLM_MODEL}),
}
HUBCHAT_PROVIDERS: list[dict] = []
for _name in env_list("HUBCHAT_PROVIDERS", []):
    _name = {"openai-compatible": "local"}.get(_name.lower(), _name.lower())
    if _name not in _LLM_PROVIDERS:
        raise ImproperlyConfigured(f"HUBCHAT_PROVIDERS: {_name!r} is not one of anthropic, openai, local.")
    _provider, _needed = _LLM_PROVIDERS[_name]
    if _missing := [variable for variable, value in _needed.items() if not value]:
        raise ImproperlyConfigured(f"HUBCHAT_PROVIDERS names {_name}: set {' and '.join(_missing)}.")
    if not re.match(r"https?://[^/\s]+", _provider["base_url"]):
        raise ImproperlyConfigured(f"The base URL of the {_name} LLM provider must be an http(s) URL.")
    HUBCHAT_PROVIDERS.append(_provider)
# Seconds one LLM call may take in all (connect, send, wait, read), and a whole planning or
# answer (every provider tried in turn); then the built-in planner or the template answers.
HUBCHAT_LLM_TIMEOUT_SECONDS = float(env_decimal("HUBCHAT_LLM_TIMEOUT_SECONDS", "20"))
HUBCHAT_LLM_BUDGET_SECONDS = float(env_decimal("HUBCHAT_LLM_BUDGET_SECONDS", "45"))
if not 0 < HUBCHAT_LLM_TIMEOUT_SECONDS <= HUBCHAT_LLM_BUDGET_SECONDS:
    raise ImproperlyConfigured("HUBCHAT_LLM_TIMEOUT_SECONDS must be positive and at most HUBCHAT_LLM_BUDGET_SECONDS.")
HUBCHAT_LLM_MAX_TOKENS = env_int("HUBCHAT_LLM_MAX_TOKENS", 4096, minimum=256)
# Longer requests go to the built-in planner: an LLM would have to copy the text into the plan.
HUBCHAT_LLM_MAX_QUERY_CHARS = env_int("HUBCHAT_LLM_MAX_QUERY_CHARS", 20_000, minimum=1000)
HUBCHAT_MAX_PROVIDER_KEYS = 10  # a user's own provider keys
# Secrets that encrypt users' provider keys at rest (comma-separated: the first encrypts, all
# decrypt, so a new one can be rotated in). Empty: derived from SECRET_KEY (accounts.models.field_fernet).
FIELD_ENCRYPTION_KEY = env_list("FIELD_ENCRYPTION_KEY", [])

# --- Hosted agents' sandbox (orchestration/sandbox) -----------------------------
# Limits of one run of an uploaded package; a try's own deadline may cut the wall time shorter.
SANDBOX_CPU_SECONDS = env_int("SANDBOX_CPU_SECONDS", 10, minimum=1)
SANDBOX_MEMORY_MB = env_int("SANDBOX_MEMORY_MB", 256, minimum=32)  # address space, not only what is touched
SANDBOX_WALL_SECONDS = env_int("SANDBOX_WALL_SECONDS", 30, minimum=1)
SANDBOX_FILE_MB = env_int("SANDBOX_FILE_MB", 16, minimum=1)
SANDBOX_MAX_PROCESSES = env_int("SANDBOX_MAX_PROCESSES", 32, minimum=1)
SANDBOX_MAX_OPEN_FILES = env_int("SANDBOX_MAX_OPEN_FILES", 64, minimum=16)
SANDBOX_OUTPUT_BYTES = 1024 * 1024  # the largest answer read back, like AGENT_MAX_RESPONSE_BYTES
SANDBOX_PACKAGE_MB = env_int("SANDBOX_PACKAGE_MB", 10, minimum=1)
SANDBOX_UNPACKED_MB = env_int("SANDBOX_UNPACKED_MB", 50, minimum=1)
SANDBOX_MAX_PACKAGE_FILES = env_int("SANDBOX_MAX_PACKAGE_FILES", 1000, minimum=1)
# "namespaces" refuses to run an agent where the kernel will not give it pid, network and mount
# namespaces; "auto" falls back to an in-interpreter audit hook there (logged); "audit" always does.
SANDBOX_ISOLATION = env_choice("SANDBOX_ISOLATION", "auto" if DEBUG else "namespaces",
                               ["auto", "namespaces", "audit"])
# Running as root, each run gets a uid of its own from this range (no account may use it).
SANDBOX_UID_BASE = env_int("SANDBOX_UID_BASE", 61000, minimum=1000)
SANDBOX_UID_COUNT = env_int("SANDBOX_UID_COUNT", 4000, minimum=1)
SANDBOX_HIDE_PATHS = env_list("SANDBOX_HIDE_PATHS", [])  # more folders agents must not see

# --- Money and Stripe ---------------------------------------------------------
PLATFORM_FEE_PERCENT = env_decimal("PLATFORM_FEE_PERCENT", "10")
if not 0 <= PLATFORM_FEE_PERCENT <= 100:
    raise ImproperlyConfigured("PLATFORM_FEE_PERCENT must be between 0 and 100.")
# Seed 004's dynamic price: base price x (1 + factor x load); 0.5 makes a fully loaded agent cost 50 % more.
DYNAMIC_PRICE_LOAD_FACTOR = float(env_decimal("DYNAMIC_PRICE_LOAD_FACTOR", "0.5"))
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "")  # a local fake Stripe in tests
# Card top-ups, in BB (1 BB = 1 USD): whole cents between these bounds.
TOP_UP_MIN = env_decimal("TOP_UP_MIN", "5")
TOP_UP_MAX = env_decimal("TOP_UP_MAX", "1000")
if not 0 < TOP_UP_MIN <= TOP_UP_MAX or (TOP_UP_MIN * 100) % 1 or (TOP_UP_MAX * 100) % 1:
    raise ImproperlyConfigured("TOP_UP_MIN and TOP_UP_MAX must be whole cents, with 0 < TOP_UP_MIN <= TOP_UP_MAX.")
# Reconciliation re-reads payments still pending from Stripe for this long after they were made.
STRIPE_RECONCILE_LOOKBACK = timedelta(days=3)

# --- API ----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "agenthub.api.renderers.ApiJSONRenderer",
        "agenthub.api.renderers.ApiBrowsableRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "agenthub.api.parsers.ApiJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.throttling.AnonThrottle",
        "accounts.throttling.UserThrottle",
        "accounts.throttling.ApiKeyThrottle",
    ],
    # Requests per client per second/minute/hour/day; "off" (the default while DEBUG is on) turns one off.
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("API_THROTTLE_ANON", "off" if DEBUG else "300/minute"),
        "user": env_str("API_THROTTLE_USER", "off" if DEBUG else "1200/minute"),
        "api_key": env_str("API_THROTTLE_API_KEY", "off" if DEBUG else "1200/minute"),
        "auth": env_str("API_THROTTLE_AUTH", "off" if DEBUG else "30/hour"),  # endpoints that send email
    },
    "DEFAULT_PAGINATION_CLASS": "agenthub.api.pagination.ArrayLimitOffsetPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "agenthub.api.exceptions.api_exception_handler",
    "PAGE_SIZE": 50,
    "COERCE_DECIMAL_TO_STRING": False,  # money is a JSON number with its exact decimal digits
}
# Contents of these fields are user data (JSON Schemas, free-form config): their keys
# are never rewritten between camelCase and snake_case.
# Values that belong to agents and users, passed through in both dialects without renaming keys.
API_OPAQUE_FIELDS = ("config_schema", "configSchema", "preferences", "input_data", "inputData",
                     "output_data", "outputData", "config", "input", "output", "payload", "result")
for _scope, _rate in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].items():
    if _rate.strip().lower() != "off" and not re.fullmatch(r"\s*\d+\s*/\s*(s|m|h|d)[a-z]*\s*", _rate, re.I):
        raise ImproperlyConfigured(f"API_THROTTLE_{_scope.upper()} must be like 100/minute or off, got {_rate!r}.")
# Access tokens live five minutes at most; a refresh token lives JWT_REFRESH_TOKEN_DAYS since its
# last use (each refresh rotates it). Tokens name their login session; ending it ends them all.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_TOKEN_DAYS", 7, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "ALGORITHM": "HS256",
    "AUTH_TOKEN_CLASSES": ("accounts.tokens.AccessToken",),
    "TOKEN_TYPE_CLAIM": "token_type",
    "LEEWAY": 0,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AgentHub API",
    "ENUM_NAME_OVERRIDES": {
        "AgentStatusEnum": "marketplace.choices.AgentStatus",
        "ExecutionStatusEnum": "orchestration.models.ExecutionStatus",
        "HiringStatusEnum": "marketplace.models.Hiring.Status",
        "MessageRoleEnum": "orchestration.models.Message.Role",
        "UserRoleEnum": "accounts.choices.Role",
        "TaskStatusEnum": "orchestration.models.TaskStatus",
        "TaskStepStatusEnum": "orchestration.models.StepStatus",
    },
    "DESCRIPTION": "The AgentHub marketplace API. Paths under /api/ speak camelCase; "
    "the same resources under /api/v1/ speak snake_case.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/",
    "PREPROCESSING_HOOKS": ["agenthub.api.schema.exclude_snake_case_dialect"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "drf_spectacular.contrib.djangorestframework_camel_case.camelize_serializer_fields",
        "agenthub.api.schema.strip_trailing_slashes",
    ],
    "CAMELIZE_NAMES": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging, metrics ---------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
# When set, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "agenthub.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            # JSON lines with tokens, API keys, passwords and Stripe secrets masked.
            "()": "accounts.log_redaction.RedactingJsonFormatter",
            "format": "%(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601, UTC
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Drop Django's default handlers (they would print these a second time, as plain text);
        # its records reach the root's JSON handler.
        "django": {"handlers": [], "level": "INFO"},
        "django.db.backends": {"level": "INFO"},
        "django.server": {"level": "WARNING"},
    },
}
