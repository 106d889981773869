"""Selectors on real data, and the report job on a real worker."""

from __future__ import annotations

import datetime as dt
import hashlib
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import User
from artifacts.models import Artifact
from backups.models import Backup
from reports.data import Period, ReportKind
from reports.delivery import report_recipients_set
from reports.selectors import report_access_select, report_activity_select
from reports.services import report_allowed, report_generate, report_period_last_week
from reports.tasks import report_generate_task
from schedules.defaults import default_schedules
from tenants.models import Tenant
from tests.helpers import (
    jobruns_make,
    pdf_text,
    report_stored_pdf,
    session_make,
    wait_for_state,
)

PARIS = ZoneInfo("Europe/Paris")
PERIOD = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 8))
MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=PARIS)


def test_activity_counts_the_tenants_jobs_failures_and_sign_ins(acme: Tenant, alice: User) -> None:
    jobruns_make(acme, 7, day=MONDAY)
    jobruns_make(acme, 2, day=MONDAY + dt.timedelta(days=2), state="failed", error="no space")
    jobruns_make(acme, 3, day=MONDAY - dt.timedelta(days=1))  # the Sunday before: not counted
    session_make("acme", alice)
    with tenant_context(acme):
        data = report_activity_select(acme, report_period_last_week(tenant=acme))
        week = report_activity_select(acme, PERIOD)
    assert sum(d.signins for d in data.access_by_day) == 0  # the session is from today
    assert [d.total for d in week.jobs_by_day] == [7, 0, 2, 0, 0, 0, 0]
    assert week.failures_total == 2 and week.failures[0].error_message == "no space"
    assert week.meta.zone == "Europe/Paris" and week.meta.brand_color == "#1f4e79"


def test_activity_lists_the_periods_backups_of_this_tenant_oldest_first(
    acme: Tenant, globex: Tenant
) -> None:
    def backup(tenant: Tenant, at: dt.datetime, size: int, **fields: object) -> None:
        Backup.objects.create(tenant=tenant, kind="scheduled", schema_name=tenant.schema_name,
                              started_at=at, size=size, **fields)  # fmt: skip

    backup(acme, MONDAY + dt.timedelta(days=1), 2_000_000, state="succeeded",
           verification="passed")  # fmt: skip
    backup(acme, MONDAY, 1_000_000, state="succeeded", encrypted=True)
    backup(acme, MONDAY + dt.timedelta(days=2), 0, state="failed")  # no size: not charted
    backup(acme, MONDAY - dt.timedelta(hours=10), 5, state="succeeded")  # the Sunday before
    backup(globex, MONDAY, 9_999_999, state="succeeded")
    with tenant_context(acme):
        week = report_activity_select(acme, PERIOD)
    assert [(b.at, b.size_bytes, b.verified, b.name) for b in week.backups] == [
        (MONDAY, 1_000_000, False, "Scheduled, encrypted"),
        (MONDAY + dt.timedelta(days=1), 2_000_000, True, "Scheduled"),
    ]


def test_access_lists_members_with_role_last_sign_in_and_live_sessions(
    acme: Tenant, alice: User, carol: User
) -> None:
    session_make("acme", alice)
    session_make("acme", alice)
    with tenant_context(acme):
        data = report_access_select(acme, PERIOD)
    by_name = {m.username: m for m in data.members}
    assert set(by_name) == {"alice", "carol"}
    assert (by_name["alice"].role, by_name["alice"].active_sessions) == ("owner", 2)
    assert (by_name["carol"].role, by_name["carol"].active_sessions) == ("member", 0)
    assert report_allowed(kind=ReportKind.ACCESS, role="owner")
    assert not report_allowed(kind=ReportKind.ACCESS, role="member")


def test_selectors_refuse_to_read_sessions_outside_the_tenants_schema(acme: Tenant) -> None:
    with pytest.raises(RuntimeError, match="not its own"):
        report_access_select(acme, PERIOD)


