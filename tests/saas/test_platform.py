"""Settings, Celery configuration, /healthz, docker-compose and the dev bootstrap."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import get_commands
from django.test.utils import override_settings

from accounts.models import User
from saas import checks, env
from saas.celery import app as celery_app
from tests.helpers import host_client

ROOT = Path(__file__).resolve().parents[2]  # the project root

# Variables tests/settings.py sets for the test run; a production process would not have them.
TEST_ONLY_ENV = {"DEBUG", "SECRET_KEY", "SECURE_SSL_REDIRECT", "SITE_PORT"}

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-secret-that-is-long-and-random-0123456789-abcdefghijklmnop",
    "DATABASE_URL": "postgres://saas:pw@db.internal:5432/saas",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "BASE_DOMAIN": "example.com",
    "ALLOWED_HOSTS": "example.com,.example.com",
}


def run_python(code: str, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_ENV}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
        env={**clean, "DJANGO_SETTINGS_MODULE": "saas.settings", **extra_env},
    )  # fmt: skip


# --- settings readers -------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["maybe", "2", "yes please"])
def test_env_bool_refuses_nonsense(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SOME_FLAG", value)
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env.env_bool("SOME_FLAG", False)


def test_env_int_refuses_nonsense_and_below_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_INT", "ten")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env.env_int("SOME_INT", 1)
    monkeypatch.setenv("SOME_INT", "0")
    with pytest.raises(ImproperlyConfigured, match="below its minimum"):
        env.env_int("SOME_INT", 1, minimum=1)


def test_database_url_is_parsed_and_checked() -> None:
    db = env.database_from_url("postgres://u:p%40ss@h:5433/name")
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "u",
        "p@ss",
        "h",
        "5433",
        "name",
    )
    with pytest.raises(ImproperlyConfigured, match="postgres://"):
        env.database_from_url("mysql://h/db")
    with pytest.raises(ImproperlyConfigured, match="names no database"):
        env.database_from_url("postgres://h:5432/")


def test_dotenv_never_overrides_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "env"
    file.write_text("# comment\nA_SET=from-file\nA_UNSET=from-file\n")
    monkeypatch.setenv("A_SET", "explicit")
    monkeypatch.delenv("A_UNSET", raising=False)
    env.load_dotenv(file)
    assert (os.environ["A_SET"], os.environ["A_UNSET"]) == ("explicit", "from-file")
    monkeypatch.delenv("A_UNSET")


def test_without_debug_a_missing_secret_key_is_an_error() -> None:
    result = run_python("import django; django.setup()", {"DEBUG": "0", "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_a_bad_boolean_stops_start_up() -> None:
    result = run_python("import django; django.setup()", {"DEBUG": "perhaps"})
    assert result.returncode != 0 and "DEBUG='perhaps' is not a boolean" in result.stderr


def test_check_deploy_passes_with_the_documented_production_env() -> None:
    clean = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_ENV}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, capture_output=True, text=True,
        env={**clean, "DJANGO_SETTINGS_MODULE": "saas.settings", **PRODUCTION_ENV},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    readme = (ROOT / "README.md").read_text()
    for name in PRODUCTION_ENV:
        assert f"`{name}`" in readme, f"{name} is documented in the README"


# --- Celery ------------------------------------------------------------------------------------
def test_celery_is_configured_for_safe_redelivery() -> None:
    conf = celery_app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
    assert conf.task_soft_time_limit < conf.task_time_limit
    assert conf.result_expires and conf.result_backend.startswith("redis")
    assert {q.name for q in conf.task_queues} == {"short", "long", "backups"}
    assert conf.task_default_queue == "short"
    assert conf.broker_connection_retry_on_startup
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert visibility > max(settings.CELERY_MAX_TASK_DELAY_S, conf.task_time_limit)


def test_tests_use_their_own_redis_database() -> None:
    # TEST_REDIS_DB (default 15) lets concurrent runs on one machine keep apart.
    test_db = os.environ.get("TEST_REDIS_DB", "15")
    assert settings.REDIS_URL.endswith(f"/{test_db}")
    assert celery_app.conf.broker_url.endswith(f"/{test_db}")


@override_settings(CELERY_VISIBILITY_TIMEOUT_S=60, CELERY_MAX_TASK_DELAY_S=600)
def test_a_visibility_timeout_shorter_than_a_delay_is_refused() -> None:
    errors = checks.celery_visibility_timeout_check(None)
    assert [e.id for e in errors] == ["saas.E001"]


@override_settings(JOBS_RETRY_BACKOFF_MAX_S=600, CELERY_MAX_TASK_DELAY_S=300)
def test_a_retry_backoff_longer_than_the_longest_delay_is_refused() -> None:
    errors = checks.celery_visibility_timeout_check(None)
    assert [e.id for e in errors] == ["saas.E004"]


def test_every_tracked_task_backs_off_within_the_checked_bound() -> None:
    from jobs.base import TrackedTask

    celery_app.loader.import_default_modules()
    tracked = [t for t in celery_app.tasks.values() if isinstance(t, TrackedTask)]
    assert tracked
    assert all(t.retry_backoff_max <= settings.CELERY_MAX_TASK_DELAY_S for t in tracked)


def test_the_visibility_check_passes_with_the_defaults() -> None:
    assert checks.celery_visibility_timeout_check(None) == []


# --- /healthz ----------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("host", ["localhost", "acme.localhost"])
def test_healthz_reports_both_services(host: str) -> None:
    response = host_client(host).get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["postgres"], body["redis"]) == ("ok", "ok")
    assert "last_heartbeat" in body["beat"]


@pytest.mark.django_db
def test_healthz_is_503_when_redis_is_down() -> None:
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = host_client("localhost").get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"] != "ok" and response.json()["postgres"] == "ok"


@pytest.mark.django_db
def test_healthz_is_503_when_postgres_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import OperationalError
    from django.test import RequestFactory

    from saas import health

    def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    # Called directly: through the test client, the tenant middleware needs the database first.
    monkeypatch.setattr(health.connection, "cursor", refuse)
    response = health.healthz(RequestFactory().get("/healthz"))
    assert response.status_code == 503
    body = json.loads(response.content)
    assert (body["status"], body["postgres"], body["redis"]) == ("fail", "OperationalError", "ok")


# --- docker-compose ----------------------------------------------------------------------------
def test_every_compose_command_names_something_that_exists() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker-short", "worker-long",
            "worker-backups", "beat"} <= set(services)  # fmt: skip
    commands = get_commands()
    queues = {q.name for q in celery_app.conf.task_queues}
    consumed: set[str] = set()
    for name, service in services.items():
        if "build" not in service:
            assert "healthcheck" in service, name
            continue
        command = service["command"]
        words = shlex.split(command[-1]) if command[0] == "sh" else command
        for i, word in enumerate(words):
            if word == "manage.py":
                assert words[i + 1] in commands, f"{name}: unknown command {words[i + 1]}"
            if word == "-A":
                assert (ROOT / words[i + 1] / "celery.py").exists()
            if word == "-Q":
                assert set(words[i + 1].split(",")) <= queues, name
                consumed.update(words[i + 1].split(","))
            if word.endswith(":application"):
                assert (ROOT / (word.split(":")[0].replace(".", "/") + ".py")).exists()
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")
    assert consumed == queues  # every queue a task can be routed to has a worker
    for name in ("web", "worker-short", "worker-long", "worker-backups"):
        assert "healthcheck" in services[name], name
    assert (ROOT / "Dockerfile").exists()


def test_make_up_starts_a_worker_for_every_queue() -> None:
    spec = importlib.util.spec_from_file_location("stack", ROOT / "scripts" / "stack.py")
    assert spec is not None and spec.loader is not None
    stack = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stack)
    consumed = {
        queue
        for command in stack.PROCESSES.values()
        for flag, value in itertools.pairwise(command)
        if flag == "-Q"
        for queue in value.split(",")
    }
    assert consumed == {q.name for q in celery_app.conf.task_queues}


# --- dev bootstrap -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/saas"),
        ("REDIS_URL", "redis://127.0.0.1:1/0"),
    ],
)
def test_an_explicit_service_url_that_does_not_answer_is_a_clear_error(
    variable: str, url: str, tmp_path: Path
) -> None:
    env_file = ROOT / ".dev" / "env"
    before = env_file.read_text() if env_file.exists() else None
    result = subprocess.run(
        [sys.executable, "scripts/devservices.py", "ensure"], cwd=ROOT, capture_output=True,
        text=True, env={**os.environ, variable: url}, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert f"{variable} is set to" in result.stderr and "does not answer" in result.stderr
    assert (env_file.read_text() if env_file.exists() else None) == before


@pytest.mark.django_db
def test_a_staff_sign_in_without_next_lands_on_the_admin(viewer: User) -> None:
    from django.test import Client

    from tests.helpers import PASSWORD

    client = Client(HTTP_HOST="localhost")  # a viewer: no second factor to enrol first
    response = client.post("/admin/login/", {"username": viewer.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 302  # "/" on the platform domain: the admin
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(("age_s", "stale"), [(30, False), (600, True)])
def test_healthz_reports_the_beat_heartbeats_age_and_staleness(age_s: int, stale: bool) -> None:
    import datetime as dt

    import redis

    from saas.health import BEAT_HEARTBEAT_KEY

    beat = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age_s)).isoformat()
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.set(BEAT_HEARTBEAT_KEY, beat)
    try:
        with override_settings(HEALTH_BEAT_STALE_S=120):
            response = host_client("acme.localhost").get("/healthz")
    finally:
        client.delete(BEAT_HEARTBEAT_KEY)
    assert response.status_code == 200  # stale beat: reported, web still serves
    report = response.json()["beat"]
    assert report["last_heartbeat"] == beat and report["stale"] is stale
    assert age_s <= report["age_s"] <= age_s + 5


@pytest.mark.django_db
def test_healthz_calls_a_missing_heartbeat_stale() -> None:
    import redis

    from saas.health import BEAT_HEARTBEAT_KEY

    redis.Redis.from_url(settings.REDIS_URL).delete(BEAT_HEARTBEAT_KEY)  # a beat test's, if any
    response = host_client("localhost").get("/healthz")
    assert response.status_code == 200
    assert response.json()["beat"] == {"last_heartbeat": None, "age_s": None, "stale": True}
