"""Restore jobs on real workers: the job through the in-thread worker (progress, its Restore
row), and a restore whose worker is SIGKILLed halfway (a prefork worker subprocess): the tenant
is left intact, and the recovery puts its status back and drops the scratch schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django_celery_beat.models import IntervalSchedule
from django_tenants.utils import schema_context

from backoffice.models import AuditEntry
from backups.models import Backup, Restore
from backups.requests import backup_restore_enqueue
from backups.restore import backup_restore
from backups.restore_recovery import restores_recover, scratch_name
from backups.services import backup_create
from backups.tasks import backup_restore_task
from jobs.api import task_enqueue
from tenants.context import connection_tenant_set
from tenants.models import Tenant
from tests.helpers import (
    make_user,
    restores_clean,
    schema_fingerprint,
    scratch_schemas,
    wait_for_state,
    wait_until,
)
from tests.prefork import PreforkWorker


@pytest.fixture
def restore_db(live_db: None, artifacts_root: Path) -> Iterator[None]:
    yield
    restores_clean()


def _marker(every: int) -> None:
    with schema_context("acme"):
        IntervalSchedule.objects.create(every=every, period="days")


def _markers() -> list[int]:
    with schema_context("acme"):
        return sorted(
            IntervalSchedule.objects.filter(period="days").values_list("every", flat=True)
        )


def _backup() -> Backup:
    backup = backup_create(Tenant.objects.get(slug="acme"), kind=Backup.Kind.MANUAL)
    connection_tenant_set(None)
    return backup


@pytest.mark.usefixtures("restore_db", "celery_worker")
def test_the_restore_job_restores_with_progress_on_its_jobrun() -> None:
    _marker(201)
    backup = _backup()
    _marker(202)
    operator = make_user("live-operator", is_staff=True)

    task_id = backup_restore_enqueue(backup, requested_by=operator)

    run = wait_for_state(task_id, "succeeded", "failed")
    assert run.state == "succeeded", run.error_message
    assert (run.queue, run.tenant_slug) == ("backups", "acme")
    assert (run.progress_done, run.progress_total) == (5, 5)
    restore = Restore.objects.get(job_task_id=task_id)
    assert restore.state == Restore.State.SUCCEEDED and restore.requested_by == operator
    summary = run.result_summary or {}
    assert summary["restore"] == restore.pk and restore.safety_backup_id is not None
    assert summary["safety_backup"] == restore.safety_backup_id
    assert _markers() == [201]


@pytest.mark.subprocess
@pytest.mark.usefixtures("restore_db")
def test_a_restore_killed_halfway_leaves_the_tenant_intact(artifacts_root: Path) -> None:
    acme = Tenant.objects.get(slug="acme")
    _marker(211)
    backup = _backup()
    _marker(212)
    before = schema_fingerprint("acme")
    # A transaction holding acme's tables: the restore gets everything done up to its swap
    # (tenant restoring, safety backup, backup loaded into the scratch schema), then waits.
    db = connection.settings_dict
    side = psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
        password=db["PASSWORD"] or None, dbname=db["NAME"],
    )  # fmt: skip
    side.execute("SELECT 1 FROM acme.django_celery_beat_intervalschedule LIMIT 1")
    try:
        with PreforkWorker(ARTIFACTS_ROOT=str(artifacts_root)) as worker:
            task_id = task_enqueue(
                backup_restore_task, tenant=acme, queue=worker.queue,
                kwargs={"backup_id": backup.pk},
            )  # fmt: skip
            wait_until(_swap_waiting, what="the restore waiting at its swap")
            restore = Restore.objects.get(job_task_id=task_id)
            assert scratch_name(restore.pk) in scratch_schemas()
            assert Tenant.objects.get(pk=acme.pk).status == Tenant.Status.RESTORING
            assert restore.safety_backup is not None
            worker.kill_all()  # main process and pool: nothing gets to clean up
    finally:
        side.rollback()
        side.close()
    # The killed restore's connections go away (the one that waited aborts its transaction).
    wait_until(lambda: not _swap_waiting() and not _run_lock_held(restore.pk), what="backends gone")

    assert schema_fingerprint("acme") == before  # the very same schema, rows and sequences
    assert _markers() == [211, 212]
    assert Tenant.objects.get(pk=acme.pk).status == Tenant.Status.RESTORING  # until recovered

    assert restores_recover() == [restore.pk]

    restore.refresh_from_db()
    assert restore.state == Restore.State.FAILED and restore.error.startswith("Interrupted")
    assert Tenant.objects.get(pk=acme.pk).status == Tenant.Status.ACTIVE
    assert scratch_schemas() == []
    assert AuditEntry.objects.filter(action="restore.recovered", object_id=str(restore.pk)).exists()
    # The job delivered again finds its restore and does not run it a second time.
    assert backup_restore(backup, job_task_id=task_id).pk == restore.pk
    assert Restore.objects.count() == 1 and schema_fingerprint("acme") == before


def _swap_waiting() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE%%'"
        )
        return bool(cursor.fetchone()[0])


def _run_lock_held(restore_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s "
            "AND classid = 7340013",
            [restore_id],
        )
        return bool(cursor.fetchone()[0])
