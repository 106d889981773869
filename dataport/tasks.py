"""Import and export jobs: thin, they load the run and call one service."""

from __future__ import annotations

import smtplib
from typing import Any

from accounts.models import User
from dataport.exports import tenant_export
from dataport.imports import import_apply, import_check, import_run_get
from jobs.api import tenant_task
from jobs.errors import TRANSIENT_ERRORS
from tenants.context import connection_tenant
from tenants.invitations import added_send, invite_send
from tenants.models import Membership, Tenant


def _tenant() -> Tenant:
    tenant = connection_tenant()
    if not isinstance(tenant, Tenant):
        raise RuntimeError("a dataport job runs in a tenant's schema")
    return tenant


@tenant_task(name="dataport.tasks.import_check_task", schedulable=False, long_running=True)
def import_check_task(self: Any, run_id: int) -> dict[str, Any]:
    """Read and check an uploaded file (the dry run), with progress; the run keeps the preview."""
    run = import_check(run=import_run_get(tenant=_tenant(), run_id=run_id), progress=self.progress,
                       again=True)  # fmt: skip
    return {"run": run.pk, "state": run.state, **run.counts}


@tenant_task(name="dataport.tasks.import_apply_task", schedulable=False, long_running=True)
def import_apply_task(self: Any, run_id: int, actor_id: int | None = None) -> dict[str, Any]:
    """Apply a confirmed import in one transaction (all or nothing, or without invalid rows)."""
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    run = import_apply(run=import_run_get(tenant=_tenant(), run_id=run_id), actor=actor,
                       progress=self.progress, again=True)  # fmt: skip
    return {"run": run.pk, "state": run.state, **run.counts}


@tenant_task(name="dataport.tasks.tenant_export_task", long_running=True)
def tenant_export_task(self: Any, requested_by: int | None = None) -> dict[str, Any]:
    """Every exportable resource of the tenant, as CSV and JSON in one zip with a manifest,
    kept as an artifact of kind export (owners only)."""
    requester = User.objects.filter(pk=requested_by).first() if requested_by else None
    artifact = tenant_export(tenant=_tenant(), requested_by=requester,
                             job_task_id=str(self.request.id or ""), progress=self.progress)  # fmt: skip
    return {"artifact": artifact.pk, "size": artifact.size, "sha256": artifact.sha256}


@tenant_task(
    name="dataport.tasks.member_invitations_send_task",
    schedulable=False,
    autoretry_for=(OSError, smtplib.SMTPException, *TRANSIENT_ERRORS),
    max_retries=6,
)
def member_invitations_send_task(self: Any, user_ids: list[int]) -> dict[str, Any]:
    """One batch of the invitations a members import queued (after its commit): a new account
    (or one that never chose a password) is invited to choose one, anyone else is told they
    were added. Users no longer members by now are not written to."""
    tenant = _tenant()
    members = Membership.objects.filter(tenant=tenant, user_id__in=user_ids).select_related("user")
    sent = 0
    for membership in members:
        user = membership.user
        send = added_send if user.has_usable_password() else invite_send
        send(user=user, tenant=tenant)
        sent += 1
    return {"sent": sent}
