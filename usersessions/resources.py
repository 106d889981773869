"""A tenant's portal sessions, for its data export (dataport finds `RESOURCES`): when and from
where, never the key or the data. Sessions live in the tenant's schema, so the rows are read
only when the connection is in that tenant's schema."""

from __future__ import annotations

from django.db.models import QuerySet
from import_export import resources

from tenants.context import connection_schema
from tenants.models import Tenant
from usersessions.models import Session


class SessionResource(resources.ModelResource):
    resource_name = "sessions"
    resource_title = "Sessions"
    importable = False

    class Meta:
        model = Session
        fields = ("created_at", "expire_date", "user_id", "ip_address", "user_agent")
        export_order = fields
        widgets = {"created_at": {"format": "%Y-%m-%dT%H:%M:%S%z"},
                   "expire_date": {"format": "%Y-%m-%dT%H:%M:%S%z"}}  # fmt: skip

    def export_rows(self, *, tenant: Tenant) -> QuerySet[Session]:
        if connection_schema() != tenant.schema_name:
            raise RuntimeError(f"{tenant.slug}'s sessions are read in its own schema only")
        return Session.objects.order_by("created_at", "session_key")


RESOURCES = [SessionResource]
