"""Report jobs: one per tenant and report, sent by the weekly default schedule (the activity of
last week) or by hand with a kind and a period."""

from __future__ import annotations

import datetime as dt
import smtplib
from typing import Any

from accounts.models import User
from jobs.api import tenant_task
from jobs.errors import TRANSIENT_ERRORS
from reports.data import Period, ReportKind
from reports.delivery import report_deliver_for
from reports.services import report_generate, report_period_last_week, report_summary
from tenants.context import connection_tenant
from tenants.models import Tenant


@tenant_task(name="reports.tasks.report_generate_task", long_running=True)
def report_generate_task(
    self: Any,
    kind: str = ReportKind.ACTIVITY.value,
    start: str = "",
    end: str = "",
    requested_by: int | None = None,
) -> dict[str, Any]:
    """Make one report of the tenant for `start`..`end` (ISO dates, both included; default:
    last week, Monday to Sunday, in the tenant's zone) and store it as an artifact, linked to
    this job and to the user who asked (`requested_by`, a user id; none for the schedule).
    Progress: select, render (rows of the job history), store."""
    tenant = connection_tenant()
    if not isinstance(tenant, Tenant):
        raise RuntimeError("report_generate_task runs in a tenant's schema")
    period = (
        Period(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
        if start and end
        else report_period_last_week(tenant=tenant)
    )
    self.progress(0, None, "selecting")
    requester = User.objects.filter(pk=requested_by).first() if requested_by else None
    report = report_generate(
        tenant=tenant, kind=ReportKind(kind), period=period, progress=self.progress,
        job_task_id=str(self.request.id or ""), requested_by=requester,
    )  # fmt: skip
    self.progress(report.pages, report.pages, f"{report.pages} pages")
    # Its own job, one per stored report (the id makes a second send of it a no-op): a report
    # delivered twice (this job redelivered) tells its recipients once.
    assert report.artifact_id is not None
    report_deliver_task.apply_async((report.artifact_id,),
                                    task_id=f"report-deliver-{report.artifact_id}")  # fmt: skip
    return report_summary(report)


@tenant_task(
    name="reports.tasks.report_deliver_task",
    schedulable=False,
    # A mail server away or refusing: tried again with backoff, the report itself untouched.
    autoretry_for=(OSError, smtplib.SMTPException, *TRANSIENT_ERRORS),
    max_retries=6,
)
def report_deliver_task(self: Any, artifact_id: int) -> dict[str, Any]:
    """Email the tenant's report recipients a link to Downloads for the stored report."""
    tenant = connection_tenant()
    if not isinstance(tenant, Tenant):
        raise RuntimeError("report_deliver_task runs in a tenant's schema")
    return {"emails": report_deliver_for(tenant=tenant, artifact_id=artifact_id)}
