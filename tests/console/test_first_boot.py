"""First boot: one idempotent command makes the platform tenant, its domain and the staff
roles; beat waits for it instead of crash-looping; production settings refuse weak keys."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
import redis
import yaml
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from beat.scheduler import PLATFORM_WAIT_S, TenantScheduler
from saas.celery import app
from saas.checks import secret_key_weakness
from tenants.models import Domain, Tenant
from tests.prefork import ROOT

pytestmark = pytest.mark.django_db


def _platform_forget() -> None:
    Domain.objects.filter(tenant__schema_name="public").delete()
    Tenant.objects.filter(schema_name="public").delete()
    Group.objects.filter(name__in=["Operators", "Viewers"]).delete()


def test_platform_init_makes_the_platform_and_is_safe_to_run_again() -> None:
    _platform_forget()
    for _ in range(2):
        call_command("platform_init", skip_migrate=True, stdout=StringIO())
    assert Tenant.objects.filter(schema_name="public").count() == 1
    assert list(
        Domain.objects.filter(tenant__schema_name="public").values_list("domain", flat=True)
    ) == ["localhost"]
    assert set(Group.objects.values_list("name", flat=True)) >= {"Operators", "Viewers"}


def test_beat_waits_for_the_platform_with_a_clear_line(caplog: pytest.LogCaptureFixture) -> None:
    _platform_forget()
    caplog.set_level(logging.WARNING, logger="beat.scheduler")
    scheduler = TenantScheduler(app=app)  # no crash at start either
    assert scheduler.tick() == PLATFORM_WAIT_S
    assert "waiting for the platform to be initialised (manage.py platform_init)" in caplog.text
    call_command("platform_init", skip_migrate=True, stdout=StringIO())
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("saas:beat:*"):  # no other test's leader lock
        client.delete(key)
    scheduler.tick()
    assert scheduler._leader  # it leads and loads now


@pytest.mark.parametrize(
    ("key", "weak"),
    [
        ("change-me-to-a-long-random-string-of-fifty-or-more-characters", True),
        ("django-insecure-" + "a1b2c3d4e5" * 5, True),
        ("short-key", True),
        ("a" * 60, True),
        ("tests-only-7Qv2mZ9pX4kL8wR1nB6tY3hJ0sD5fG8aC2eV7uI9oP4lK1jH6gF3dS0", False),
    ],
)
def test_a_placeholder_or_weak_secret_key_is_refused(key: str, weak: bool) -> None:
    assert (secret_key_weakness(key) is not None) is weak


def test_compose_runs_without_debug_and_requires_a_real_key() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = compose["x-app"]["environment"]
    assert env["DEBUG"] == "${DEBUG:-0}"
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")  # compose stops without one
    assert compose["services"]["migrate"]["command"] == ["python", "manage.py", "platform_init"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["public", "--owner-email", "x@y.test"], "is reserved"),
        (["initech", "--owner-email", "not an email"], "owner email"),
        (["initech", "--timezone", "Mars/Olympus"], "not a known time zone"),
        (["acme", "--owner-email", "new@y.test"], "already exists"),
    ],
)
def test_tenant_create_checks_everything_before_writing_anything(
    args: list[str], message: str
) -> None:
    users, tenants = User.objects.count(), Tenant.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("tenant_create", *args, stdout=StringIO())
    assert (User.objects.count(), Tenant.objects.count()) == (users, tenants)
