"""Import and export never cross tenants: an import into acme writes nothing of globex (a row
naming a globex member, a schedule named like globex's), acme's export holds nothing of
globex's (members, schedules, jobs, audit, sessions, downloads), and an upload made in acme's
admin is not found from globex's."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_tenants.utils import schema_context, tenant_context

from accounts.models import User
from artifacts.models import DownloadEvent
from artifacts.storage import bytes_read
from backoffice.services import audit_record
from dataport.exports import tenant_export
from dataport.imports import import_apply, import_check, import_confirm, import_upload
from dataport.models import ImportRun
from dataport.registry import resource_get
from tenants.models import Membership, Tenant
from tests.helpers import artifact_make, jobruns_make, periodic, session_make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _storage(artifacts_root: Any) -> Iterator[None]:
    yield


def imported(tenant: Tenant, data: str, resource: str) -> ImportRun:
    raw = data.encode()
    run = import_upload(tenant=tenant, resource_name=resource, filename="f.csv",
                        content=io.BytesIO(raw), size=len(raw), user=None)  # fmt: skip
    with tenant_context(tenant):
        import_check(run=run)
        assert import_confirm(run=run, skip_invalid=False)
        return import_apply(run=run, actor=None)


def test_a_members_row_naming_a_globex_member_adds_them_to_acme_only(
    acme: Tenant, globex: Tenant, alice: User, bob: User
) -> None:
    before = (bob.first_name, bob.password, bob.email)
    run = imported(acme, "email,name,role\nBOB@example.com,Robert Takeover,owner\n", "members")
    assert run.state == ImportRun.State.APPLIED, run.message
    bob.refresh_from_db()
    assert (bob.first_name, bob.password, bob.email) == before
    assert Membership.objects.get(user=bob, tenant=globex).role == "member"
    assert Membership.objects.get(user=bob, tenant=acme).role == "owner"
    assert Membership.objects.filter(tenant=globex).count() == 1


def test_a_schedule_named_like_globexs_is_made_in_acme_and_globex_is_untouched(
    acme: Tenant, globex: Tenant
) -> None:
    periodic("globex", "shared-name", 7)
    with schema_context("globex"):
        before = list(PeriodicTask.objects.filter(name="shared-name").values())
    run = imported(acme, "name,task,cron\nshared-name,tenants.tasks.tenant_tables_count_task,0 5 * * *\n",
                   "schedules")  # fmt: skip
    assert run.state == ImportRun.State.APPLIED and run.counts["new"] == 1
    with schema_context("globex"):
        assert list(PeriodicTask.objects.filter(name="shared-name").values()) == before
    with schema_context("acme"):
        assert PeriodicTask.objects.get(name="shared-name").crontab is not None


def test_acmes_export_contains_nothing_of_globex(
    acme: Tenant, globex: Tenant, alice: User, bob: User
) -> None:
    day = timezone.now() - dt.timedelta(days=1)
    jobruns_make(acme, 2, day=day)
    jobruns_make(globex, 3, day=day, task="globex.secret_job")
    audit_record(actor=None, action="globex.secret_action", tenant=globex)
    audit_record(actor=None, action="acme.action", tenant=acme)
    session_make("acme", alice, user_agent="acme-agent")
    session_make("globex", bob, user_agent="globex-agent")
    periodic("globex", "globex-secret-schedule", 9)
    secret = artifact_make(globex, title="globex secret file")
    DownloadEvent.objects.create(tenant=globex, artifact=secret, via="portal", outcome="sent",
                                 username="globex-downloader")  # fmt: skip
    with tenant_context(acme):
        artifact = tenant_export(tenant=acme, requested_by=alice)
    assert (artifact.tenant_id, artifact.kind, artifact.audience) == (acme.pk, "export", "owners")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(bytes_read(artifact.storage_key))))
    names = set(archive.namelist())
    assert {"manifest.json", "members.csv", "members.json", "schedules.csv", "jobs.csv", "audit.csv",
            "sessions.csv", "downloads.json"} <= names  # fmt: skip
    everything = b"".join(archive.read(name) for name in names).decode()
    for marker in ("globex", "bob@example.com", "globex-agent", "globex.secret_job"):
        assert marker not in everything.lower(), marker
    assert "alice@example.com" in everything and "acme-agent" in everything
    assert "acme.action" in everything


def test_sessions_are_never_read_from_another_schema(acme: Tenant, globex: Tenant) -> None:
    with tenant_context(globex), pytest.raises(RuntimeError, match="own schema"):
        resource_get("sessions").export_rows(tenant=acme)


def test_an_upload_made_in_acmes_admin_cannot_be_seen_or_confirmed_from_globexs(
    operator_client: Client, alice: User
) -> None:
    operator_client.post("/admin/t/acme/dataport/importrun/import/members/",
                         {"file": SimpleUploadedFile("m.csv", b"email\nbad\nnew@example.com\n")})  # fmt: skip
    run = ImportRun.objects.get()
    assert run.tenant.slug == "acme" and run.state == ImportRun.State.CHECKED
    other = "/admin/t/globex/dataport/importrun/"
    assert (
        operator_client.post(f"{other}run/{run.pk}/confirm/", {"skip_invalid": "on"}).status_code
        == 404
    )
    assert operator_client.get(f"{other}run/{run.pk}/").status_code == 404
    assert operator_client.get(f"{other}run/{run.pk}/failed-rows/").status_code == 404
    assert operator_client.post(f"{other}run/{run.pk}/cancel/").status_code == 404
    assert "bad" not in operator_client.get(other).content.decode()
    run.refresh_from_db()
    assert run.state == ImportRun.State.CHECKED
    assert not User.objects.filter(email="new@example.com").exists()
