"""Members and schedules imports through the services: the dry run's preview, the apply (all
or nothing, or skipping invalid rows), row errors and the failed-rows file, bad files."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django_celery_beat.models import PeriodicTask
from django_tenants.utils import schema_context, tenant_context

from accounts.models import User
from artifacts.storage import bytes_read
from dataport.imports import import_apply, import_check, import_confirm, import_upload
from dataport.models import ImportRun
from tenants.models import Membership, Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _storage(artifacts_root: Any) -> Iterator[None]:
    yield


def run_of(tenant: Tenant, data: bytes | str, *, resource: str = "members", name: str = "f.csv",
           user: User | None = None) -> ImportRun:  # fmt: skip
    raw = data.encode() if isinstance(data, str) else data
    run = import_upload(tenant=tenant, resource_name=resource, filename=name,
                        content=io.BytesIO(raw), size=len(raw), user=user)  # fmt: skip
    with tenant_context(tenant):
        return import_check(run=run)


def apply(run: ImportRun, *, skip_invalid: bool = False) -> ImportRun:
    assert import_confirm(run=run, skip_invalid=skip_invalid)
    with tenant_context(run.tenant):
        return import_apply(run=run, actor=None)


def failed_rows(run: ImportRun) -> list[list[str]]:
    assert run.errors_file is not None
    text = b"".join(bytes_read(run.errors_file.storage_key)).decode()
    return list(csv.reader(io.StringIO(text)))


def test_a_members_dry_run_previews_and_writes_nothing(acme: Tenant, alice: User) -> None:
    users = User.objects.count()
    run = run_of(acme, "email,name,role\nalice@example.com,Alice Renamed,member\n"
                       "new@example.com,New Person,member\nNEW2@example.com,,owner\n")  # fmt: skip
    assert run.state == ImportRun.State.CHECKED
    assert run.counts == {"rows": 3, "new": 2, "changed": 1}
    assert [p["action"] for p in run.preview] == ["changed", "new", "new"]
    assert run.preview[0]["changes"] == {"role": ["owner", "member"]}
    assert User.objects.count() == users
    assert Membership.objects.get(user=alice).role == "owner"


def test_applying_members_links_existing_users_and_invites_new_ones_after_commit(
    acme: Tenant, alice: User, carol: User, django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:  # fmt: skip
    settings.DATAPORT_INVITE_ON_IMPORT = True
    carol.first_name = "Carol"
    carol.save()
    password = carol.password
    run = run_of(acme, "email,name,role\nCAROL@example.com,Someone Else,owner\n"
                       "dora@example.com,Dora Explorer,member\n")  # fmt: skip
    with django_capture_on_commit_callbacks() as callbacks:
        run = apply(run)
    assert run.state == ImportRun.State.APPLIED, run.message
    assert run.counts == {"rows": 2, "new": 1, "changed": 1}
    carol.refresh_from_db()
    assert (carol.first_name, carol.password) == ("Carol", password)  # never changed
    assert Membership.objects.get(user=carol, tenant=acme).role == "owner"
    dora = User.objects.get(email="dora@example.com")
    assert (dora.first_name, dora.last_name, dora.has_usable_password()) == (
        "Dora",
        "Explorer",
        False,
    )
    assert list(Membership.objects.filter(user=dora).values_list("tenant__slug", flat=True)) == [
        "acme"
    ]
    assert len(callbacks) == 1  # one batch of invitations, sent on commit, not before
    assert mail.outbox == []


def test_row_errors_name_row_and_column_and_all_or_nothing_writes_nothing(
    acme: Tenant, alice: User
) -> None:
    data = ("email,name,role\nok@example.com,Ok,member\nnot-an-email,X,member\n"
            "ok2@example.com,,boss\nOK@example.com,Dup,member\n")  # fmt: skip
    run = run_of(acme, data)
    assert run.counts == {"rows": 4, "new": 1, "error": 3}
    assert sorted(run.errors, key=lambda e: e["row"]) == [
        {"row": 3, "column": "email", "message": "“not-an-email” is not an email address."},
        {"row": 4, "column": "role", "message": "“boss” is not a role: use owner or member."},
        {
            "row": 5,
            "column": "email",
            "message": "“OK@example.com” is also in row 2: a key appears once in a file.",
        },
    ]
    rows = failed_rows(run)
    assert rows[0] == ["email", "name", "role", "errors"]
    assert [r[0] for r in rows[1:]] == ["not-an-email", "ok2@example.com", "OK@example.com"]
    assert "boss" in rows[2][3]
    run = apply(run)
    assert run.state == ImportRun.State.FAILED
    assert "Nothing was imported" in run.message
    assert not User.objects.filter(email__startswith="ok").exists()


def test_skipping_invalid_rows_imports_the_rest(acme: Tenant, alice: User) -> None:
    run = apply(run_of(acme, "email,role\nok@example.com,member\nbad,member\n"), skip_invalid=True)
    assert run.state == ImportRun.State.APPLIED
    assert run.counts == {"rows": 2, "new": 1, "error": 1}
    assert Membership.objects.filter(tenant=acme, user__email="ok@example.com").exists()
    assert failed_rows(run)[1][0] == "bad"


def test_the_failed_rows_file_fixed_imports_cleanly(acme: Tenant, alice: User) -> None:
    run = run_of(acme, "email,role\nfixme,member\n")
    rows = failed_rows(run)
    rows[1][0] = "fixed@example.com"
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    again = apply(run_of(acme, out.getvalue()))
    assert again.state == ImportRun.State.APPLIED and again.counts["new"] == 1


def test_an_import_cannot_leave_the_tenant_without_an_owner(acme: Tenant, alice: User) -> None:
    run = run_of(acme, "email,role\nalice@example.com,member\n")
    assert run.state == ImportRun.State.CHECKED
    assert "without an owner" in run.message
    run = apply(run)
    assert run.state == ImportRun.State.FAILED
    assert Membership.objects.get(user=alice).role == "owner"


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        ("email,name\nann@x.org,Andr\xe9\n".encode("latin-1"), "m.csv", "not UTF-8"),
        (b"email;role\na@x.org;member\n", "m.csv", "semicolons"),
        (b"email,shoe\na@x.org,4\n", "m.csv", "unknown column: shoe"),
        (b'{"email": "a@x.org"}', "m.json", "list of objects"),
        (b"email\na@x.org\n", "m.xlsx", "not an Excel workbook"),
    ],
)
def test_a_bad_file_is_refused_with_its_reason_and_writes_nothing(
    acme: Tenant, alice: User, data: bytes, name: str, words: str
) -> None:
    users = User.objects.count()
    run = run_of(acme, data, name=name)
    assert run.state == ImportRun.State.REFUSED
    assert words in run.message
    assert User.objects.count() == users
    assert not import_confirm(run=run, skip_invalid=True)  # a refused file cannot be applied


def test_uploads_over_the_size_limit_or_of_another_format_are_refused(
    acme: Tenant, settings: Any
) -> None:
    from dataport.formats import FileRefused

    settings.DATAPORT_MAX_MB = 1
    big = b"email\n" + b"x" * (1024 * 1024 + 1)
    for data, name, words in ((big, "m.csv", "at most 1 MB"), (b"email\n", "m.txt", ".csv, .xlsx"),
                              (b"", "m.csv", "empty")):  # fmt: skip
        with pytest.raises(FileRefused, match=words):
            import_upload(tenant=acme, resource_name="members", filename=name,
                          content=io.BytesIO(data), size=len(data), user=None)  # fmt: skip
    assert not ImportRun.objects.exists()


def test_the_row_limit_refuses_the_whole_file(acme: Tenant, alice: User, settings: Any) -> None:
    settings.DATAPORT_MAX_ROWS = 3
    run = run_of(acme, "email\n" + "".join(f"u{i}@example.com\n" for i in range(4)))
    assert run.state == ImportRun.State.REFUSED and "more than 3 rows" in run.message


SCHEDULES = (
    "name,task,enabled,cron,interval,args,kwargs,catch_up,description,queue\n"
    "nightly-count,tenants.tasks.tenant_tables_count_task,true,0 3 * * *,,[],{},false,Count,\n"
    "often,tenants.tasks.tenant_tables_count_task,false,,15 minutes,,,,,\n"
)


def test_schedules_import_through_the_schedule_form_in_the_tenant_zone(acme: Tenant) -> None:
    run = run_of(acme, SCHEDULES, resource="schedules")
    assert run.counts == {"rows": 2, "new": 2}, run.errors
    run = apply(run)
    assert run.state == ImportRun.State.APPLIED, run.message
    with schema_context("acme"):
        nightly = PeriodicTask.objects.select_related("crontab", "state").get(name="nightly-count")
        assert str(nightly.crontab.timezone) == "Europe/Paris"
        assert (nightly.crontab.hour, nightly.state.catch_up, nightly.enabled) == ("3", False, True)
        often = PeriodicTask.objects.select_related("interval").get(name="often")
        assert (often.interval.every, often.interval.period, often.enabled) == (
            15,
            "minutes",
            False,
        )
    again = run_of(acme, SCHEDULES.replace("0 3 * * *", "0 4 * * *"), resource="schedules")
    assert again.counts == {"rows": 2, "changed": 1, "unchanged": 1}, again.preview
    assert again.preview[0]["changes"] == {"cron": ["0 3 * * *", "0 4 * * *"]}


def test_schedule_rows_the_form_refuses_are_row_errors(acme: Tenant) -> None:
    data = (
        "name,task,cron,kwargs\n"
        "a,reports.tasks.nope,0 3 * * *,{}\n"
        "b,backoffice.tasks.jobruns_reap_task,0 3 * * *,{}\n"  # a platform task
        "c,tenants.tasks.tenant_tables_count_task,0 3 31 2 *,{}\n"
        'd,tenants.tasks.tenant_tables_count_task,0 3 * * *,{"nope": 1}\n'
        "e,tenants.tasks.tenant_tables_count_task,,{}\n"
    )
    run = run_of(acme, data, resource="schedules")
    assert run.counts == {"rows": 5, "error": 5}
    by_row = {e["row"]: (e["column"], e["message"]) for e in run.errors}
    assert by_row[2][0] == by_row[3][0] == "task"
    assert by_row[4][0] == "cron" and "never occurs" in by_row[4][1]
    assert by_row[5][0] == "kwargs" and "do not fit" in by_row[5][1]
    assert by_row[6][0] == "cron" and "Choose a schedule" in by_row[6][1]


def test_the_demo_samples_import_as_the_readme_says(acme: Tenant, alice: User) -> None:
    from pathlib import Path

    samples = Path(__file__).resolve().parents[2] / "dataport" / "samples"
    members = run_of(acme, (samples / "members.csv").read_bytes())
    assert members.counts == {"rows": 3, "new": 3}, members.errors
    bad = run_of(acme, (samples / "members-with-errors.csv").read_bytes())
    assert bad.counts == {"rows": 4, "new": 1, "error": 3}
    schedules = run_of(acme, (samples / "schedules.csv").read_bytes(), resource="schedules")
    assert schedules.counts == {"rows": 2, "new": 2}, schedules.errors
