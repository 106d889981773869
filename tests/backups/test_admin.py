"""Backups in the admin: the tenant page's tabs and "Back up now", a backup's page with its
actions (Operators only: verify, restore with the slug typed, restore as new, legal hold), and
what a viewer may not do. The jobs themselves are tested with a worker elsewhere."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from artifacts.models import Artifact
from backoffice.models import AuditEntry
from backups.models import Backup
from jobs.models import JobRun
from tenants.models import Tenant
from tests.helpers import artifact_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(acme: Tenant, artifacts_root: Any) -> Backup:
    artifact = artifact_make(acme, b"archive bytes", kind="backup", title="Acme backup",
                             filename="acme.tar.zst")  # fmt: skip
    return Backup.objects.create(
        tenant=acme, kind="scheduled", state="succeeded", artifact=artifact, method="template",
        schema_name="acme", size=artifact.size, duration_s=1.5, finished_at=timezone.now(),
        manifest={"tenant": {"slug": "acme"}, "tables": []},
    )  # fmt: skip


def _job(name: str) -> JobRun:
    return JobRun.objects.get(task_name=f"backups.tasks.{name}")


def test_the_tenant_page_has_backups_and_retention_tabs_and_backs_up_now(
    operator_client: Client, acme: Tenant, stored: Backup
) -> None:
    page = operator_client.get(f"/admin/tenants/tenant/{acme.pk}/change/").content.decode()
    assert "Backups" in page and "Backup retention" in page and "Back up now" in page
    assert f"/admin/backups/backup/{stored.pk}/change/" in page
    started = operator_client.post(f"/admin/tenants/tenant/{acme.pk}/backup/")
    job = _job("backup_create_task")
    assert started.status_code == 302 and job.tenant_slug == "acme"
    assert job.kwargs["kind"] == "manual"


def test_the_retention_tab_saves_the_tenants_policy(operator_client: Client, acme: Tenant) -> None:
    from tests.helpers import TENANT_PAGE_INLINES

    form = {
        "name": acme.name, "timezone": acme.timezone, "brand_color": acme.brand_color,
        **TENANT_PAGE_INLINES, "backup_policy-TOTAL_FORMS": "1",
        "backup_policy-0-keep_daily": "3", "backup_policy-0-keep_weekly": "2",
        "backup_policy-0-keep_monthly": "24",
    }  # fmt: skip
    response = operator_client.post(f"/admin/tenants/tenant/{acme.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = acme.backup_policy
    assert (policy.keep_daily, policy.keep_weekly, policy.keep_monthly) == (3, 2, 24)


def test_a_backups_page_shows_its_manifest_and_verify_starts_a_job(
    operator_client: Client, stored: Backup
) -> None:
    page = operator_client.get(f"/admin/backups/backup/{stored.pk}/change/").content.decode()
    assert "Manifest" in page and "&quot;slug&quot;: &quot;acme&quot;" in page
    assert "Restore…" in page and "Verify" in page
    started = operator_client.post(f"/admin/backups/backup/{stored.pk}/verify/")
    job = _job("backup_verify_task")
    assert started.status_code == 302 and job.kwargs == {"backup_id": stored.pk}
    assert job.tenant_slug == "acme"
    assert AuditEntry.objects.filter(action="backup.verify", tenant_slug="acme").exists()


def test_restore_wants_the_slug_typed_then_starts_the_job(
    operator_client: Client, stored: Backup
) -> None:
    url = f"/admin/backups/backup/{stored.pk}/restore/"
    asked = operator_client.get(url).content.decode()
    assert "safety backup" in asked and "Type <code>acme</code> to confirm" in asked
    wrong = operator_client.post(url, {"confirmed": "yes", "confirm_slug": "globex"})
    assert "Type the tenant" in wrong.content.decode()
    assert not JobRun.objects.filter(task_name="backups.tasks.backup_restore_task").exists()
    operator_client.post(url, {"confirmed": "yes", "confirm_slug": "acme"})
    job = _job("backup_restore_task")
    assert job.tenant_slug == "acme" and job.kwargs["backup_id"] == stored.pk


def test_restore_as_new_checks_the_slug_then_starts_a_platform_job(
    operator_client: Client, stored: Backup
) -> None:
    url = f"/admin/backups/backup/{stored.pk}/restore-as-new/"
    taken = operator_client.post(url, {"slug": "globex", "name": "Copy"})
    assert "already exists" in taken.content.decode()
    bad = operator_client.post(url, {"slug": "Not A Slug", "name": "Copy"})
    assert "lowercase letters" in bad.content.decode()
    operator_client.post(url, {"slug": "acme-staging", "name": "Acme staging"})
    job = _job("backup_restore_as_new_task")
    assert job.tenant_slug == "" and job.kwargs["slug"] == "acme-staging"


def test_legal_hold_toggles_from_the_backups_page(operator_client: Client, stored: Backup) -> None:
    operator_client.post(f"/admin/backups/backup/{stored.pk}/hold/")
    assert Artifact.objects.get(backup=stored).legal_hold
    operator_client.post(f"/admin/backups/backup/{stored.pk}/hold/")
    assert not Artifact.objects.get(backup=stored).legal_hold
    assert AuditEntry.objects.filter(action="backup.legal_hold_set").count() == 1


def test_a_viewer_sees_backups_but_cannot_act_or_download(
    viewer_client: Client, acme: Tenant, stored: Backup
) -> None:
    page = viewer_client.get(f"/admin/backups/backup/{stored.pk}/change/").content.decode()
    assert "Manifest" in page and "owners and Operators only" in page
    for action in ("verify", "restore", "restore-as-new", "hold"):
        viewer_client.post(f"/admin/backups/backup/{stored.pk}/{action}/",
                           {"confirmed": "yes", "confirm_slug": "acme", "slug": "x-copy",
                            "name": "x"})  # fmt: skip
    viewer_client.post(f"/admin/tenants/tenant/{acme.pk}/backup/")
    assert not JobRun.objects.filter(task_name__startswith="backups.").exists()
    assert not Artifact.objects.get(backup=stored).legal_hold
    overview = viewer_client.get("/admin/backups/backupoverview/")
    assert overview.status_code == 200 and "Acme Corp" in overview.content.decode()
