"""Settings for smartcity-tracker.

Development and production differ only by environment variables (see README, "Configuration").
With no variables set the service runs on SQLite and an embedded file-system broker under ``var/``,
so a fresh checkout works with nothing installed; ``DATABASE_URL`` and ``CELERY_BROKER_URL`` switch
it to PostgreSQL and Redis.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from smartcity.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# Off unless set. Under pytest (which sets PYTEST_VERSION before pytest-django imports these settings,
# earlier than any conftest can act) it defaults to on, so `pytest` needs no environment.
DEBUG = env_bool("DEBUG", "PYTEST_VERSION" in os.environ)

# A development key is only acceptable while DEBUG is on; production must bring its own.
_DEV_SECRET_KEY = "dev-insecure-smartcity-tracker-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY)
if not DEBUG and (SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 32 characters when DEBUG is off."
    )

# Django's debug 404/500 pages (URL list, traceback) instead of the service's own, while DEBUG is on: for a
# developer who asks; a person trying the service under `make run` sees the pages production shows.
DEBUG_ERROR_PAGES = env_bool("DEBUG_ERROR_PAGES", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Networks webhooks may be sent to although they are not public (CIDRs): an intranet receiver, a test's
# local one. Empty in every mode: loopback, private and link-local addresses are refused by default.
WEBHOOK_ALLOWED_NETWORKS = env_list("WEBHOOK_ALLOWED_NETWORKS", [])
for _network in WEBHOOK_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"WEBHOOK_ALLOWED_NETWORKS: {_network!r} is not a network (e.g. 10.20.0.0/16)") from None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "smartcity",
    "tasks_app",
    "pilots",
]

MIDDLEWARE = [
    "smartcity.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "smartcity.middleware.ContentSecurityPolicyMiddleware",
    "smartcity.error_pages.ApiOnlyAccountsMiddleware",
    "smartcity.error_pages.ErrorPagesMiddleware",  # last: see its docstring
]

ROOT_URLCONF = "smartcity.urls"
WSGI_APPLICATION = "smartcity.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "smartcity" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'smartcity.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file in development: WAL lets readers run beside a
    # writer, IMMEDIATE transactions make writers queue instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # The test database is a file so that a real Celery worker started by a test can see it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_smartcity.sqlite3")}
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = ["smartcity.auth.lockout.LockoutModelBackend"]
LOGIN_LOCKOUT_THRESHOLD = env_int("LOGIN_LOCKOUT_THRESHOLD", 5)  # failed sign-ins per name and address…
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60)  # …within this window lock both out for it

# --- Single sign-on (OpenID Connect), off unless OIDC_ISSUER is set: see smartcity/auth/oidc.py ----------
OIDC_ISSUER = env_str("OIDC_ISSUER", "").rstrip("/")
LOCAL_PASSWORD_SIGN_IN = env_bool("LOCAL_PASSWORD_SIGN_IN", True)  # off: people sign in by SSO only; API unchanged
OIDC_RP_CLIENT_ID = env_str("OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_USERINFO_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_JWKS_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = env_str("OIDC_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("OIDC_SCOPES", "openid profile email")
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_ORGANISATION_CLAIM = env_str("OIDC_ORGANISATION_CLAIM", "organisation")  # an organisation's code
OIDC_ROLE_CLAIM = env_str("OIDC_ROLE_CLAIM", "role")  # reporter, reviewer, viewer or admin
OIDC_CLOCK_SKEW_SECONDS = env_int("OIDC_CLOCK_SKEW_SECONDS", 60)
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT_SECONDS", 10)
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_USE_NONCE = True
OIDC_CREATE_USER = True
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
OIDC_MEMBERSHIP_RESOLVER = "pilots.services.accounts.oidc_membership_assign"
LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/"
if OIDC_ISSUER:
    for _name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_AUTHORIZATION_ENDPOINT", "OIDC_TOKEN_ENDPOINT",
                  "OIDC_USERINFO_ENDPOINT", "OIDC_JWKS_ENDPOINT"):
        if not env_str(_name, ""):
            raise ImproperlyConfigured(f"OIDC_ISSUER is set, so {_name} is required too")
    AUTHENTICATION_BACKENDS = [*AUTHENTICATION_BACKENDS, "smartcity.auth.oidc.SmartcityOIDCBackend"]
elif not LOCAL_PASSWORD_SIGN_IN:
    raise ImproperlyConfigured("LOCAL_PASSWORD_SIGN_IN=false needs single sign-on: set OIDC_ISSUER and friends")

# Rate limits and lockout counts live in the cache: set CACHE_URL to Redis when several web
# processes run, or each counts on its own.
CACHE_URL = env_str("CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# A reset link (and an invitation's) works once, for this long.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT_HOURS", 24) * 3600
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language and time ------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": env_str("DEFAULT_FILE_STORAGE", "django.core.files.storage.FileSystemStorage")},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Tests and `make run` serve static files straight from the app folders, no collectstatic needed.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security (production values come from the environment; see `check --deploy`) ---------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]  # probes and scrapers use plain HTTP
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSP_PATH_PREFIXES = ["/dashboard/", "/accounts/", "/oidc/"]
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
LOGIN_URL = "login"  # the dashboard's sign-in page (/accounts/login/)
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "login"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
EVIDENCE_MAX_BYTES = env_int("EVIDENCE_MAX_BYTES", 20 * 1024 * 1024)

# --- Email ------------------------------------------------------------------------------------
# Development writes each message as a file under var/mail/; production sets EMAIL_BACKEND to
# django.core.mail.backends.smtp.EmailBackend with EMAIL_HOST and friends.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "smartcity-tracker <noreply@localhost>")

# --- Celery -----------------------------------------------------------------------------------
# The embedded default is kombu's file-system transport: worker, beat and web exchange messages
# through files under var/broker/, so `make run` needs no Redis.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),  # broadcast (inspect, ping) exchanges
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a task whose worker dies is delivered again; every task is idempotent
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "smartcity.auth.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["smartcity.auth.access.ActionPolicy"],
    "DEFAULT_PAGINATION_CLASS": "smartcity.api.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "smartcity.api.filters.StrictFilterBackend",
        "smartcity.api.filters.StrictSearchFilter",
        "smartcity.api.filters.StrictOrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["smartcity.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "smartcity.api.schema.SmartcityAutoSchema",
    "EXCEPTION_HANDLER": "smartcity.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "smartcity.api.throttling.TokenRateThrottle",
        "smartcity.api.throttling.AddressRateThrottle",
    ],
    # Client addresses come from REMOTE_ADDR unless NUM_PROXIES trusted proxies add X-Forwarded-For.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

# The quarterly bulletin is requested this many working days after each quarter's reporting deadline.
BULLETIN_WORKING_DAYS_AFTER_DEADLINE = env_int("BULLETIN_WORKING_DAYS_AFTER_DEADLINE", 1)

API_TOKEN_DEFAULT_TTL_DAYS = env_int("API_TOKEN_DEFAULT_TTL_DAYS", 30)
API_TOKEN_MAX_TTL_DAYS = env_int("API_TOKEN_MAX_TTL_DAYS", 365)
API_MAX_PAGE_SIZE = 500

# --- Retention: how long rows of the tables that only grow are kept (days), see smartcity/retention.py ---
# An Idempotency-Key is replayed for exactly as long as its record is kept.
IDEMPOTENCY_RETENTION_DAYS = env_int("IDEMPOTENCY_RETENTION_DAYS", 7)
OUTBOX_RETENTION_DAYS = env_int("OUTBOX_RETENTION_DAYS", 30)  # sent messages only; pending ones are kept
WEBHOOK_DELIVERY_RETENTION_DAYS = env_int("WEBHOOK_DELIVERY_RETENTION_DAYS", 90)
NOTIFICATION_RETENTION_DAYS = env_int("NOTIFICATION_RETENTION_DAYS", 365)  # counted from reading; unread ones stay
RETENTION_BATCH_SIZE = env_int("RETENTION_BATCH_SIZE", 2000)  # rows per delete transaction
# The sign-in record and lockouts. 网络安全法 art. 21 asks for network logs to be kept no less than six months.
SIGNIN_RETENTION_DAYS = env_int("SIGNIN_RETENTION_DAYS", 365)
if SIGNIN_RETENTION_DAYS < 183:
    raise ImproperlyConfigured(f"SIGNIN_RETENTION_DAYS={SIGNIN_RETENTION_DAYS} must be at least 183 (six months)")
for _name in ("IDEMPOTENCY_RETENTION_DAYS", "OUTBOX_RETENTION_DAYS", "WEBHOOK_DELIVERY_RETENTION_DAYS",
              "NOTIFICATION_RETENTION_DAYS", "RETENTION_BATCH_SIZE"):
    if globals()[_name] < 1:  # 0 would delete every row the moment it is written
        raise ImproperlyConfigured(f"{_name}={globals()[_name]} must be at least 1")
API_RATE_LIMITS = {
    "token": env_str("API_RATE_PER_TOKEN", "1200/min") or None,
    "ip": env_str("API_RATE_PER_IP", "3000/min") or None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "smartcity-tracker API",
    "DESCRIPTION": (
        "Tracks Sichuan's new smart city pilot programme (川数字经济办〔2020〕3号): the catalog of "
        "tasks and sub-tasks, the pilot registry, and the progress the prefecture offices report.\n\n"
        "Authenticate with `Authorization: Bearer <token>` (obtain one at `POST /api/v1/auth/token/`). "
        "Every error has the same JSON shape, `Error`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Relative: the spec describes the service that serves it, whatever host and port that is.
    "SERVERS": [{"url": "/", "description": "This service"}],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "smartcity.api.schema.nullable_with_type",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PilotStateEnum": "pilots.models.registry.Pilot.State",
        "ReportStateEnum": "pilots.models.reports.ProgressReport.State",
        "ReportStatusEnum": "pilots.models.reports.ProgressReport.Status",
        "ReminderKindEnum": "pilots.models.reminders.ReminderKind",
        "ReminderLevelEnum": "pilots.models.reminders.ReminderLevel",
        "WebhookEventEnum": "pilots.models.webhooks.WebhookEvent",
        "ForecastStatusEnum": "pilots.models.completion.ForecastStatus",
        "CalendarDayKindEnum": "smartcity.models.calendar.CalendarDay.Kind",
        "ApplicationStateEnum": "pilots.models.lifecycle.PilotApplication.State",
        "ApplicationConclusionEnum": "pilots.models.lifecycle.PilotApplication.Conclusion",
        "AcceptanceStateEnum": "pilots.models.lifecycle.Acceptance.State",
        "AcceptanceConclusionEnum": "pilots.models.lifecycle.Acceptance.Conclusion",
        "LifecycleDocumentKindEnum": "pilots.models.lifecycle.LifecycleDocument.Kind",
        "BulletinStatusEnum": "pilots.models.bulletins.Bulletin.Status",
        "BulletinKindEnum": "pilots.models.bulletins.Bulletin.Kind",
        "CatalogBasisEnum": "tasks_app.models.Basis",
        "IndicatorKindEnum": "tasks_app.models.Indicator.Kind",
        "IndicatorTargetLevelEnum": "tasks_app.models.IndicatorTarget.Level",
        "EvaluationNodeLevelEnum": "tasks_app.models.EvaluationNode.Level",
    },
}

# --- Demo data --------------------------------------------------------------------------------
DEMO_PASSWORD = env_str("DEMO_PASSWORD", "demo-pass-2020")

# --- Logging ----------------------------------------------------------------------------------
# text: a readable line; json: one JSON object per line, for a log collector (README, "Logs and metrics").
LOG_FORMAT = env_str("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be text or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "smartcity.middleware.RequestIdLogFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "smartcity.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own console handler (DEBUG only) would print its lines a second time, unformatted.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Metrics ----------------------------------------------------------------------------------
# GET /metrics (Prometheus) answers only a scraper that sends `Authorization: Bearer METRICS_TOKEN`
# or connects from one of METRICS_ALLOWED_NETWORKS (CIDRs); with neither set it answers no one.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
if METRICS_TOKEN and len(METRICS_TOKEN) < 24:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 24 characters (or empty to switch tokens off)")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", [])
try:
    METRICS_ALLOWED_NETWORKS = [str(ipaddress.ip_network(cidr, strict=False)) for cidr in METRICS_ALLOWED_NETWORKS]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {exc}") from None
