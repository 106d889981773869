"""The jobs on a real worker (real Redis, committed data): a large import checked and applied
by jobs with progress, its invitations sent in a job after the commit, and the tenant data
export stored as an owners-only artifact."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import User
from artifacts.models import Artifact
from artifacts.storage import bytes_read
from backoffice.roles import OPERATORS
from dataport.models import ImportRun
from jobs.models import JobRun
from tenants.models import Membership, Tenant
from tests.helpers import host_client, wait_for_state

pytestmark = pytest.mark.usefixtures("celery_worker", "live_db", "artifacts_root")
BASE = "/admin/t/acme/dataport/importrun/"


def operator() -> Any:
    user = User.objects.create_user(
        "live-olga", "live-olga@example.com", "pw-12345678", is_staff=True
    )
    user.groups.add(Group.objects.get(name=OPERATORS))
    return host_client("localhost", user)


def test_a_large_import_runs_in_jobs_and_invites_after_the_commit(settings: Any) -> None:
    settings.DATAPORT_SYNC_MAX_KB = 0
    settings.DATAPORT_INVITE_ON_IMPORT = True
    acme = Tenant.objects.get(slug="acme")
    owner = User.objects.create_user("live-own", "live-own@example.com", "pw-12345678")
    Membership.objects.create(user=owner, tenant=acme, role="owner")
    client = operator()
    data = b"email,name,role\nlive-new@example.com,New Member,member\nlive-own@example.com,,owner\n"
    client.post(f"{BASE}import/members/", {"file": SimpleUploadedFile("m.csv", data)})
    run = ImportRun.objects.get()
    wait_for_state(run.check_task_id, "succeeded")
    run.refresh_from_db()
    assert run.state == ImportRun.State.CHECKED and run.counts == {
        "rows": 2,
        "new": 1,
        "unchanged": 1,
    }
    client.post(f"{BASE}run/{run.pk}/confirm/")
    run.refresh_from_db()
    wait_for_state(run.apply_task_id, "succeeded")
    run.refresh_from_db()
    assert run.state == ImportRun.State.APPLIED
    assert Membership.objects.filter(tenant=acme, user__email="live-new@example.com").exists()
    invite = JobRun.objects.get(task_name="dataport.tasks.member_invitations_send_task")
    wait_for_state(invite.task_id, "succeeded")
    assert [m.to for m in mail.outbox] == [["live-new@example.com"]]
    assert "invited to Acme Corp" in mail.outbox[0].subject


def test_the_tenant_data_export_job_stores_an_owners_only_zip() -> None:
    client = operator()
    client.post(f"{BASE}export-all/")
    job = JobRun.objects.get(task_name="dataport.tasks.tenant_export_task")
    job = wait_for_state(job.task_id, "succeeded")
    assert job.result_summary is not None
    artifact = Artifact.objects.get(pk=job.result_summary["artifact"])
    assert (artifact.tenant.slug, artifact.kind, artifact.audience) == ("acme", "export", "owners")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(bytes_read(artifact.storage_key))))
    assert "manifest.json" in archive.namelist() and "schedules.csv" in archive.namelist()
