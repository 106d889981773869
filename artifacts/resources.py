"""The download audit of one tenant, for its data export (dataport finds `RESOURCES`).
DownloadEvent lives in public: filtered by the tenant."""

from __future__ import annotations

from django.db.models import QuerySet
from import_export import fields, resources

from artifacts.models import DownloadEvent
from tenants.models import Tenant


class DownloadEventResource(resources.ModelResource):
    resource_name = "downloads"
    resource_title = "Download audit"
    importable = False

    file = fields.Field(attribute="artifact__title", column_name="file")

    class Meta:
        model = DownloadEvent
        fields = ("at", "file", "username", "via", "ip_address", "range_start", "range_end",
                  "bytes_sent", "outcome", "reason")  # fmt: skip
        export_order = fields
        widgets = {"at": {"format": "%Y-%m-%dT%H:%M:%S%z"}}

    def export_rows(self, *, tenant: Tenant) -> QuerySet[DownloadEvent]:
        return (DownloadEvent.objects.filter(tenant_id=tenant.pk).select_related("artifact")
                .order_by("at", "pk"))  # fmt: skip


RESOURCES = [DownloadEventResource]
