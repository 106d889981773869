"""The platform admin's index (tenants by status, recent staff activity) and the Operations
page (queues, workers, beat, failing jobs): pages that read across apps, so they live here."""

from __future__ import annotations

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


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    counts = dict(
        Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {
        "tenant_counts": [(label, counts.get(value, 0)) for value, label in Tenant.Status.choices],
        "recent_audit": AuditEntry.objects.select_related("actor")[:10],
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
