"""Import and export in a tenant's admin: the pages, the permissions (Viewers export only),
upload → preview → confirm, the failed rows, the tenant data export job."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import Workbook

from accounts.models import User
from backoffice.models import AuditEntry
from dataport.models import ImportRun
from jobs.models import JobRun
from tenants.models import Membership, Tenant

pytestmark = pytest.mark.django_db
BASE = "/admin/t/acme/dataport/importrun/"


@pytest.fixture(autouse=True)
def _storage(artifacts_root: Any) -> Iterator[None]:
    yield


def upload(
    client: Client, data: bytes, name: str = "members.csv", resource: str = "members"
) -> Any:
    return client.post(f"{BASE}import/{resource}/", {"file": SimpleUploadedFile(name, data)})


def test_the_page_lists_every_resource_with_exports_and_imports(operator_client: Client) -> None:
    body = operator_client.get(f"{BASE}transfer/").content.decode()
    for title in (
        "Members",
        "Schedules",
        "Job history",
        "Audit entries",
        "Sessions",
        "Download audit",
    ):
        assert title in body
    assert "Import members" in body and "Import schedules" in body
    assert "Export everything" in body


def test_viewers_export_but_never_import(viewer_client: Client, alice: User) -> None:
    body = viewer_client.get(f"{BASE}transfer/").content.decode()
    assert "Import members" not in body and "Export everything" not in body
    response = viewer_client.get(f"{BASE}export/members/csv/")
    assert response.status_code == 200
    assert b"alice@example.com" in b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert viewer_client.get(f"{BASE}import/members/").status_code == 403
    assert upload(viewer_client, b"email\nx@example.com\n").status_code == 403
    assert viewer_client.post(f"{BASE}export-all/").status_code == 403
    assert not ImportRun.objects.exists()


def test_upload_preview_confirm(operator_client: Client, alice: User) -> None:
    response = upload(operator_client, b"email,name,role\nnew@example.com,New One,member\n")
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"run/{run.pk}/")
    page = operator_client.get(response["Location"]).content.decode()
    assert "Checked: waiting for confirmation" in page and "new@example.com" in page
    assert "Confirm the import" in page
    assert not User.objects.filter(email="new@example.com").exists()
    operator_client.post(f"{BASE}run/{run.pk}/confirm/")
    run.refresh_from_db()
    assert run.state == ImportRun.State.APPLIED
    assert Membership.objects.filter(tenant__slug="acme", user__email="new@example.com").exists()
    assert AuditEntry.objects.filter(action="import.apply", tenant_slug="acme").exists()
    # A second confirmation does nothing more.
    operator_client.post(f"{BASE}run/{run.pk}/confirm/")
    assert AuditEntry.objects.filter(action="import.apply").count() == 1


def test_a_bad_file_shows_its_errors_row_by_row_and_the_failed_rows(
    operator_client: Client, alice: User
) -> None:
    upload(
        operator_client, b"email,role\nok@example.com,member\nwrong,member\nz@example.com,king\n"
    )
    run = ImportRun.objects.get()
    page = operator_client.get(f"{BASE}run/{run.pk}/").content.decode()
    assert "“wrong” is not an email address." in page and "“king” is not a role" in page
    assert "Skip the 2 rows with errors" in page
    response = operator_client.get(f"{BASE}run/{run.pk}/failed-rows/")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert [r[0] for r in rows] == ["email", "wrong", "z@example.com"]
    operator_client.post(f"{BASE}run/{run.pk}/confirm/")
    run.refresh_from_db()
    assert run.state == ImportRun.State.FAILED
    assert not User.objects.filter(email="ok@example.com").exists()


def test_a_refused_file_says_why_and_xlsx_uploads_work(
    operator_client: Client, alice: User
) -> None:
    upload(operator_client, b"email;role\nx@example.com;member\n")
    page = operator_client.get(f"{BASE}run/{ImportRun.objects.get().pk}/").content.decode()
    assert "separated by semicolons" in page and "Confirm the import" not in page
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["email", "name", "role"])
    sheet.append(["xl@example.com", "Excel User", "member"])
    out = io.BytesIO()
    book.save(out)
    upload(operator_client, out.getvalue(), name="members.xlsx")
    run = ImportRun.objects.order_by("-pk").first()
    assert run is not None and run.state == ImportRun.State.CHECKED and run.counts["new"] == 1


def test_large_files_are_checked_by_a_job(
    operator_client: Client, alice: User, settings: Any
) -> None:
    settings.DATAPORT_SYNC_MAX_KB = 0
    upload(operator_client, b"email\nnew@example.com\n")
    run = ImportRun.objects.get()
    assert run.state == ImportRun.State.UPLOADED and run.check_task_id
    job = JobRun.objects.get(task_id=run.check_task_id)
    assert (job.task_name, job.tenant_slug) == ("dataport.tasks.import_check_task", "acme")
    page = operator_client.get(f"{BASE}run/{run.pk}/").content.decode()
    assert 'http-equiv="refresh"' in page


def test_exports_escape_formulas_in_every_spreadsheet_format(
    operator_client: Client, acme: Tenant
) -> None:
    user = User.objects.create(username="evil", email="evil@example.com", first_name="==1+1",
                               last_name="@SUM(1)")  # fmt: skip
    Membership.objects.create(user=user, tenant=acme)
    body = b"".join(operator_client.get(f"{BASE}export/members/csv/").streaming_content)  # type: ignore[attr-defined]
    assert "'==1+1 @SUM(1)" in body.decode()
    assert operator_client.get(f"{BASE}export/members/xlsx/").status_code == 200
    assert operator_client.get(f"{BASE}export/nothing/csv/").status_code == 404
    assert operator_client.get(f"{BASE}export/members/txt/").status_code == 404


def test_export_everything_starts_the_job_and_lands_on_it(operator_client: Client) -> None:
    response = operator_client.post(f"{BASE}export-all/")
    job = JobRun.objects.get(task_name="dataport.tasks.tenant_export_task")
    assert job.tenant_slug == "acme" and response.status_code == 302


def test_staff_copy_acmes_schedules_to_globex_by_export_and_import(operator_client: Client) -> None:
    from django_celery_beat.models import PeriodicTask
    from django_tenants.utils import schema_context

    from schedules.services import crontab_ensure

    with schema_context("acme"):
        PeriodicTask.objects.create(name="acme-special", task="tenants.tasks.tenant_tables_count_task",
                                    crontab=crontab_ensure("15 4 * * 1-5", "Europe/Paris"),
                                    kwargs="{}", description="=cmd")  # fmt: skip
    exported = operator_client.get(f"{BASE}export/schedules/csv/")
    data = b"".join(exported.streaming_content)  # type: ignore[attr-defined]
    assert b"acme-special" in data and b"'=cmd" in data
    globex = "/admin/t/globex/dataport/importrun/"
    operator_client.post(f"{globex}import/schedules/", {"file": SimpleUploadedFile("s.csv", data)})
    run = ImportRun.objects.get(tenant__slug="globex")
    assert run.counts["new"] == 1 and not run.counts.get("error"), run.errors
    operator_client.post(f"{globex}run/{run.pk}/confirm/")
    with schema_context("globex"):
        copied = PeriodicTask.objects.select_related("crontab").get(name="acme-special")
    assert (copied.crontab.minute, copied.crontab.hour, copied.crontab.day_of_week) == (
        "15",
        "4",
        "1-5",
    )
    assert str(copied.crontab.timezone) == Tenant.objects.get(slug="globex").timezone
    assert copied.description == "=cmd"  # the export's escaping is undone on import


def test_an_upload_past_the_storage_quota_is_a_form_error(
    operator_client: Client, acme: Tenant
) -> None:
    Tenant.objects.filter(pk=acme.pk).update(storage_quota_mb=1)
    data = b"email\n" + b"".join(b"person%07d@example.com\n" % i for i in range(50_000))
    body = upload(operator_client, data).content.decode()
    assert "storage quota of 1 MB" in body
    assert not ImportRun.objects.exists()


def test_the_schedules_list_links_to_their_import_and_export(
    operator_client: Client, viewer_client: Client
) -> None:
    body = operator_client.get("/admin/t/acme/django_celery_beat/periodictask/").content.decode()
    assert (
        f'href="{BASE}import/schedules/"' in body and f'href="{BASE}export/schedules/csv/"' in body
    )
    body = viewer_client.get("/admin/t/acme/django_celery_beat/periodictask/").content.decode()
    assert "Import schedules" not in body and f'href="{BASE}export/schedules/csv/"' in body
    platform = operator_client.get("/admin/django_celery_beat/periodictask/").content.decode()
    assert "schedules-transfer" not in platform
