"""The cross-tenant schedule overview (platform admin only): the read model beat keeps."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from backoffice.admin_base import ReadOnlyAdminMixin
from backoffice.sites import staff_site
from backoffice.times import ago_html, time_html
from beat.leadership import beat_heartbeat
from beat.models import ScheduleSummary


class TenantSchemaFilter(admin.SimpleListFilter):
    """Filter by tenant through the link in each row's Tenant cell: a list of every tenant's
    name would grow the page with the tenant count."""

    title = "tenant"
    parameter_name = "schema"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(schema_name=value) if value else queryset


@admin.register(ScheduleSummary, site=staff_site)
class ScheduleSummaryAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["tenant_cell", "name_cell", "task", "schedule", "enabled", "last_run",
                    "next_run", "missed_runs"]  # fmt: skip
    list_display_links = None
    list_filter = [TenantSchemaFilter, "task", "enabled"]
    search_fields = ["name", "task", "schema_name", "tenant__name"]
    list_select_related = ["tenant"]
    list_per_page = 100
    show_full_result_count = False  # one COUNT per page, not two
    ordering = ["schema_name", "name"]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "beat_heartbeat": beat_heartbeat()}
        return super().changelist_view(request, extra_context)

    # On the platform, times are UTC, labelled (backoffice.times).
    @admin.display(description="Last run", ordering="last_run_at")
    def last_run(self, obj: ScheduleSummary) -> str:
        return ago_html(obj.last_run_at)

    @admin.display(description="Next run", ordering="next_run_at")
    def next_run(self, obj: ScheduleSummary) -> str:
        return time_html(obj.next_run_at, seconds=False)

    @admin.display(description="Tenant", ordering="schema_name")
    def tenant_cell(self, obj: ScheduleSummary) -> str:
        label = "platform" if obj.schema_name == settings.PUBLIC_SCHEMA_NAME else obj.tenant.name
        return format_html('<a href="?schema={}">{}</a>', obj.schema_name, label)

    @admin.display(description="Schedule name", ordering="name")
    def name_cell(self, obj: ScheduleSummary) -> str:
        """Opens the schedule in the admin that edits it (the tenant's own, or the platform's)."""
        if obj.schema_name == settings.PUBLIC_SCHEMA_NAME:
            url = reverse("admin:django_celery_beat_periodictask_changelist")
        else:
            url = f"/admin/t/{obj.tenant.slug}/django_celery_beat/periodictask/"
        return format_html('<a href="{}?q={}">{}</a>', url, obj.name, obj.name)
