"""Shared fixtures.

Tenant schemas are expensive, so acme and globex are provisioned once per test session (fast
path, committed) and every test runs inside a transaction that is rolled back: data written in
either schema during a test disappears with it. Personas follow the healthchecks habit: alice
owns acme, bob is a member of globex, carol belongs to both; staff are an operator and a viewer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test import Client

from accounts.models import User
from backoffice.roles import OPERATORS, VIEWERS, staff_roles_sync
from tenants.context import connection_tenant_set
from tenants.models import Membership, Tenant
from tenants.provisioning import schema_template_get
from tenants.services import public_tenant_ensure, tenant_provision
from tests.helpers import host_client, make_user


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest, django_test_environment: None, django_db_blocker: Any
) -> Iterator[None]:
    """The test database, always (pytest-django would skip it for a session whose tests carry
    no django_db mark, such as the real-worker tests), with acme and globex provisioned."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        # Django takes any collection of aliases; django-stubs says Mapping.
        db_cfg = setup_databases(
            verbosity=0,
            interactive=False,
            aliases={"default"},  # type: ignore[arg-type]
        )
        public_tenant_ensure(domain="localhost")
        schema_template_get()
        for slug, name in (("acme", "Acme Corp"), ("globex", "Globex")):
            tenant_provision(name=name, slug=slug, timezone_name="Europe/Paris")
        staff_roles_sync()
        connection_tenant_set(None)
    yield
    with django_db_blocker.unblock():
        connection_tenant_set(None)
        with connection.cursor() as cursor:
            # Worker threads and subprocesses leave connections behind; the drop needs none.
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        teardown_databases(db_cfg, verbosity=0)


@pytest.fixture(autouse=True)
def _public_schema_and_clean_cache() -> Iterator[None]:
    # Each request sets the schema from its Host; the next test must start in public again.
    cache.clear()
    yield
    connection_tenant_set(None)


@pytest.fixture
def acme(db: None) -> Tenant:
    return Tenant.objects.get(slug="acme")


@pytest.fixture
def globex(db: None) -> Tenant:
    return Tenant.objects.get(slug="globex")


@pytest.fixture
def alice(acme: Tenant) -> User:
    user = make_user("alice")
    Membership.objects.create(user=user, tenant=acme, role=Membership.Role.OWNER)
    return user


@pytest.fixture
def bob(globex: Tenant) -> User:
    user = make_user("bob")
    Membership.objects.create(user=user, tenant=globex, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def carol(acme: Tenant, globex: Tenant) -> User:
    user = make_user("carol")
    Membership.objects.create(user=user, tenant=acme)
    Membership.objects.create(user=user, tenant=globex)
    return user


@pytest.fixture
def operator(db: None) -> User:
    user = make_user("olga", is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATORS))
    return user


@pytest.fixture
def viewer(db: None) -> User:
    user = make_user("victor", is_staff=True)
    user.groups.add(Group.objects.get(name=VIEWERS))
    return user


@pytest.fixture
def public_client() -> Client:
    return host_client("localhost")


@pytest.fixture
def operator_client(operator: User) -> Client:
    return host_client("localhost", operator)


@pytest.fixture
def viewer_client(viewer: User) -> Client:
    return host_client("localhost", viewer)


@pytest.fixture
def artifacts_root(settings: Any, tmp_path: Any) -> Any:
    """The `artifacts` storage in a fresh private directory for this test (the real
    FileSystemStorage; Django resets its storages when STORAGES changes)."""
    root = tmp_path / "artifacts"
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root, "base_url": None},
        },
    }
    settings.ARTIFACTS_X_ACCEL_LOCATION = ""
    return root


@pytest.fixture
def leaving(live_db: None, artifacts_root: Any) -> Iterator[Tenant]:
    """A tenant of its own to archive and delete (committed: a backup reads from its own
    snapshot connection); everything it leaves is removed afterwards."""
    from artifacts.models import Artifact
    from backoffice.models import AuditEntry
    from backups.models import Backup, TenantKey
    from tenants.provisioning import schema_drop
    from tenants.services import tenant_provision

    tenant = tenant_provision(name="Leaving Ltd", slug="leaving").tenant
    yield tenant
    schema_drop(tenant.schema_name)
    Backup.objects.filter(tenant=tenant).delete()
    TenantKey.objects.filter(tenant=tenant).delete()
    Artifact.objects.filter(tenant=tenant).delete()
    AuditEntry.objects.filter(tenant_slug="leaving").delete()
    Tenant.objects.filter(pk=tenant.pk).delete()


