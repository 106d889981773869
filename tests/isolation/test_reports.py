"""A tenant's reports show its own data only: acme's activity, job history and access reports
name no globex member, job, error or count, even with carol in both and globex busier."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django_tenants.utils import tenant_context

from accounts.models import User
from artifacts.models import Artifact, DownloadEvent, ShareLink
from reports.data import Period, ReportKind
from reports.services import report_generate
from tenants.models import Tenant
from tests.helpers import artifact_make, jobruns_make, pdf_text, report_stored_pdf, session_make

PERIOD = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 8))
TUESDAY = dt.datetime(2026, 3, 3, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
GENERATED = dt.datetime(2026, 3, 9, 6, 0, tzinfo=ZoneInfo("Europe/Paris"))


def _text(tenant: Tenant, kind: ReportKind) -> str:
    with tenant_context(tenant):
        # Pinned: a generation time read off the clock could hold "37" or "41" by chance.
        report = report_generate(tenant=tenant, kind=kind, period=PERIOD, now=GENERATED)
    artifact, path = report_stored_pdf(
        report.artifact_id, f"isolation-{tenant.slug}-{kind.value}.pdf"
    )
    # Written for this tenant only: its row, and its bytes under its own id in the store.
    assert artifact.tenant_id == tenant.pk
    assert artifact.storage_key.startswith(f"{tenant.pk}/report/")
    return pdf_text(path)


@pytest.mark.usefixtures("artifacts_root")
def test_acmes_reports_show_no_globex_names_or_counts(
    acme: Tenant, globex: Tenant, alice: User, bob: User, carol: User
) -> None:
    jobruns_make(acme, 5, day=TUESDAY)
    jobruns_make(globex, 37, day=TUESDAY, task="globex.secret_task")
    jobruns_make(globex, 4, day=TUESDAY, state="failed", error="globex-secret-error")
    session_make("globex", bob)
    session_make("globex", carol)
    session_make("acme", alice)
    # Downloads and share links: acme's and globex's, in the same period.
    for tenant, user, name in ((acme, alice, "acme-plan.pdf"), (globex, bob, "globex-secret.pdf")):
        file = artifact_make(tenant, filename=name, kind="export", audience="members")
        DownloadEvent.objects.create(at=TUESDAY, tenant=tenant, artifact=file, user=user,
                                     username=user.username, via="portal", outcome="sent")  # fmt: skip
        ShareLink.objects.create(artifact=file, token_hash=f"hash-{tenant.slug}", created_by=user,
                                 created_at=TUESDAY, expires_at=TUESDAY + dt.timedelta(days=3))  # fmt: skip

    activity = _text(acme, ReportKind.ACTIVITY)
    assert "acme-plan.pdf" in activity  # its download, in the downloads section
    # an owners-only file's download is not named in a report every member reads
    hidden = artifact_make(acme, filename="owners-payroll.csv", kind="export")
    DownloadEvent.objects.create(at=TUESDAY, tenant=acme, artifact=hidden, user=alice,
                                 username="alice", via="portal", outcome="sent")  # fmt: skip
    assert "owners-payroll.csv" not in _text(acme, ReportKind.ACTIVITY)
    assert "Jobs per day by state (5 in the period)" in activity
    history = _text(acme, ReportKind.JOB_HISTORY)
    assert "5 jobs" in history and "acme job 4" in history
    access = _text(acme, ReportKind.ACCESS)
    assert "alice" in access and "carol" in access and "2 members" in access
    assert "acme-plan.pdf" in access  # its share link

    for text in (activity, history, access):
        assert "globex" not in text.lower() and "bob" not in text
        assert "41" not in text and "37" not in text  # globex's job counts

    # And the other way round: globex's report has its own figures.
    assert "Jobs per day by state (41 in the period)" in _text(globex, ReportKind.ACTIVITY)
    # acme's three reports are acme's rows, none globex's (whose one report is its own).
    assert Artifact.objects.filter(tenant=acme, kind="report").count() == 4  # activity twice
    assert Artifact.objects.filter(tenant=globex, kind="report").count() == 1
