"""Provisioning: the template fast path builds exactly what migrations build, only faster."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_tenants.utils import schema_context

from accounts.models import User
from schedules.defaults import DefaultSchedule, default_schedules
from schedules.timing import cron_spread
from tenants import provisioning
from tenants.models import Domain, Membership, Tenant
from tenants.services import tenant_provision
from tests.helpers import schema_shape

pytestmark = pytest.mark.django_db


def _cron(default: DefaultSchedule, schema: str) -> str:
    return (
        cron_spread(default.cron, schema, default.spread_minutes)
        if default.spread_minutes
        else default.cron
    )


def test_it_builds_the_same_schema_as_migrations() -> None:
    fast = tenant_provision(name="Fast", slug="fast-one", fast=True)
    slow = tenant_provision(name="Slow", slug="slow-one", fast=False)
    assert (fast.path, slow.path) == ("template", "migrations")

    # Spread default schedules (backups) have a time of their own per schema: compared apart.
    spread = [d for d in default_schedules() if d.spread_minutes]
    for schema in ("fast_one", "slow_one"):
        with schema_context(schema):
            times = {t.name: f"{t.crontab.minute} {t.crontab.hour}"
                     for t in PeriodicTask.objects.select_related("crontab")
                     .filter(name__in=[d.name for d in spread])}  # fmt: skip
        assert times == {d.name: " ".join(_cron(d, schema).split()[:2]) for d in spread}
        with schema_context(schema):  # then put on the template's, so the rest compares equal
            CrontabSchedule.objects.filter(periodictask__name__in=[d.name for d in spread]).update(
                minute="0", hour="0"
            )
    fast_shape, slow_shape = schema_shape("fast_one"), schema_shape("slow_one")
    assert fast_shape["tables"], "the tenant schema has tables"
    assert any(rows for key, rows in fast_shape.items() if key == "rows:django_migrations")
    for key in slow_shape.keys() | fast_shape.keys():
        assert fast_shape.get(key) == slow_shape.get(key), key


def test_it_makes_tenant_domain_owner_and_default_rows() -> None:
    owner = User.objects.create_user("owner", "owner@example.com", "pw-long-enough-1")
    tenant = tenant_provision(
        name="Initech", slug="initech", owner=owner, timezone_name="Asia/Tokyo"
    ).tenant

    assert tenant.status == Tenant.Status.ACTIVE
    assert tenant.schema_name == "initech"
    assert Domain.objects.get(tenant=tenant).domain == "initech.localhost"
    assert Membership.objects.get(tenant=tenant).user == owner
    with schema_context("initech"):  # the default schedules, on the tenant's own clock
        defaults = {
            t.name: (t.task, t.crontab.hour, str(t.crontab.timezone))
            for t in PeriodicTask.objects.select_related("crontab")
        }
        assert defaults == {
            d.name: (d.task, _cron(d, "initech").split()[1], "Asia/Tokyo")
            for d in default_schedules()
        }
    with schema_context("acme"):
        assert not CrontabSchedule.objects.filter(timezone="Asia/Tokyo").exists()


def test_a_failure_leaves_no_half_made_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(tenant: Tenant) -> None:
        raise RuntimeError("default rows failed")

    monkeypatch.setattr("tenants.services.TENANT_DEFAULTS", [broken])
    with pytest.raises(RuntimeError):
        tenant_provision(name="Half", slug="half-made")
    assert not Tenant.objects.filter(slug="half-made").exists()
    assert not Domain.objects.filter(domain="half-made.localhost").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'half_made'")
        assert cursor.fetchone() is None


@pytest.mark.parametrize(
    "slug", ["public", "www", "admin", "pg_catalog", "pg-x", "a", "Acme", "9lives", "ab_c"]
)
def test_it_refuses_reserved_or_malformed_slugs(slug: str) -> None:
    with pytest.raises(ValidationError):
        tenant_provision(name="Nope", slug=slug)
    assert not Tenant.objects.filter(slug=slug, name="Nope").exists()


def test_slug_and_schema_are_immutable(acme: Tenant) -> None:
    acme.slug = "acme2"
    with pytest.raises(ValueError, match="cannot change"):
        acme.save()
    fresh = Tenant.objects.get(pk=acme.pk)
    fresh.schema_name = "other"
    with pytest.raises(ValueError, match="cannot change"):
        fresh.save()


def test_it_falls_back_to_migrations_without_a_template(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> None:
        raise provisioning.TemplateUnavailable("no pg_dump for this server")

    monkeypatch.setattr("tenants.services.schema_template_get", unavailable)
    result = tenant_provision(name="Fallback", slug="fallback")
    assert result.path == "migrations"
    assert "django_celery_beat_periodictask" in dict(schema_shape("fallback")["tables"])


def test_the_template_key_follows_the_migration_files(monkeypatch: pytest.MonkeyPatch) -> None:
    provisioning.migration_state_key.cache_clear()
    before = provisioning.migration_state_key()
    original = provisioning.MigrationLoader

    class LoaderWithNewMigration(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            _name, migration = next(iter(
                (k, v) for k, v in self.disk_migrations.items() if k[0] == "django_celery_beat"
            ))  # fmt: skip
            self.disk_migrations[("django_celery_beat", "9999_new")] = migration

    monkeypatch.setattr(provisioning, "MigrationLoader", LoaderWithNewMigration)
    provisioning.migration_state_key.cache_clear()
    try:
        assert provisioning.migration_state_key() != before
    finally:
        monkeypatch.undo()
        provisioning.migration_state_key.cache_clear()
    assert provisioning.migration_state_key() == before


def test_placeholder_replacement_touches_whole_identifiers_only() -> None:
    pattern = provisioning.identifier_re("tpl_abc")
    sql = (
        "CREATE TABLE tpl_abc.t (id bigint DEFAULT nextval('tpl_abc.t_id_seq'::regclass));"
        " INSERT INTO tpl_abc.t VALUES ('tpl_abcd', 'xtpl_abc');"
    )
    assert pattern.sub("acme", sql) == (
        "CREATE TABLE acme.t (id bigint DEFAULT nextval('acme.t_id_seq'::regclass));"
        " INSERT INTO acme.t VALUES ('tpl_abcd', 'xtpl_abc');"
    )


def test_tenant_create_command(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("tenant_create", "hooli", "--name", "Hooli", "--owner-email", "Gavin@Hooli.com")
    tenant = Tenant.objects.get(slug="hooli")
    assert tenant.is_active
    assert Membership.objects.get(tenant=tenant).user.email == "gavin@hooli.com"
    assert "via template" in capsys.readouterr().out


def test_tenant_create_command_reports_a_bad_slug() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="reserved"):
        call_command("tenant_create", "admin")
