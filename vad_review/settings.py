"""Settings, all from environment variables (SPEC §6), else from var/local.env.

The quick start (`make run`) writes var/local.env: SQLite in var/, a task queue and a cache in
files under var/ for the worker it runs beside the server, a demo scoring model. Tests and
production set DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis).
"""

import os
from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from dotenv import load_dotenv

from .env import (
    cache_from_url,
    database_from_url,
    env_bool,
    env_float,
    env_int,
    env_list,
    filesystem_broker_folders,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAD_VAR_DIR", BASE_DIR / "var"))

# --- Quick start: the local settings file ------------------------------------------------
# `make run` (scripts/quickstart.py) writes var/local.env once: a generated SECRET_KEY, DEBUG,
# the file-based broker (the cache follows it), the demo scoring model and passwords. Read here,
# so every `manage.py` command of the README works without exporting anything; variables
# already in the environment win over the file. The file is git-ignored (all of var/ is).
LOCAL_ENV_FILE = VAR_DIR / "local.env"
if LOCAL_ENV_FILE.is_file():
    load_dotenv(LOCAL_ENV_FILE, override=False)


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 for a local quick start).")
    # Only ever used with DEBUG on, on a developer's machine.
    SECRET_KEY = "django-insecure-local-quick-start-only"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "csp",
    "annotation",
    "pipeline",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: it counts failed logins (see the login throttling below).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "vad_review.urls"
WSGI_APPLICATION = "vad_review.wsgi.application"

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
                "django.template.context_processors.i18n",
                "annotation.context_processors.roles",
                "annotation.context_processors.demo_scores",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL"), var_dir=VAR_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
# Uploads of source datasets can be large; they are streamed to disk, never held in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
VAD_UPLOAD_MAX_BYTES = env_int("VAD_UPLOAD_MAX_BYTES", 2 * 1024**3)

