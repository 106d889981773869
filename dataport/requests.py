"""Asking for the tenant data export now: staff from the admin, owners from the portal (at most
DATAPORT_EXPORTS_PER_HOUR per tenant and hour). The job itself is dataport.tasks."""

from __future__ import annotations

from django.conf import settings

from accounts.models import User
from dataport.tasks import tenant_export_task
from jobs.api import task_enqueue
from saas.ratelimit import budget_admit
from tenants.models import Tenant


def export_enqueue(*, tenant: Tenant, requested_by: User | None) -> str:
    """Send the export job (its JobRun at once, the message on commit); returns the task id."""
    return task_enqueue(tenant_export_task, tenant=tenant,
                        kwargs={"requested_by": requested_by.pk if requested_by else None})  # fmt: skip


def export_request_admit(*, tenant: Tenant) -> bool:
    """Count one portal request against the tenant's hourly budget; False once it is spent."""
    return budget_admit(
        f"export-requests:{tenant.pk}", limit=settings.DATAPORT_EXPORTS_PER_HOUR, window_s=3600
    )
