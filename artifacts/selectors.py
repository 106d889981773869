"""Reads of the registry for pages: what a member sees listed, and a tenant's downloads."""

from __future__ import annotations

from django.db.models import QuerySet

from artifacts.access import Role, audiences_visible
from artifacts.models import Artifact, DownloadEvent
from tenants.models import Tenant


def artifacts_visible(*, tenant: Tenant, role: Role, kind: str = "") -> QuerySet[Artifact]:
    """This tenant's artifacts this role may see listed (tombstones included: shown as gone)."""
    rows = Artifact.objects.filter(tenant=tenant, audience__in=audiences_visible(role))
    if kind:
        rows = rows.filter(kind=kind)
    return rows.order_by("-created_at", "-id")


def downloads_of_tenant(*, tenant: Tenant, limit: int = 50) -> list[DownloadEvent]:
    return list(
        DownloadEvent.objects.filter(tenant=tenant)
        .select_related("artifact", "share_link")
        .order_by("-at", "-id")[:limit]
    )
