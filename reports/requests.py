"""Asking for a report now (staff from the admin, owners from the portal): the form, the
default period, the per-tenant rate limit and the send. The job itself is reports.tasks."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from jobs.api import task_enqueue
from reports.data import Period, ReportKind
from reports.tasks import report_generate_task
from saas.ratelimit import budget_admit
from tenants.models import Tenant

MAX_DAYS = 366


def report_period_default(*, tenant: Tenant, now: dt.datetime | None = None) -> Period:
    """The last 7 days, today included, in the tenant's zone."""
    today = (now or timezone.now()).astimezone(ZoneInfo(tenant.timezone)).date()
    return Period(today - dt.timedelta(days=6), today)


class ReportRequestForm(forms.Form):
    kind = forms.ChoiceField(label="Report")
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(
        self, *args: Any, tenant: Tenant, kinds: frozenset[ReportKind] | None = None,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        period = report_period_default(tenant=tenant)
        kwargs.setdefault("initial", {"kind": ReportKind.ACTIVITY.value, "start": period.start,
                                      "end": period.end})  # fmt: skip
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        allowed = kinds if kinds is not None else frozenset(ReportKind)
        kind = self.fields["kind"]
        assert isinstance(kind, forms.ChoiceField)
        kind.choices = [(k.value, k.label) for k in ReportKind if k in allowed]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError("The period ends on or after its start.")
            if (end - start).days >= MAX_DAYS:
                raise forms.ValidationError(f"A report covers at most {MAX_DAYS} days.")
            data["period"] = Period(start, end)
        return data


def report_enqueue(
    *, tenant: Tenant, kind: ReportKind, period: Period, requested_by: User | None
) -> str:
    """Send the report job for `tenant` (its JobRun at once, the message on commit); returns
    the task id."""
    return task_enqueue(
        report_generate_task, tenant=tenant,
        kwargs={"kind": kind.value, "start": period.start.isoformat(),
                "end": period.end.isoformat(),
                "requested_by": requested_by.pk if requested_by is not None else None},
    )  # fmt: skip


def report_request_admit(*, tenant: Tenant) -> bool:
    """Count one portal request against the tenant's budget (REPORT_REQUESTS_PER_HOUR, one
    hour from the first); False once it is spent."""
    return budget_admit(
        f"report-requests:{tenant.pk}", limit=settings.REPORT_REQUESTS_PER_HOUR, window_s=3600
    )
