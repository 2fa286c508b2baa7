"""Settings: every value comes from an environment variable with an embedded default.

The defaults run everything on one machine with nothing installed but Python: SQLite, media and
index files under ``var/``, and Celery's filesystem broker. Production sets ``DATABASE_URL``,
``REDIS_URL``, ``SECRET_KEY``, ``DEBUG=0`` and ``ALLOWED_HOSTS`` (see README.md).
"""

import json
import os
from pathlib import Path

import dj_database_url


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # SQLite, media and the default broker live here

DEBUG = env_bool("DEBUG", True)
# The embedded key is only for a machine that runs the demo; production must set SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY") or "insecure-demo-key-set-SECRET_KEY-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "catalog",
    "encoders",
    "recommender",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,  # a kept connection that the server dropped is replaced before it is used
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file in the demo: WAL and immediate transactions
    # let them write without "database is locked" errors.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not memory, so that a test's live server and its real Celery worker share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Django serves MEDIA_ROOT itself only with DEBUG or SERVE_MEDIA=1 (the demo). Production leaves this off and serves
# media from the web server or shared storage (see README.md).
SERVE_MEDIA = env_bool("SERVE_MEDIA", False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"

# The currency of every price in the catalog (ISO 4217): pages show it, the API names it beside the amount.
CURRENCY = (os.environ.get("CURRENCY") or "EUR").strip().upper()

# Images (product photos here; shoppers' uploads later use the same limits).
IMAGE_MAX_BYTES = int(os.environ.get("IMAGE_MAX_BYTES", 10 * 1024 * 1024))
IMAGE_MAX_PIXELS = int(os.environ.get("IMAGE_MAX_PIXELS", 40_000_000))
THUMBNAIL_SIZE = 256
# File parts are limited while they stream (config/upload_handlers.py) and kept in memory, never spooled to disk;
# Django's DATA_UPLOAD_MAX_MEMORY_SIZE counts only the other fields, which are small.
FILE_UPLOAD_HANDLERS = [
    "config.upload_handlers.ImageSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
]
FILE_UPLOAD_MAX_MEMORY_SIZE = IMAGE_MAX_BYTES + 1
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# Co-view: products viewed in one session within this window are paired.
COVIEW_WINDOW_MINUTES = int(os.environ.get("COVIEW_WINDOW_MINUTES", "30"))
# "Goes well with" ranks each candidate by its learned cosine plus COMPLEMENT_PAIR_WEIGHT x ln(1 + the number of
# rooms, sets or orders that held both products), counting a pair once at least COVIEW_MIN_SESSIONS held it (it
# trains the encoder from the first one; raise it where one order is weak evidence). Viewed-together pairs
# (alternatives, mostly) never count there, and staff pins always come first. The name is older than the kinds.
COVIEW_MIN_SESSIONS = int(os.environ.get("COVIEW_MIN_SESSIONS", "1"))
COMPLEMENT_PAIR_WEIGHT = float(os.environ.get("COMPLEMENT_PAIR_WEIGHT", "1.0"))
# How long a process may keep the set of categories that never go together before reading it again.
CATEGORY_EXCLUSIONS_CACHE_SECONDS = 60
COVIEW_SESSION_VIEWS = 50  # a view is paired with at most this many of the session's latest views in the window

# Celery. Without REDIS_URL / CELERY_BROKER_URL the broker is a folder under var/.
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_FOLDER = VAR_DIR / "celery-broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),  # else kombu writes ./control
        "store_processed": False,
        "polling_interval": 0.1,  # the default (1 s) would add up to a second to every upload
    }
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A message unacknowledged for this long is delivered again: longer than the longest task (a retrain, 3 h),
    # so a running retrain is never handed to a second worker. Lost uploads are the reaper's job, not this.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}