# --- Real worker fixtures ------------------------------------------------------------------------
def _live_cleanup() -> None:
    from artifacts.models import Artifact, DownloadEvent, ShareLink
    from backoffice.models import AuditEntry
    from backups.models import Backup, Restore, TenantKey
    from beat.models import ScheduleSummary
    from dataport.models import ImportRun
    from jobs.models import JobRun
    from jobs.tenant_cache import tenant_cache_clear

    connection_tenant_set(None)
    with connection.cursor() as cursor:
        for schema in ("acme", "globex", "public"):
            cursor.execute(f"DELETE FROM {schema}.schedules_schedulestate")
            cursor.execute(
                f"DELETE FROM {schema}.django_celery_beat_periodictask WHERE name LIKE 'beat-%%'"
            )
            cursor.execute(  # crontabs a test made (defaults' crontabs all have a task)
                f"DELETE FROM {schema}.django_celery_beat_crontabschedule c WHERE NOT EXISTS "
                f"(SELECT 1 FROM {schema}.django_celery_beat_periodictask p "
                f"WHERE p.crontab_id = c.id)"
            )
            cursor.execute(f"DELETE FROM {schema}.django_celery_beat_clockedschedule")
            cursor.execute(
                f"DELETE FROM {schema}.django_celery_beat_intervalschedule WHERE period = 'days'"
            )
            cursor.execute(f"DELETE FROM {schema}.usersessions_session")
            if schema != "public":  # reports is a tenant app
                cursor.execute(f"DELETE FROM {schema}.reports_reportrecipient")
    JobRun.objects.all().delete()
    ImportRun.objects.all().delete()  # before the artifacts it points at
    DownloadEvent.objects.all().delete()
    ShareLink.objects.all().delete()
    Restore.objects.all().delete()
    Backup.objects.all().delete()  # before the artifacts they protect
    TenantKey.objects.all().delete()
    Artifact.objects.all().delete()
    ScheduleSummary.objects.all().delete()
    AuditEntry.objects.all().delete()
    User.objects.filter(username__startswith="live-").delete()
    Tenant.objects.filter(slug__in=["acme", "globex"]).update(
        status=Tenant.Status.ACTIVE, session_max_age_days=None
    )
    tenant_cache_clear()


@pytest.fixture
def live_db(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Committed data, for tests where a worker (another thread or process) must see it.
    Cleans the rows these tests write afterwards."""
    with django_db_blocker.unblock():
        _live_cleanup()
        yield
        _live_cleanup()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup: None, django_db_blocker: Any) -> Iterator[Any]:
    """A real Celery worker (in a thread, solo pool) consuming the test Redis database."""
    import redis as redis_lib
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings

    from saas.celery import app

    redis_lib.Redis.from_url(settings.REDIS_URL).flushdb()
    from celery.contrib.testing.worker import test_worker_started

    import tests.worker_tasks  # noqa: F401  (registers the test tasks)
    from jobs.heartbeat import heartbeat_start

    # The test worker sends its own "started" signal, not worker_ready: its heartbeat too.
    test_worker_started.connect(heartbeat_start, dispatch_uid="tests_worker_heartbeat")

    with django_db_blocker.unblock(), start_worker(
        app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING",
        shutdown_timeout=10, queues=["short", "long", "backups"],
    ) as worker:  # fmt: skip
        yield worker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`slow`: tests with a real worker (in a thread) or worker/beat subprocesses, so
    `pytest -m "not slow"` (make test-fast) is the quick loop."""
    for item in items:
        if "celery_worker" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.worker)
        if item.get_closest_marker("worker") or item.get_closest_marker("subprocess"):
            item.add_marker(pytest.mark.slow)
