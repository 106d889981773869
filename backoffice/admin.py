"""Registrations of backoffice's own models: staff roles (groups) and the audit trail."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group

from backoffice.admin_base import AuditedAdminMixin, ReadOnlyAdminMixin
from backoffice.models import AuditEntry
from backoffice.sites import staff_site
from backoffice.times import ago_html


@admin.register(Group, site=staff_site)
class StaffGroupAdmin(AuditedAdminMixin, GroupAdmin):
    pass


@admin.register(AuditEntry, site=staff_site)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["when", "actor_username", "action", "tenant_slug", "object_type", "object_repr"]
    list_filter = ["action", "tenant_slug", "object_type"]
    search_fields = ["actor_username", "tenant_slug", "object_repr", "action"]
    date_hierarchy = "at"
    list_select_related = ["actor"]

    @admin.display(description="When", ordering="at")
    def when(self, obj: AuditEntry) -> str:
        return ago_html(obj.at)
