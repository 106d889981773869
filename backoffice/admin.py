"""Registrations on both admin sites. Tenants' own admin lives in tenants/admin.py."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from accounts.models import User
from backoffice.admin_base import AuditedAdminMixin
from backoffice.models import AuditEntry
from backoffice.sites import staff_site, tenant_site
from tenants.models import Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["tenant"]


@admin.register(User, site=staff_site)
class StaffUserAdmin(AuditedAdminMixin, UserAdmin):
    inlines = [MembershipInline]
    list_display = ["username", "email", "is_staff", "is_active", "last_login"]
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),
    )


@admin.register(Group, site=staff_site)
class StaffGroupAdmin(AuditedAdminMixin, GroupAdmin):
    pass


@admin.register(AuditEntry, site=staff_site)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_username", "action", "tenant_slug", "object_type", "object_repr"]
    list_filter = ["action", "tenant_slug", "object_type"]
    search_fields = ["actor_username", "tenant_slug", "object_repr", "action"]
    date_hierarchy = "at"
    list_select_related = ["actor"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Schedules: platform ones in public, each tenant's in its own admin -----------------------
class PeriodicTaskAdmin(AuditedAdminMixin, beat_admin.PeriodicTaskAdmin):
    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        # django-celery-beat's "run" sends the task with no tenant: in a tenant's admin it would
        # run in the wrong schema. Tenant-aware "run now" replaces it (tenant task base).
        actions.pop("run_tasks", None)
        return actions


class CrontabScheduleAdmin(AuditedAdminMixin, beat_admin.CrontabScheduleAdmin):
    pass


class IntervalScheduleAdmin(AuditedAdminMixin, beat_admin.IntervalScheduleAdmin):
    pass


class ClockedScheduleAdmin(AuditedAdminMixin, beat_admin.ClockedScheduleAdmin):
    pass


class SolarScheduleAdmin(AuditedAdminMixin, beat_admin.SolarScheduleAdmin):
    pass


for site in (staff_site, tenant_site):
    site.register(PeriodicTask, PeriodicTaskAdmin)
    site.register(CrontabSchedule, CrontabScheduleAdmin)
    site.register(IntervalSchedule, IntervalScheduleAdmin)
    site.register(ClockedSchedule, ClockedScheduleAdmin)
    site.register(SolarSchedule, SolarScheduleAdmin)
