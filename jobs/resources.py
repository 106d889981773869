"""The tenant's job history, for the tenant data export and the admin's Export (dataport finds
`RESOURCES`; see dataport/registry.py). JobRun lives in public: filtered by the tenant."""

from __future__ import annotations

from django.db.models import QuerySet
from import_export import resources

from jobs.models import JobRun
from tenants.models import Tenant

TIME = {"format": "%Y-%m-%dT%H:%M:%S%z"}


class JobRunResource(resources.ModelResource):
    resource_name = "jobs"
    resource_title = "Job history"
    importable = False

    class Meta:
        model = JobRun
        fields = ("task_id", "task_name", "state", "attempt", "periodic_task_name", "summary",
                  "queued_at", "started_at", "finished_at", "error_type", "error_message")  # fmt: skip
        export_order = fields
        widgets = {"queued_at": TIME, "started_at": TIME, "finished_at": TIME}

    def export_rows(self, *, tenant: Tenant) -> QuerySet[JobRun]:
        return JobRun.objects.filter(tenant_id=tenant.pk).order_by("queued_at", "pk")


RESOURCES = [JobRunResource]
