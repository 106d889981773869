"""Every tenant gets a nightly backup in its own zone, spread over the night by its own stable
offset, and a weekly verify; the backup jobs go to their own queue."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask
from django_tenants.utils import tenant_context

from saas.celery import BACKUP_QUEUE, app, queue_for
from schedules.timing import cron_spread
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def _cron(task: PeriodicTask) -> str:
    c = task.crontab
    assert c is not None
    return f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"


def test_each_tenant_backs_up_nightly_at_its_own_time_in_its_zone(acme: Tenant,
                                                                  globex: Tenant) -> None:  # fmt: skip
    times = {}
    for tenant in (acme, globex):
        with tenant_context(tenant):
            nightly = PeriodicTask.objects.select_related("crontab").get(name="backup-nightly")
            verify = PeriodicTask.objects.select_related("crontab").get(name="backup-verify-weekly")
        assert nightly.task == "backups.tasks.backup_create_task" and nightly.enabled
        assert nightly.kwargs == '{"kind": "scheduled"}'
        assert _cron(nightly) == cron_spread("0 1 * * *", tenant.schema_name, 240)
        assert str(nightly.crontab.timezone) == tenant.timezone
        minute, hour = (int(f) for f in _cron(nightly).split()[:2])
        assert 60 <= hour * 60 + minute < 300  # inside 01:00-05:00
        assert verify.task == "backups.tasks.backup_verify_latest_task"
        assert _cron(verify).endswith("* * 0")  # Sundays
        times[tenant.slug] = _cron(nightly)
    assert times["acme"] != times["globex"]


def test_backup_jobs_are_routed_to_the_backups_queue() -> None:
    for name in ("backup_create_task", "backup_verify_task", "backup_verify_latest_task",
                 "backup_restore_task", "backup_restore_as_new_task", "tenant_archive_task",
                 "tenant_delete_task"):  # fmt: skip
        assert queue_for(app.tasks[f"backups.tasks.{name}"]) == BACKUP_QUEUE, name


def test_jobs_for_one_object_are_never_offered_as_schedules() -> None:
    from schedules.forms import task_choices

    offered = {name for name, _ in task_choices(True) + task_choices(False)}
    for name in ("backups.tasks.backup_restore_task", "backups.tasks.backup_restore_as_new_task",
                 "backups.tasks.tenant_archive_task", "backups.tasks.tenant_delete_task",
                 "dataport.tasks.import_apply_task", "reports.tasks.report_deliver_task"):  # fmt: skip
        assert name in app.tasks and name not in offered, name
    assert "backups.tasks.backup_create_task" in offered
    assert "backups.tasks.backups_upkeep_task" in offered