@pytest.mark.usefixtures("artifacts_root")
def test_generate_stores_the_pdf_as_a_report_artifact(acme: Tenant, alice: User) -> None:
    acme.name = "Acme <b>Corp</b>"
    acme.brand_color = "#0b6e4f"
    acme.save()
    jobruns_make(acme, 130, day=MONDAY)
    with tenant_context(acme):
        report = report_generate(tenant=acme, kind=ReportKind.JOB_HISTORY, period=PERIOD,
                                 job_task_id="job-1", requested_by=alice)  # fmt: skip
    artifact, path = report_stored_pdf(report.artifact_id, "job-history-db.pdf")
    assert report.path == ""  # the temporary file is gone once stored
    assert artifact.sha256 == report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (artifact.size, artifact.kind, artifact.tenant_id) == (report.size, "report", acme.pk)
    assert (artifact.job_task_id, artifact.requested_by) == ("job-1", alice)
    assert artifact.audience == "members" and artifact.content_type == "application/pdf"
    assert artifact.title == "Job history, 2 Mar 2026 to 8 Mar 2026"
    assert artifact.filename == "acme-job_history-2026-03-02-2026-03-08.pdf"
    assert report.pages == 4  # chart page + 3 of rows
    text = pdf_text(path)
    assert "Acme <b>Corp</b>" in text and "acme job 129" in text and "130 jobs" in text


@pytest.mark.usefixtures("artifacts_root")
def test_the_access_report_is_for_owners_only_and_a_second_run_of_a_job_stores_nothing(
    acme: Tenant, alice: User
) -> None:
    with tenant_context(acme):
        first = report_generate(tenant=acme, kind=ReportKind.ACCESS, period=PERIOD,
                                job_task_id="job-2")  # fmt: skip
        again = report_generate(tenant=acme, kind=ReportKind.ACCESS, period=PERIOD,
                                job_task_id="job-2")  # fmt: skip
    artifact, path = report_stored_pdf(first.artifact_id, "access-db.pdf")
    assert artifact.audience == "owners" and "alice" in pdf_text(path)
    assert again.artifact_id == first.artifact_id
    assert Artifact.objects.filter(job_task_id="job-2").count() == 1


def test_every_tenant_gets_a_weekly_activity_report_on_monday_morning() -> None:
    weekly = {d.name: d for d in default_schedules()}["reports-activity-weekly"]
    assert (weekly.task, weekly.cron, weekly.kwargs) == (
        "reports.tasks.report_generate_task", "0 6 * * 1", {"kind": "activity"},
    )  # fmt: skip
    # Run on a Monday (Paris), it covers the week that just ended.
    acme = Tenant(slug="x", timezone="Europe/Paris")
    monday_6 = dt.datetime(2026, 3, 9, 6, 0, tzinfo=PARIS)
    assert report_period_last_week(tenant=acme, now=monday_6) == PERIOD


@pytest.mark.usefixtures("live_db", "celery_worker", "artifacts_root")
def test_the_report_job_runs_in_the_tenant_and_stores_the_artifact() -> None:
    acme = Tenant.objects.get(slug="acme")
    jobruns_make(acme, 5, day=dt.datetime(2026, 3, 3, 9, tzinfo=PARIS))
    with tenant_context(acme):
        report_recipients_set(emails=["boss@acme.example"])
    mail.outbox.clear()
    result = report_generate_task.delay_for(
        acme, kind="activity", start="2026-03-02", end="2026-03-08"
    )
    run = wait_for_state(result.id, "succeeded")
    summary = run.result_summary
    assert summary is not None and summary["kind"] == "activity" and summary["pages"] >= 2
    artifact, path = report_stored_pdf(summary["artifact_id"], "activity-job.pdf")
    assert artifact.tenant_id == acme.pk and artifact.job_task_id == result.id
    assert hashlib.sha256(path.read_bytes()).hexdigest() == summary["sha256"] == artifact.sha256
    assert "Jobs per day by state (5 in the period)" in pdf_text(path)
    assert run.progress_done == run.progress_total == summary["pages"]
    assert run.queue == "long" and run.tenant_slug == "acme"
    assert timezone.now() - run.finished_at < dt.timedelta(minutes=1)  # type: ignore[operator]
    # The recipients are told by a job of its own, once.
    delivery = wait_for_state(f"report-deliver-{artifact.pk}", "succeeded")
    assert delivery.tenant_slug == "acme" and delivery.result_summary == {"emails": 1}
    assert [m.to for m in mail.outbox] == [["boss@acme.example"]]
    with tenant_context(acme):
        report_recipients_set(emails=[])
