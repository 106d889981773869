"""Task names are stored outside the code — in every tenant's schedule rows, in JobRun history,
in messages already queued — so they must not follow the modules around. Every task declares
its name, and a schedule row and a raw message written with the names of before the apps were
restructured still run."""

from __future__ import annotations

import pytest
from celery.utils import uuid
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_tenants.utils import schema_context

from jobs.api import tenant_task
from jobs.base import TrackedTask
from jobs.headers import tenant_ref
from jobs.models import JobRun
from saas.celery import app
from tenants.models import Tenant
from tests.helpers import scheduler, wait_for_state

# The names as stored in databases and queues. A task may be added; one may be renamed only
# with a migration of every stored name.
STORED_NAMES = {
    "backoffice.tasks.jobruns_reap_task": "jobs.tasks",
    "backoffice.tasks.jobruns_prune_task": "jobs.tasks",
    "schedules.tasks.schedule_changes_prune_task": "beat.tasks",
    "usersessions.tasks.sessions_cleanup_task": "usersessions.tasks",
    "reports.tasks.report_generate_task": "reports.tasks",
    "reports.tasks.report_deliver_task": "reports.tasks",
    "artifacts.tasks.artifacts_retention_task": "artifacts.tasks",
    "artifacts.tasks.artifacts_scrub_task": "artifacts.tasks",
    "usersessions.tasks.sessions_cleanup_platform_task": "usersessions.tasks",
    "tenants.tasks.tenant_defaults_apply_task": "console.tasks",
    "tenants.tasks.tenant_tables_count_task": "console.tasks",
    "backups.tasks.backup_create_task": "backups.tasks",
    "backups.tasks.backup_verify_task": "backups.tasks",
}


def test_every_stored_name_is_registered_where_it_now_lives() -> None:
    app.loader.import_default_modules()
    ours = {
        name: type(task).__module__
        for name, task in app.tasks.items()
        if isinstance(task, TrackedTask) and not name.startswith(("tests.", "bench."))
    }
    assert ours == STORED_NAMES


def test_a_task_cannot_be_declared_without_a_name() -> None:
    with pytest.raises(TypeError, match="name"):
        tenant_task()  # type: ignore[call-arg]


@pytest.mark.usefixtures("live_db", "celery_worker")
def test_a_message_queued_before_the_move_still_runs_in_its_tenant() -> None:
    """A raw message as the code before the move sent it: the old task name, the tenant
    headers, and the JobRun row the sender wrote."""
    acme = Tenant.objects.get(slug="acme")
    task_id = uuid()
    JobRun.objects.create(
        task_id=task_id, task_name="tenants.tasks.tenant_tables_count_task", tenant_id=acme.pk,
        tenant_slug="acme", schema_name="acme", queue="long", queued_at=timezone.now(),
    )  # fmt: skip
    app.send_task(
        "tenants.tasks.tenant_tables_count_task", task_id=task_id, queue="long",
        headers=dict(tenant_ref(acme)),
    )  # fmt: skip
    run = wait_for_state(task_id, "succeeded", "failed")
    assert run.state == "succeeded", run.error_message
    assert "django_celery_beat_periodictask" in (run.result_summary or {})


@pytest.mark.usefixtures("live_db", "celery_worker")
def test_a_platform_message_queued_before_the_move_still_runs() -> None:
    task_id = uuid()
    JobRun.objects.create(
        task_id=task_id, task_name="backoffice.tasks.jobruns_prune_task", schema_name="public",
        queue="short", queued_at=timezone.now(),
    )  # fmt: skip
    app.send_task("backoffice.tasks.jobruns_prune_task", task_id=task_id, queue="short",
                  headers={"tenant_id": None, "tenant_schema": "public"})  # fmt: skip
    run = wait_for_state(task_id, "succeeded", "failed")
    assert run.state == "succeeded", run.error_message


@pytest.mark.usefixtures("live_db", "celery_worker")
def test_schedule_rows_written_before_the_move_are_beat_entries_and_run() -> None:
    """Every tenant's default schedules were written at provisioning with the old names."""
    with schema_context("acme"):
        stored = dict(PeriodicTask.objects.values_list("name", "task"))
    assert stored["tenant-usage-nightly"] == "tenants.tasks.tenant_tables_count_task"
    assert stored["sessions-cleanup-daily"] == "usersessions.tasks.sessions_cleanup_task"
    s = scheduler()
    s.tick()
    assert {"acme:tenant-usage-nightly", "acme:sessions-cleanup-daily"} <= set(s.schedule)
    # Sent as beat sends it (the entry's own options: tenant, headers), it runs in acme.
    entry = s.schedule["acme:tenant-usage-nightly"]
    assert entry.task is not None
    result = app.tasks[entry.task].apply_async(entry.args, entry.kwargs, **entry.options)
    run = wait_for_state(result.id, "succeeded", "failed")
    assert (run.state, run.tenant_slug) == ("succeeded", "acme"), run.error_message
