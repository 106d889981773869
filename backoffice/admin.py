"""Registrations of backoffice's own models: staff roles (groups) and the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from backoffice.admin_base import AuditedAdminMixin, ReadOnlyAdminMixin
from backoffice.audit_words import action_words, object_type_words
from backoffice.models import AuditEntry
from backoffice.sites import staff_site
from backoffice.times import ago_html


@admin.register(Group, site=staff_site)
class StaffGroupAdmin(AuditedAdminMixin, GroupAdmin, ModelAdmin):
    pass


class _WordsFilter(admin.SimpleListFilter):
    """A filter on a coded column, offered in words."""

    field = ""

    def words(self, code: str) -> str:
        raise NotImplementedError

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        codes = AuditEntry.objects.order_by().values_list(self.field, flat=True).distinct()
        return sorted(((code, self.words(code)) for code in codes if code), key=lambda c: c[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset


class ActionFilter(_WordsFilter):
    title = "action"
    parameter_name = field = "action"

    def words(self, code: str) -> str:
        return action_words(code)


class ObjectTypeFilter(_WordsFilter):
    title = "object type"
    parameter_name = field = "object_type"

    def words(self, code: str) -> str:
        return object_type_words(code)


@admin.register(AuditEntry, site=staff_site)
class AuditEntryAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["when", "actor_username", "action_cell", "tenant_slug", "object_type_cell",
                    "object_repr"]  # fmt: skip
    list_filter = [ActionFilter, "tenant_slug", ObjectTypeFilter]
    search_fields = ["actor_username", "tenant_slug", "object_repr", "action"]
    date_hierarchy = "at"
    list_select_related = ["actor"]

    @admin.display(description="Action", ordering="action")
    def action_cell(self, obj: AuditEntry) -> str:
        return obj.action_words

    @admin.display(description="Object type", ordering="object_type")
    def object_type_cell(self, obj: AuditEntry) -> str:
        return obj.object_type_words

    @admin.display(description="When", ordering="at")
    def when(self, obj: AuditEntry) -> str:
        return ago_html(obj.at)
