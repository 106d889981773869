"""The staff audit log hears of what lower apps do without them knowing of it."""

from __future__ import annotations

from typing import Any

from accounts.signals import signin_locked
from backoffice.services import audit_record
from tenants.models import Tenant


def _signin_locked(
    sender: Any, scope: str, username: str, ip: str, reason: str, **kwargs: Any
) -> None:
    tenant = Tenant.objects.filter(schema_name=scope).first()
    audit_record(
        actor=None, action="signin.lockout", tenant=tenant,
        detail={"username": username[:150], "locked": reason}, ip_address=ip or None,
    )  # fmt: skip


def connect() -> None:
    signin_locked.connect(_signin_locked, dispatch_uid="backoffice_signin_locked")