# Celery's Django fixup closes the database connection around every task unless this is set, so every upload
# (and every delivery of a batched upload) waited for a new connection. Workers instead keep their connection as
# the web process does (DB_CONN_MAX_AGE, health-checked): config/celery.py closes an old or broken one around each
# task with Django's close_old_connections (tests/recommender/test_worker_connections.py).
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_IGNORE_RESULT = True  # job state lives in the database, never only in Celery
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Encoders. Trained versions live under MODELS_ROOT/<version>/.
MODELS_ROOT = Path(os.environ.get("MODELS_ROOT", VAR_DIR / "models"))
ENCODER_CACHE_DIR = Path(os.environ.get("ENCODER_CACHE_DIR", VAR_DIR / "cache" / "encoder"))
TORCH_THREADS = int(os.environ.get("TORCH_THREADS", "2"))
# A worker's claim on the CPU (recommender.cpu_priority): "normal", or "idle" for the background workers that share
# a machine with the upload worker (product encodes, the pieces of room photos, retraining): they then run only on
# CPU time that nothing else wants.
WORKER_CPU_PRIORITY = os.environ.get("WORKER_CPU_PRIORITY", "normal")
if WORKER_CPU_PRIORITY not in ("normal", "idle"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"WORKER_CPU_PRIORITY must be normal or idle, not {WORKER_CPU_PRIORITY!r}")
# Overrides of the default EncoderConfig for scheduled retraining, as JSON, e.g. '{"epochs": 20}'.
ENCODER_CONFIG = json.loads(os.environ.get("ENCODER_CONFIG") or "{}")
_shared_data = BASE_DIR.parent / "shared" / "data"
# Room photos composited behind products for in-the-wild training: a rooms.json (its TRAIN rooms' photos).
ENCODER_BACKGROUNDS = os.environ.get("ENCODER_BACKGROUNDS", str(_shared_data / "ikea" / "rooms.json"))
ENCODER_BACKGROUNDS_SPLIT = os.environ.get("ENCODER_BACKGROUNDS_SPLIT", "train")
# What retraining measures a new version on before promoting it (empty: promotion compares nothing).
EVALUATION_QUERIES = os.environ.get("EVALUATION_QUERIES", str(_shared_data / "webphotos"))
EVALUATION_ROOMS = os.environ.get("EVALUATION_ROOMS", str(_shared_data / "ikea" / "rooms.json"))
EVALUATION_SPLIT = os.environ.get("EVALUATION_SPLIT", "dev")
# The share of products (by category) a second model trains without, to measure how the encoder does on products
# it never saw ("held-out P@10", "held-out room hit@10"); the gate reads those in place of loo. 0 turns it off.
EVALUATION_HOLDOUT = float(os.environ.get("EVALUATION_HOLDOUT", "0.2"))
# A new version is promoted unless a figure is worse than the live one's beyond its 95 % interval (the rule:
# encoders.intervals.figure_is_worse); a difference of at most this never counts, whatever the intervals.
PROMOTION_TOLERANCE = float(os.environ.get("PROMOTION_TOLERANCE", "0.0"))

# The Annoy index: versioned directories and the ACTIVE pointer under INDEX_ROOT.
INDEX_ROOT = Path(os.environ.get("INDEX_ROOT", VAR_DIR / "index"))
INDEX_TARGET_RECALL = float(os.environ.get("INDEX_TARGET_RECALL", "0.95"))
INDEX_RELOAD_SECONDS = float(os.environ.get("INDEX_RELOAD_SECONDS", "1"))
# Products saved since the index was built are searched exactly (the fresh set); past this many, the periodic
# reconcile job folds them into a rebuilt index. It also queues at most RECONCILE_BATCH encodes per run.
FRESH_SET_MAX = int(os.environ.get("FRESH_SET_MAX", "20000"))
RECONCILE_BATCH = int(os.environ.get("RECONCILE_BATCH", "5000"))

