"""The platform admin's index (tenants by status, recent staff activity) and the Operations
page (queues, workers, beat, failing jobs): pages that read across apps, so they live here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest
from django.template.response import TemplateResponse

from backoffice.models import AuditEntry
from backoffice.sites import staff_site
from console.alerts import alerts_open
from console.operations import operations_snapshot
from tenants.models import Tenant


@dataclass(frozen=True)
class Activity:
    """One line of "recent activity": an audit entry in words (its action and object type as
    people say them, backoffice.audit_words)."""

    at: datetime
    actor_username: str
    action: str
    tenant_slug: str
    object_type: str
    object_repr: str


def recent_activity(limit: int = 10) -> list[Activity]:
    entries = AuditEntry.objects.order_by("-at", "-id")[:limit]
    return [
        Activity(at=e.at, actor_username=e.actor_username or "system", action=e.action_words,
                 tenant_slug=e.tenant_slug, object_type=e.object_type_words,
                 object_repr=f"{e.object_type_words} {e.object_repr}".strip())
        for e in entries
    ]  # fmt: skip


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    counts = dict(
        Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {
        "tenant_counts": [(label, counts.get(value, 0)) for value, label in Tenant.Status.choices],
        "recent_audit": recent_activity(),
    }


def operations_view(request: HttpRequest) -> TemplateResponse:
    """Queues, workers, beat and failing jobs: what Flower would show, inside the admin."""
    context = {
        **staff_site.each_context(request),
        "title": "Operations",
        "ops": operations_snapshot(),
        "alerts": alerts_open(),
    }
    return TemplateResponse(request, "admin/console/operations.html", context)