# Sessions live in the database only: with them in the cache (cached_db), a Redis outage
# would log everyone out and fail every page (tests/pipeline/test_queue_down.py), where the
# pages must keep working and say that jobs cannot be started.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the cookie-free meta tag instead
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Behind HTTPS in production set SECURE_COOKIES=1.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Celery (SPEC §5). Tasks are acked late and re-queued when a worker dies, so the broker's
# visibility timeout must exceed the longest task, which the time limits bound.
VAD_TASKS_EAGER = env_bool("VAD_TASKS_EAGER", False)
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0"
CELERY_TASK_ALWAYS_EAGER = VAD_TASKS_EAGER
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Model work goes to workers started with -Q gpu (one per GPU); the rest to "default".
CELERY_TASK_ROUTES = {
    "pipeline.tasks.score_chunk": {"queue": "gpu"},
    "pipeline.tasks.translate_chunk": {"queue": "gpu"},
    "pipeline.tasks.evolve_chunk": {"queue": "gpu"},
}
CELERY_TASK_SOFT_TIME_LIMIT = env_int("VAD_TASK_SOFT_TIME_LIMIT", 3300)
CELERY_TASK_TIME_LIMIT = env_int("VAD_TASK_TIME_LIMIT", 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("VAD_BROKER_VISIBILITY_TIMEOUT", 2 * CELERY_TASK_TIME_LIMIT),
    # A lost worker's tasks come back after the visibility timeout plus up to
    # interval x throttle seconds (kombu's sweep of unacknowledged messages).
    "unacked_restore_interval": env_int("VAD_BROKER_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": env_int("VAD_BROKER_RESTORE_THROTTLE", 10),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker beats a running job's heart every VAD_JOB_HEARTBEAT_SECONDS; a running job without
# a beat for VAD_JOB_STALL_SECONDS is labelled stalled, and the sweep (Celery beat, every
# VAD_JOB_SWEEP_SECONDS) sends its unfinished work again or fails it (annotation.services.
# job_liveness). The stall threshold must leave room for a few missed beats.
VAD_JOB_HEARTBEAT_SECONDS = env_int("VAD_JOB_HEARTBEAT_SECONDS", 30)
VAD_JOB_STALL_SECONDS = env_int("VAD_JOB_STALL_SECONDS", 300)
VAD_JOB_SWEEP_SECONDS = env_int("VAD_JOB_SWEEP_SECONDS", 60)
if VAD_JOB_STALL_SECONDS < 2 * VAD_JOB_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "VAD_JOB_STALL_SECONDS must be at least twice VAD_JOB_HEARTBEAT_SECONDS, or a job whose "
        "worker is alive would be taken for stalled."
    )
CELERY_BEAT_SCHEDULE = {
    "sweep-stalled-jobs": {
        "task": "annotation.tasks.sweep_stalled_jobs",
        "schedule": VAD_JOB_SWEEP_SECONDS,
        # With no worker up, sweeps must not pile up in the queue.
        "options": {"expires": VAD_JOB_SWEEP_SECONDS},
    },
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

# --- Quick start: a broker and a cache in files, no Redis --------------------------------
# CELERY_BROKER_URL=filesystem:// keeps the task queue in var/broker (kombu's filesystem
# transport): the web server and the worker that `make run` starts beside it share it.
# Messages are taken off the queue when a worker reads them, so a worker killed mid-task
# loses that task (use Redis where that matters).
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS.update(filesystem_broker_folders(VAR_DIR / "broker"))

# Job progress must be visible while an import's transaction is still open, so it lives in
# the cache, which every process must see: Redis when there is a Redis broker, files
# (`file://`, var/cache, or `file:///some/folder`) beside the filesystem broker, process
# memory when tasks run in-process only.
VAD_CACHE_URL = os.environ.get("VAD_CACHE_URL") or (
    "locmem://"
    if VAD_TASKS_EAGER
    else "file://"
    if CELERY_BROKER_URL.startswith("filesystem://")
    else CELERY_BROKER_URL
)
CACHES = {
    "default": cache_from_url(
        VAD_CACHE_URL,
        files=VAR_DIR / "cache",
        prefix=os.environ.get("VAD_CACHE_PREFIX", "vad"),
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous request gets 401 with a WWW-Authenticate header.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: every API view names the role it admits.
    "DEFAULT_PERMISSION_CLASSES": ["annotation.permissions.IsAdmin"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "annotation.api.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "VAD Review API",
    "DESCRIPTION": "Import, review and export the VAD values-alignment dataset.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # The docs page's scripts are served from here, not from a CDN (closed networks).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Models and pipeline (SPEC §6).
VAD_IFD_MODEL = os.environ.get("VAD_IFD_MODEL", "")
# Models whose scores mean nothing (the quick start's random-weight demo model): every page
# that shows a score from one of these says so. Comma separated, as in VAD_IFD_MODEL.
VAD_DEMO_MODELS = [m for m in os.environ.get("VAD_DEMO_MODELS", "").split(",") if m]
# Quick start: the passwords `manage.py load_demo` gives its admin and reviewer (make run
# generates them once into var/local.env). Unset, a new demo user gets a generated password
# and an existing one keeps the password it has.
VAD_DEMO_ADMIN_PASSWORD = os.environ.get("VAD_DEMO_ADMIN_PASSWORD", "")
VAD_DEMO_REVIEWER_PASSWORD = os.environ.get("VAD_DEMO_REVIEWER_PASSWORD", "")
VAD_TRANSLATE_MODEL = os.environ.get("VAD_TRANSLATE_MODEL", "")
VAD_EVOLVE_MODEL = os.environ.get("VAD_EVOLVE_MODEL", "")
VAD_LLM_BASE_URL = os.environ.get("VAD_LLM_BASE_URL", "")
VAD_LLM_API_KEY = os.environ.get("VAD_LLM_API_KEY", "")
VAD_DEVICE = os.environ.get("VAD_DEVICE", "auto")
VAD_SCORE_CHUNK_SIZE = env_int("VAD_SCORE_CHUNK_SIZE", 256)
VAD_SCORE_BATCH_SIZE = env_int("VAD_SCORE_BATCH_SIZE", 16)
VAD_MAX_ANSWER_TOKENS = env_int("VAD_MAX_ANSWER_TOKENS", 512)
# Translation and evolution (generation jobs on the gpu queue).
VAD_GENERATION_MAX_NEW_TOKENS = env_int("VAD_GENERATION_MAX_NEW_TOKENS", 1024)
VAD_TRANSLATE_CHUNK_SIZE = env_int("VAD_TRANSLATE_CHUNK_SIZE", 32)
VAD_EVOLVE_CHUNK_SIZE = env_int("VAD_EVOLVE_CHUNK_SIZE", 16)
# When a translation is flagged for the reviewer (scoring.translation.TranslationThresholds).
VAD_TRANSLATION_MIN_LENGTH_RATIO = env_float("VAD_TRANSLATION_MIN_LENGTH_RATIO", 0.15)
VAD_TRANSLATION_MAX_LENGTH_RATIO = env_float("VAD_TRANSLATION_MAX_LENGTH_RATIO", 1.0)
VAD_TRANSLATION_MAX_REPEATS = env_int("VAD_TRANSLATION_MAX_REPEATS", 4)
VAD_TRANSLATION_MIN_DISTINCT_NGRAMS = env_float("VAD_TRANSLATION_MIN_DISTINCT_NGRAMS", 0.4)
VAD_TRANSLATION_MAX_LATIN_WORDS = env_int("VAD_TRANSLATION_MAX_LATIN_WORDS", 6)
# Evol-Instruct elimination rules switched on (scoring.evolution.ALL_RULES).
VAD_EVOLVE_RULES = env_list(
    "VAD_EVOLVE_RULES", "template_copy,no_information_gain,short_refusal,stopwords_only"
)
VAD_IMPORT_BATCH_SIZE = env_int("VAD_IMPORT_BATCH_SIZE", 2000)
VAD_IMPORT_MAX_RECORD_BYTES = env_int("VAD_IMPORT_MAX_RECORD_BYTES", 16 * 1024 * 1024)

# Generation backends for translation and evolution (scoring.generation.get_generator).
# With VAD_LLM_BASE_URL set, workers call that server's /chat/completions: at most
# VAD_LLM_CONCURRENCY requests in flight per worker process, each given VAD_LLM_TIMEOUT seconds
# to answer, retried up to VAD_LLM_MAX_RETRIES times (exponential backoff with jitter, or the
# server's Retry-After) after a connection error, a timeout, a 5xx or a 429. A local model
# generates VAD_GENERATION_BATCH_SIZE prompts at once.
VAD_LLM_CONCURRENCY = env_int("VAD_LLM_CONCURRENCY", 8)
VAD_LLM_TIMEOUT = float(os.environ.get("VAD_LLM_TIMEOUT") or 120)
VAD_LLM_MAX_RETRIES = env_int("VAD_LLM_MAX_RETRIES", 4)
VAD_GENERATION_BATCH_SIZE = env_int("VAD_GENERATION_BATCH_SIZE", 16)

# Review (SPEC §7): how long a claimed item stays with its reviewer without any action; every
# action renews it, and an expired claim returns the item to the queue.
VAD_REVIEW_LEASE_SECONDS = env_int("VAD_REVIEW_LEASE_SECONDS", 600)
# How long a reviewer's progress counts (today, this week, queue left) may be cached.
VAD_REVIEW_PROGRESS_CACHE_SECONDS = env_int("VAD_REVIEW_PROGRESS_CACHE_SECONDS", 30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Security and hostile input (issue 12): one block, kept together. ---------------------
# Parquet imports: the largest row group read, uncompressed, as the file's metadata gives it;
# a larger one refuses the file before anything is decompressed (annotation/importers/
# parquet.py). VAD_IMPORT_MAX_RECORD_BYTES above applies to each Parquet row as well.
VAD_IMPORT_MAX_ROW_GROUP_BYTES = env_int("VAD_IMPORT_MAX_ROW_GROUP_BYTES", 256 * 1024 * 1024)

# API bodies nested too deep answer 400, not 500 (annotation/api/parsers.py).
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "annotation.api.parsers.SafeJSONParser",
    "rest_framework.parsers.FormParser",
    "rest_framework.parsers.MultiPartParser",
]

# Repeated failed logins (django-axes), on both login forms: after VAD_LOGIN_FAILURE_LIMIT
# wrong passwords for one username from one address, that pair is locked out for
# VAD_LOGIN_COOLOFF_MINUTES (the page says so, with status 429). `manage.py axes_reset`
# lifts every lockout.
AUTHENTICATION_BACKENDS = [
    "annotation.auth_backends.LoginAttemptBackend",
    # Django's ModelBackend, whose users come with their review role (one query a request
    # fewer). Sessions name the backend that logged them in: ones made under the plain
    # ModelBackend (before this backend) must log in again.
    "annotation.auth_backends.RoleModelBackend",
]
AXES_FAILURE_LIMIT = env_int("VAD_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("VAD_LOGIN_COOLOFF_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
LOGGING["loggers"]["axes"] = {"level": "WARNING"}  # a line per failed login is noise
# Behind the reverse proxy (docker-compose's nginx) every request comes from the proxy: set
# VAD_BEHIND_PROXY=1 there, and the client's address, which lockouts count by, is read from
# the X-Real-IP header that nginx sets (overwriting any a client sends). Without a proxy that
# header is not trusted: anyone could send one.
VAD_BEHIND_PROXY = env_bool("VAD_BEHIND_PROXY", False)
AXES_IPWARE_PROXY_COUNT = None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_REAL_IP", "REMOTE_ADDR"] if VAD_BEHIND_PROXY else ["REMOTE_ADDR"]
)

# Mail: password reset exists only where mail can be sent (EMAIL_HOST set); without it the
# reset pages answer 404 and the login page offers no link.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "vad-review@localhost")

# Content-Security-Policy (django-csp) on every response: scripts and styles only from our
# own origin, no inline script anywhere (our pages load static/js files). The API docs page
# and DRF's browsable pages relax styles only (vad_review/urls.py, annotation/api/renderers.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
