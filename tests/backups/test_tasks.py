"""The backup and verify jobs on a real worker, on the backups queue."""

from __future__ import annotations

import pytest

from backups.models import Backup
from backups.services import backup_create
from backups.tasks import backup_create_task, backup_verify_task
from tenants.models import Tenant
from tests.helpers import wait_for_state

pytestmark = pytest.mark.usefixtures("live_db", "celery_worker", "artifacts_root")


def test_the_backup_job_runs_in_the_tenant_on_the_backups_queue() -> None:
    acme = Tenant.objects.get(slug="acme")
    result = backup_create_task.delay_for(acme, kind="manual")
    run = wait_for_state(result.id, "succeeded")
    assert run.queue == "backups" and run.tenant_slug == "acme"
    summary = run.result_summary
    assert summary is not None and summary["method"] == "template"
    backup = Backup.objects.get(pk=summary["backup_id"])
    assert (backup.tenant, backup.kind, backup.job_task_id) == (acme, "manual", result.id)
    assert backup.artifact is not None and backup.artifact.job_task_id == result.id
    assert run.progress_done == run.progress_total and run.progress_total


def test_the_verify_job_records_the_result() -> None:
    acme = Tenant.objects.get(slug="acme")
    backup = backup_create(acme, kind="manual")
    result = backup_verify_task.delay_for(acme, backup_id=backup.pk)
    run = wait_for_state(result.id, "succeeded")
    assert run.queue == "backups"
    backup.refresh_from_db()
    assert backup.verification == Backup.Verification.PASSED and backup.verified_at is not None
    # Another tenant's job cannot verify acme's backup: it is not found there.
    globex = Tenant.objects.get(slug="globex")
    refused = wait_for_state(backup_verify_task.delay_for(globex, backup_id=backup.pk).id, "failed")
    assert refused.error_type == "DoesNotExist"
