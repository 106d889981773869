"""Test settings: the real settings module with the test-only differences, set through the same
environment variables a deployment would use. Tests get their own database (pytest-django's
test_<name>) and their own Redis database number, so they never touch development data."""

import os
from pathlib import Path

from saas.env import load_dotenv, redis_url_with_db

load_dotenv(Path(__file__).resolve().parent.parent / ".dev" / "env")
os.environ["DEBUG"] = "0"
os.environ["SECRET_KEY"] = "tests-only-7Qv2mZ9pX4kL8wR1nB6tY3hJ0sD5fG8aC2eV7uI9oP4lK1jH6gF3dS0"
os.environ["SECURE_SSL_REDIRECT"] = "0"
os.environ["SITE_PORT"] = ""
os.environ["REDIS_URL"] = redis_url_with_db(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    int(os.environ.get("TEST_REDIS_DB", "15")),
)

# Short limits so worker tests (time limits, redelivery) finish quickly.
os.environ.setdefault("CELERY_TASK_SOFT_TIME_LIMIT_S", "20")
os.environ.setdefault("CELERY_TASK_TIME_LIMIT_S", "25")
os.environ.setdefault("CELERY_MAX_TASK_DELAY_S", "10")
os.environ.setdefault("CELERY_VISIBILITY_TIMEOUT_S", "30")
os.environ.setdefault("TENANT_FANOUT_WINDOW_S", "4")
# The reconciler's clock, shortened (its defaults take about a minute to act).
os.environ.setdefault("JOBS_HEARTBEAT_INTERVAL_S", "1")
os.environ.setdefault("JOBS_HEARTBEAT_TTL_S", "3")
os.environ.setdefault("JOBS_RECONCILE_GRACE_S", "3")
os.environ.setdefault("JOBS_RECONCILE_INTERVAL_S", "2")
os.environ.setdefault("JOBS_DB_RETRY_S", "6")
os.environ.setdefault("BEAT_SEND_RETRY_S", "0")
# A job of a tenant being restored looks again after this (seconds): tests wait for it.
os.environ.setdefault("RESTORING_DEFER_S", "1")
# Whole files are streamed by Python in tests (the path with the hashing and byte counting);
# the sendfile hand-off has its own test (tests/artifacts/test_serving.py).
os.environ.setdefault("ARTIFACTS_SENDFILE", "0")
# Alert rules are tested by calling them; no background process evaluates them in the suite.
os.environ.setdefault("ALERTS_ENABLED", "0")

from saas.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, tests only
ALLOWED_HOSTS = ["localhost", ".localhost", "testserver"]
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False

# Beat processes started by the tests check that a schedule names a registered tenant task:
# they register the test suite's tasks too.
CELERY_IMPORTS = ["tests.worker_tasks"]