# Uploads. A worker that died mid-task leaves an upload "processing"; the reaper requeues or fails it.
# Above encode_upload's hard time limit (90 s): no live delivery can still be working on an older one.
UPLOAD_STALE_SECONDS = int(os.environ.get("UPLOAD_STALE_SECONDS", "120"))
UPLOAD_MAX_ATTEMPTS = int(os.environ.get("UPLOAD_MAX_ATTEMPTS", "3"))
# Uploads queued together share one backbone batch of at most this many photos (1: each is answered alone).
UPLOAD_BATCH_MAX = max(1, int(os.environ.get("UPLOAD_BATCH_MAX", "4")))
# Uploads are stored re-encoded at most this many pixels a side (upright, no metadata): enough for a marked box.
UPLOAD_MAX_SIDE = int(os.environ.get("UPLOAD_MAX_SIDE", "1600"))
RECOMMENDATIONS_PER_PAGE = 12
# What a photo looks like, by the encoder's category head: the most guesses the results page and the API show per
# upload (most likely first; the page names the first and offers the next), and how the answer uses them:
# "prior" (a confident "sofa" photo answered with sofas, an unsure one with a mix; encoders/category_ranking.py)
# or "none" (similarity alone).
CATEGORY_GUESSES = int(os.environ.get("CATEGORY_GUESSES", "5"))
CATEGORY_RANKING = os.environ.get("CATEGORY_RANKING", "prior")
# The most pieces of furniture the worker looks for in each photo (encoders/piece_finder.py), each answered with
# its own lookalikes for "Shop the room"; 0 looks for none. Measured in the README, "Everything in this room, with
# what goes with it".
ROOM_PIECES = int(os.environ.get("ROOM_PIECES", "10"))
# Where each piece's search vector comes from: "window" (the box's part of the one pass that found the pieces) or
# "crop" (its box cut from the photo and passed through the backbone again, one batch for all the pieces: a few
# more of the room's products among the pieces' answers, for about three times the finder's cost). Measured in the
# README, "Pieces of a room photo".
ROOM_PIECE_VECTORS = os.environ.get("ROOM_PIECE_VECTORS", "window")
if ROOM_PIECE_VECTORS not in ("crop", "window"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"ROOM_PIECE_VECTORS must be crop or window, not {ROOM_PIECE_VECTORS!r}")

# Workers: shoppers' uploads alone on "default"; "what the model sees" of an upload, drawn only when staff ask, and
# the pieces of each photo (the room answer, found after the shopper has the first answer) on "pictures"; product
# encodes on "products" (a bulk import never waits in front of a shopper); retraining on "training", one at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_PROC_ALIVE_TIMEOUT = 60  # a new pool process loads torch and the encoder before it says it is up
CELERY_WORKER_MAX_MEMORY_PER_CHILD = int(os.environ.get("WORKER_MAX_MEMORY_KB", str(3 * 1024 * 1024)))
CELERY_TASK_ROUTES = {
    "recommender.tasks.retrain": {"queue": "training"},
    "recommender.tasks.make_live": {"queue": "training"},
    "recommender.tasks.rebuild_index": {"queue": "training"},
    "recommender.tasks.reconcile_catalog": {"queue": "products"},
    "recommender.tasks.fail_interrupted_trainings": {"queue": "products"},
    "recommender.tasks.encode_product": {"queue": "products"},
    "recommender.tasks.draw_upload": {"queue": "pictures"},
    "recommender.tasks.find_upload_pieces": {"queue": "pictures"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The pipeline lock's lease: renewed every 30 s while a run is alive, so it only runs out after a crash.
RETRAIN_LOCK_SECONDS = int(os.environ.get("RETRAIN_LOCK_SECONDS", "600"))

# Privacy: shoppers' photos are deleted this many days after upload by a scheduled job.
UPLOAD_RETENTION_DAYS = int(os.environ.get("UPLOAD_RETENTION_DAYS", "30"))
# Uploads per client (IP address) per minute, through the form and the API together.
UPLOAD_RATE_LIMIT_PER_MINUTE = int(os.environ.get("UPLOAD_RATE_LIMIT_PER_MINUTE", "20"))
# "Good match" / "Not this" answers, and product views recorded as co-view data, per client per minute.
FEEDBACK_RATE_LIMIT_PER_MINUTE = int(os.environ.get("FEEDBACK_RATE_LIMIT_PER_MINUTE", "30"))
VIEW_RATE_LIMIT_PER_MINUTE = int(os.environ.get("VIEW_RATE_LIMIT_PER_MINUTE", "60"))
# Behind a proxy that sets X-Forwarded-For, the client is its last address: set TRUSTED_PROXY_COUNT=1.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

# The cache holds rate-limit counters: Redis when there is one, so that every web process shares them.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# Production hardening (DEBUG=0): HTTPS only, secure cookies, HSTS. `manage.py check --deploy` is clean.
if not DEBUG:
    if SECRET_KEY.startswith("insecure-"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("Set SECRET_KEY in the environment: DEBUG=0 never runs on the demo key.")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    # Only a site served over plain HTTP on this machine (`make demo`, with SECURE_SSL_REDIRECT=0) turns these off.
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Publishing a task gives up quickly when the broker is down (the upload stays queued; the reaper resends it).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
