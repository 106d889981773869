"""The staff audit entries about one tenant, for its data export (dataport finds `RESOURCES`).
AuditEntry lives in public: filtered by the tenant. The staff member's address is left out: the
export goes to the tenant's owners."""

from __future__ import annotations

from django.db.models import QuerySet
from import_export import resources

from backoffice.models import AuditEntry
from tenants.models import Tenant


class AuditEntryResource(resources.ModelResource):
    resource_name = "audit"
    resource_title = "Audit entries"
    importable = False

    class Meta:
        model = AuditEntry
        fields = ("at", "actor_username", "action", "object_type", "object_id", "object_repr",
                  "detail")  # fmt: skip
        export_order = fields
        widgets = {"at": {"format": "%Y-%m-%dT%H:%M:%S%z"}}

    def export_rows(self, *, tenant: Tenant) -> QuerySet[AuditEntry]:
        return AuditEntry.objects.filter(tenant_id=tenant.pk).order_by("at", "pk")


RESOURCES = [AuditEntryResource]
