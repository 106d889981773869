"""The one settings module, read from the environment (see README "Configuration")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery.schedules import crontab

from saas.env import (
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_str,
    load_dotenv,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# Written by `make up` / `make test`: URLs of the services they found or started.
load_dotenv(BASE_DIR / ".dev" / "env")

DEBUG = env_bool("DEBUG", False)

_DEV_SECRET = "dev-only-secret-key-never-used-in-production-0123456789abcdef"
# Required without DEBUG: env_str raises when there is no default.
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEBUG else None)

# Tenants live at <slug>.<BASE_DOMAIN>; the public domain (staff admin) is BASE_DOMAIN itself.
BASE_DOMAIN = env_str("BASE_DOMAIN", "localhost").lower().strip(".")
# How links to tenant domains are built in emails and the admin (port only in development).
SITE_SCHEME = env_str("SITE_SCHEME", "http" if DEBUG else "https")
SITE_PORT = env_str("SITE_PORT", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [BASE_DOMAIN, f".{BASE_DOMAIN}"])

DATABASES = {
    "default": {
        **database_from_url(env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/saas")),
        # A server-side connection pooler must run in *session* mode: in transaction mode the
        # `SET search_path` that selects the tenant leaks between clients (docs/architecture.md).
        "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 60, minimum=0),
        "CONN_HEALTH_CHECKS": True,
    }
}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

# --- Tenancy -------------------------------------------------------------------------------
# Public schema: who the tenants are, who the people are, and what staff did. A tenant schema:
# that tenant's own data. See docs/architecture.md for why each app sits where it does.
SHARED_APPS = [
    "django_tenants",
    "tenants",
    "accounts",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    # Staff two-factor sign-in (backoffice/two_factor.py): authenticator apps, recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # The admin's theme (both admin sites); before django.contrib.admin so its templates win.
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "django.contrib.admin",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "schedules",
    "backoffice",
    "jobs",
    "beat",
    "backups",
    "portal",
    "usersessions",  # staff sessions (public)
    # The registry of every file the platform makes, share links and the download audit
    # (public: they outlive a broken or deleted schema; the bytes are in STORAGES["artifacts"]).
    "artifacts",
    # Import and export of a tenant's data: the runs (public, like the artifacts they point at).
    "dataport",
    "console",
]
TENANT_APPS = [
    "usersessions",  # portal sessions (each tenant's own)
    "django_celery_beat",
    "schedules",
    "reports",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "saas.urls_public"
ROOT_URLCONF = "saas.urls_tenant"
# Issue `SET search_path` only when the schema changes, not before every query (django-tenants
# resets it after a rollback, so a stale path cannot survive one).
TENANT_LIMIT_SET_CALLS = True
TENANT_MULTIPROCESSING_MAX_PROCESSES = env_int("MIGRATE_PARALLEL", 2, minimum=1)
# How long a provisioning template stays valid is decided by the migration state, not by time.
TENANT_TEMPLATE_PG_DUMP = env_str("PG_DUMP", "") or None

MIDDLEWARE = [
    # /healthz on every domain, before any database access; NUL bytes refused (400).
    "saas.middleware.HealthMiddleware",
    "saas.middleware.NulByteMiddleware",
    # Selects the schema from the Host header; must run before anything touches the database.
    "django_tenants.middleware.main.TenantMainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's and the portal's CSS and scripts) served by the app itself in
    # production, from STATIC_ROOT (the image runs collectstatic): no web server needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "usersessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): signed in with a second factor in this session.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.TenantAccessMiddleware",
    # Last, so the whole view *and* the template rendering run inside the tenant's schema.
    "console.tenant_scope.TenantAdminScopeMiddleware",
]

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
    }
]

WSGI_APPLICATION = "saas.wsgi.application"
ASGI_APPLICATION = "saas.asgi.application"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sessions of our own (usersessions): who, from where, since when, in the schema of the domain.
SESSION_ENGINE = "usersessions.engine"
# Staff (public schema) sessions older than this many days are ended, active or not; 0: no
# limit beyond the normal expiry. Tenants set theirs on the tenant (admin).
STAFF_SESSION_MAX_AGE_DAYS = env_int("STAFF_SESSION_MAX_AGE_DAYS", 0, minimum=0)
LOGIN_URL = "portal:login"
# The issuer shown in staff members' authenticator apps.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", f"Backoffice {BASE_DOMAIN}")
# A path, not a URL name: "/" is the portal home on a tenant's domain and redirects to the
# admin on the platform domain (the portal's names do not exist in the public URLconf).
LOGIN_REDIRECT_URL = "/"

# Sign-in throttling: this many failures per (tenant, username) or per IP within the window.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_FAILURE_WINDOW_S = env_int("LOGIN_FAILURE_WINDOW_S", 900, minimum=1)
# Reverse proxies in front of the app whose X-Forwarded-For is trusted (0: use REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# The admin's theme, django-unfold (docs/architecture.md, "The admin"). Two settings, one per
# admin site (backoffice/sites.py): the sidebars differ, the look is the same.
UNFOLD: dict[str, Any] = {
    "SITE_TITLE": "Backoffice",
    "SITE_HEADER": "SaaS backoffice",
    "SITE_SUBHEADER": "Platform",
    "SITE_SYMBOL": "hub",
    "SITE_URL": "/admin/",
    "SHOW_VIEW_ON_SITE": False,  # tenant pages open through their own links, never "View site"
    "SHOW_HISTORY": True,
    "BORDER_RADIUS": "6px",
    "STYLES": ["/static/console/admin.css"],
    "SCRIPTS": ["/static/console/admin.js"],
    "SITE_FAVICONS": [{"rel": "icon", "type": "image/svg+xml", "href": "/favicon.svg"}],
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "console.navigation.platform_sidebar",
    },
}
UNFOLD_TENANT = {
    **UNFOLD,
    "SITE_SUBHEADER": "Tenant admin",
    "SITE_SYMBOL": "apartment",
    "SIDEBAR": {**UNFOLD["SIDEBAR"], "navigation": "console.navigation.tenant_sidebar"},
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))

# --- Artifacts (docs/architecture.md, flow 4) -----------------------------------------------
# Every file the platform makes (reports, backups, exports) is stored through
# STORAGES["artifacts"]: a private directory that no web server serves (ARTIFACTS_ROOT), or an
# S3-compatible bucket when ARTIFACTS_S3_BUCKET is set. Never served by URL: downloads go
# through artifacts.serving, which checks, audits, and then streams, hands the file to nginx
# (X-Accel-Redirect) or redirects to a one-minute presigned URL.
ARTIFACTS_ROOT = Path(env_str("ARTIFACTS_ROOT", str(BASE_DIR / "var" / "artifacts")))
ARTIFACTS_S3_BUCKET = env_str("ARTIFACTS_S3_BUCKET", "")
_ARTIFACTS_S3_OPTIONS: dict[str, Any] = {
    "bucket_name": ARTIFACTS_S3_BUCKET,
    # Empty: boto3's own chain (instance role, AWS_* variables, ~/.aws).
    "access_key": env_str("ARTIFACTS_S3_ACCESS_KEY_ID", "") or None,
    "secret_key": env_str("ARTIFACTS_S3_SECRET_ACCESS_KEY", "") or None,
    "endpoint_url": env_str("ARTIFACTS_S3_ENDPOINT_URL", "") or None,
    "region_name": env_str("ARTIFACTS_S3_REGION", "") or None,
    "addressing_style": env_str("ARTIFACTS_S3_ADDRESSING_STYLE", "") or None,
    "default_acl": None,  # private: the bucket's own policy, never public-read
    "file_overwrite": False,
    "querystring_auth": True,
    "signature_version": "s3v4",  # presigned URLs carry X-Amz-Expires (SigV2's are dated)
    # A presigned download URL is issued only after every check, and lives one minute.
    "querystring_expire": 60,
}
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "artifacts": (
        {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _ARTIFACTS_S3_OPTIONS}
        if ARTIFACTS_S3_BUCKET
        else {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": ARTIFACTS_ROOT, "base_url": None,
                        "file_permissions_mode": 0o640, "directory_permissions_mode": 0o750},
        }
    ),
}  # fmt: skip
# The internal nginx location that serves ARTIFACTS_ROOT (deploy/nginx/artifacts.conf): set,
# Python checks and audits, then answers with X-Accel-Redirect and nginx sends the bytes.
ARTIFACTS_X_ACCEL_LOCATION = env_str("ARTIFACTS_X_ACCEL_LOCATION", "")
# Without nginx, a whole file on local disk goes out through the web server's sendfile
# (wsgi.file_wrapper: gunicorn) at bare FileResponse speed; Python then never sees the bytes,
# so their checksum is the scrub's to check. Range requests are always streamed by Python.
ARTIFACTS_SENDFILE = env_bool("ARTIFACTS_SENDFILE", True)
# Each tenant's storage quota unless its own is set on the tenant (admin), in MB.
ARTIFACTS_QUOTA_MB = env_int("ARTIFACTS_QUOTA_MB", 5120, minimum=1)
# Backups (backups/): the platform key that wraps every tenant's backup key, an age identity
# (`age-keygen`: AGE-SECRET-KEY-1…). Set: every backup is encrypted, and a backup that cannot
# be (key malformed, tenant key missing or wrapped by another key) fails. Empty: cleartext.
BACKUP_PLATFORM_KEY = env_str("BACKUP_PLATFORM_KEY", "")
# Reports an owner may ask for from the portal per tenant and hour (staff are not limited).
REPORT_REQUESTS_PER_HOUR = env_int("REPORT_REQUESTS_PER_HOUR", 5, minimum=1)
# Owners' "Back up now" in the portal: at most this many a day per tenant.
BACKUP_REQUESTS_PER_DAY = env_int("BACKUP_REQUESTS_PER_DAY", 3, minimum=1)
# A deleted tenant's backups (and its backup key) are kept this long, then destroyed.
BACKUP_DELETED_TENANT_KEEP_DAYS = env_int("BACKUP_DELETED_TENANT_KEEP_DAYS", 90, minimum=1)
# Imports (dataport): the largest upload (JSON is parsed whole, so it has a lower bound), the
# most rows, how far an XLSX may expand, the size up to which a file is checked and applied
# inside the request (larger ones by a job with progress), and whether a members import sends
# its invitations (after its commit, in batches).
DATAPORT_MAX_MB = env_int("DATAPORT_MAX_MB", 200, minimum=1)
DATAPORT_JSON_MAX_MB = env_int("DATAPORT_JSON_MAX_MB", 20, minimum=1)
DATAPORT_MAX_ROWS = env_int("DATAPORT_MAX_ROWS", 1_000_000, minimum=1)
DATAPORT_XLSX_MAX_UNZIPPED_MB = env_int("DATAPORT_XLSX_MAX_UNZIPPED_MB", 1000, minimum=1)
DATAPORT_SYNC_MAX_KB = env_int("DATAPORT_SYNC_MAX_KB", 256, minimum=0)
DATAPORT_INVITE_ON_IMPORT = env_bool("DATAPORT_INVITE_ON_IMPORT", True)
# Tenant data exports an owner may ask for from the portal per tenant and hour.
DATAPORT_EXPORTS_PER_HOUR = env_int("DATAPORT_EXPORTS_PER_HOUR", 3, minimum=1)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "saas",
        "TIMEOUT": 300,
    }
}

# --- Email: console in development, SMTP otherwise ----------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"no-reply@{BASE_DOMAIN}")

# --- Security (production defaults; `manage.py check --deploy` passes with the README's env) -
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# Cookies only over HTTPS (off for a plain-HTTP local compose stack: SECURE_COOKIES=0).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
# /healthz answers plain HTTP probes from the load balancer / compose healthcheck.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Celery (saas/celery.py reads every CELERY_* name below) --------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_RESULT_EXPIRES = env_int("CELERY_RESULT_EXPIRES_S", 86400, minimum=60)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# Redelivery: a task is acknowledged after it ran, and requeued if its worker process died.
# A task that must not run twice opts out with acks_late=False on its decorator.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after every task unless
# this is set (then only every N tasks). Workers keep their connections as web requests do
# instead: jobs.worker.worker_connections_tidy closes one when it broke or passed CONN_MAX_AGE.
CELERY_DB_REUSE_MAX = 2**31
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT_S", 600, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT_S", 660, minimum=2)
# The longest delay any code path uses before a message is acknowledged: eta/countdown,
# retry backoff, fan-out stagger window. The visibility timeout must exceed all of them or
# Redis redelivers the message to a second worker while the first still holds it
# (saas/checks.py refuses to start otherwise).
CELERY_MAX_TASK_DELAY_S = env_int("CELERY_MAX_TASK_DELAY_S", 1800, minimum=0)
CELERY_VISIBILITY_TIMEOUT_S = env_int("CELERY_VISIBILITY_TIMEOUT_S", 3600, minimum=1)
# The longest pause between automatic retries of a task that hit a connection error.
JOBS_RETRY_BACKOFF_MAX_S = env_int(
    "JOBS_RETRY_BACKOFF_MAX_S", min(300, CELERY_MAX_TASK_DELAY_S), minimum=1
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT_S,
    # How often a worker looks for messages whose consumer died (kombu's default is about
    # every 100 s whatever the timeout): a quarter of the timeout, between 1 s and a minute.
    "unacked_restore_interval": max(1, min(60, CELERY_VISIBILITY_TIMEOUT_S // 4)),
    "unacked_restore_throttle": 1,
    "socket_connect_timeout": 2,
    "socket_timeout": 10,
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT_S}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A send while Redis is down fails within a few seconds (the request answers, the JobRun stays
# queued and the reconciler sends it once Redis is back) instead of hanging.
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("CELERY_BROKER_CONNECTION_TIMEOUT_S", 2, minimum=1)
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0.2,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_BROKER_CONNECTION_MAX_RETRIES = env_int("CELERY_BROKER_CONNECTION_MAX_RETRIES", 100)
# Two queues: a long report or backup never occupies the worker that serves short jobs.
CELERY_TASK_DEFAULT_QUEUE = "short"
# First sends go one priority step down (with Redis, 0 is served first): a job sent again after
# a fault (a killed process, a lost connection, the reconciler) goes out at
# jobs.transport.RESEND_PRIORITY and runs next, not behind the whole backlog.
CELERY_TASK_DEFAULT_PRIORITY = 3

# Task framework (jobs/).
TENANT_CACHE_TTL_S = env_int("TENANT_CACHE_TTL_S", 2, minimum=0)  # status changes seen within
# A tenant task sent while its tenant is being restored waits this long (at most
# CELERY_MAX_TASK_DELAY_S) before it looks again (jobs.base: deferred, never dropped).
RESTORING_DEFER_S = env_int("RESTORING_DEFER_S", 30, minimum=1)
# The restore's swap waits this long for transactions still holding the tenant's tables, then
# fails (the tenant untouched) rather than waiting forever (backups.restore).
RESTORE_SWAP_LOCK_TIMEOUT_S = env_int("RESTORE_SWAP_LOCK_TIMEOUT_S", 30, minimum=1)
TENANT_FANOUT_WINDOW_S = env_int("TENANT_FANOUT_WINDOW_S", 300, minimum=0)
JOBRUN_RETENTION_DAYS = env_int("JOBRUN_RETENTION_DAYS", 30, minimum=1)
# Delivery (jobs/reconcile.py): each worker's main process writes a heartbeat naming the task ids
# it holds; beat's leader re-sends, with the same task id, a tracked job that is in no queue and
# held by no live worker once it has been in its state this long.
JOBS_HEARTBEAT_INTERVAL_S = env_int("JOBS_HEARTBEAT_INTERVAL_S", 10, minimum=1)
JOBS_HEARTBEAT_TTL_S = env_int("JOBS_HEARTBEAT_TTL_S", 30, minimum=2)
JOBS_RECONCILE_INTERVAL_S = env_int("JOBS_RECONCILE_INTERVAL_S", 15, minimum=1)
JOBS_RECONCILE_GRACE_S = env_int("JOBS_RECONCILE_GRACE_S", 45, minimum=1)
# The two JobRun writes of every attempt as prepared statements (jobs/hotpath.py); 0 behind a
# pooler in transaction mode that cannot keep them (PgBouncer before 1.21).
JOBS_DB_PREPARE = env_bool("JOBS_DB_PREPARE", True)
# How long a bookkeeping write keeps trying through a lost database connection before the
# message is put back on its queue (the sum of the pauses between attempts).
JOBS_DB_RETRY_S = env_int("JOBS_DB_RETRY_S", 20, minimum=0)
# Worker processes commit without waiting for the WAL flush (on / off / local); see
# docs/architecture.md "Delivery" for why a tracked job stays exactly-once in effect.
JOBS_WORKER_SYNCHRONOUS_COMMIT = env_str("JOBS_WORKER_SYNCHRONOUS_COMMIT", "off")

# Alerts (console/alerts.py): one message per incident, by email and optionally a webhook.
ALERTS_ENABLED = env_bool("ALERTS_ENABLED", True)
ALERT_EMAILS = env_list("ALERT_EMAILS", [])
ALERT_WEBHOOK_URL = env_str("ALERT_WEBHOOK_URL", "")
ALERTS_INTERVAL_S = env_int("ALERTS_INTERVAL_S", 60, minimum=1)
ALERT_BEAT_STALE_S = env_int("ALERT_BEAT_STALE_S", 120, minimum=10)
# /healthz calls beat "stale" past this (by default when the alert rule fires).
HEALTH_BEAT_STALE_S = env_int("HEALTH_BEAT_STALE_S", ALERT_BEAT_STALE_S, minimum=10)
ALERT_WINDOW_S = env_int("ALERT_WINDOW_S", 900, minimum=60)
ALERT_FAILURES_THRESHOLD = env_int("ALERT_FAILURES_THRESHOLD", 5, minimum=1)
ALERT_QUEUE_AGE_S = env_int("ALERT_QUEUE_AGE_S", 600, minimum=10)
ALERT_REPEAT_S = env_int("ALERT_REPEAT_S", 900, minimum=0)
# A tenant using this share of its storage quota or more is an incident (console.alerts).
ALERT_STORAGE_PERCENT = env_int("ALERT_STORAGE_PERCENT", 90, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "jobruns-reap": {"task": "backoffice.tasks.jobruns_reap_task", "schedule": 60.0},
    "jobruns-prune": {"task": "backoffice.tasks.jobruns_prune_task", "schedule": 3600.0},
    # Puts back what a restore whose process died left (its tenant stuck "restoring").
    "backup-restores-recover": {"task": "backups.tasks.restores_recover_task", "schedule": 60.0},
    "schedule-changes-prune": {
        "task": "schedules.tasks.schedule_changes_prune_task",
        "schedule": 3600.0,
    },
    # Tenants' own cleanups are in their default schedules (each app's AppConfig.default_schedules).
    # Backups' retention for every tenant, then deleted tenants' backups past their keeping.
    "backups-upkeep": {
        "task": "backups.tasks.backups_upkeep_task",
        "schedule": crontab(hour=5, minute=30),
    },
    "artifacts-retention": {
        "task": "artifacts.tasks.artifacts_retention_task",
        "schedule": crontab(hour=3, minute=40),
    },
    "artifacts-scrub": {
        "task": "artifacts.tasks.artifacts_scrub_task",
        "schedule": crontab(hour=4, minute=10, day_of_week=0),
    },
    "sessions-cleanup-public": {
        "task": "usersessions.tasks.sessions_cleanup_platform_task",
        "schedule": crontab(hour=3, minute=20),
    },
}
CELERY_BEAT_SCHEDULER = "beat.scheduler:TenantScheduler"
# The beat leader's lock lives this long unless renewed; a standby takes over within about that.
BEAT_LOCK_TTL_S = env_int("BEAT_LOCK_TTL_S", 20, minimum=3)
# Stagger: each tenant's crontab and interval runs shift by a stable offset within this window
# (seconds), so a nightly job does not start in every tenant in the same second. 0 = off.
BEAT_STAGGER_WINDOW_S = env_int("BEAT_STAGGER_WINDOW_S", 0, minimum=0)
# A due run more than this late when beat (re)loads its entry counts as missed.
BEAT_MISSED_GRACE_S = env_int("BEAT_MISSED_GRACE_S", 60, minimum=5)
# After a send failed (the database or Redis away), beat tries again this many seconds later.
BEAT_SEND_RETRY_S = env_int("BEAT_SEND_RETRY_S", 5, minimum=0)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # %(tenant)s: the tenant of the task being run, "-" elsewhere (saas/logcontext.py).
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(tenant)s] %(name)s: %(message)s"}
    },
    # Expected 403s as one line, without the traceback Django logs with them.
    "filters": {"expected_forbidden": {"()": "saas.logfilters.ExpectedForbiddenFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["expected_forbidden"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
