"""Tenants in the platform admin: create with a first owner, edit, suspend/reactivate/archive,
and start jobs on them. Here, at the top, because its actions reach across apps (jobs, sessions,
the portal's invitation, the tenant-scoped admin)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline

from backoffice.admin_base import AuditedAdminMixin
from backoffice.services import audit_record_request
from backoffice.sites import staff_site
from console.tasks import tenant_defaults_apply_task, tenant_tables_count_task
from console.tenant_scope import tenant_admin_url
from jobs.admin import jobs_started_response
from jobs.api import task_enqueue
from portal.services import invite_send
from schedules.services import tenant_crontabs_move
from tenants.forms import TenantChangeForm, TenantCreateForm
from tenants.models import Domain, Membership, Tenant, tenant_url
from tenants.services import (
    TransitionRefused,
    owner_ensure,
    tenant_provision,
    tenant_status_set,
)
from usersessions.tasks import sessions_cleanup_task


class DomainInline(TabularInline):
    model = Domain
    extra = 0


class MembershipInline(TabularInline):
    model = Membership
    fk_name = "tenant"
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Tenant, site=staff_site)
class TenantAdmin(AuditedAdminMixin, ModelAdmin):
    list_display = ["name", "slug", "status", "timezone", "domain_link", "members", "open_admin"]
    list_filter = ["status", "timezone"]
    search_fields = ["name", "slug", "domains__domain"]
    ordering = ["name"]
    actions = [
        "suspend",
        "reactivate",
        "archive",
        "defaults_apply",
        "tables_count",
        "sessions_cleanup",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return (
            super()
            .get_queryset(request)
            .exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
            .annotate(member_count=Count("memberships", distinct=True))
            .prefetch_related("domains")
        )

    def get_form(
        self, request: HttpRequest, obj: Tenant | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = TenantCreateForm if obj is None else TenantChangeForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Tenant | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", "slug", "timezone", "owner_email")
        return (
            "name",
            "timezone",
            "session_max_age_days",
            "slug",
            "schema_name",
            "status",
            "status_changed_at",
            "open_admin",
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> list[str]:
        if obj is None:
            return []
        return ["slug", "schema_name", "status", "status_changed_at", "open_admin"]

    def get_inlines(self, request: HttpRequest, obj: Tenant | None) -> list[Any]:
        return [DomainInline, MembershipInline] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        # Tenants are archived, not deleted: deletion needs a safety backup first (backups issue).
        return False

    def save_model(self, request: HttpRequest, obj: Tenant, form: ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            if "timezone" in form.changed_data:
                moved = tenant_crontabs_move(tenant=obj, old_timezone=form.initial["timezone"])
                self.message_user(request, f"{moved} crontab(s) moved to {obj.timezone}.")
            return
        owner, created = owner_ensure(email=form.cleaned_data["owner_email"])
        result = tenant_provision(
            name=obj.name, slug=obj.slug, owner=owner, timezone_name=obj.timezone
        )
        if created:
            transaction.on_commit(lambda: invite_send(user=owner, tenant=result.tenant))
        obj.pk = result.tenant.pk
        obj.refresh_from_db()
        obj._state.adding = False

    @admin.display(description="Domain")
    def domain_link(self, obj: Tenant) -> str:
        domain = next((d for d in obj.domains.all() if d.is_primary), None)
        if domain is None:
            return "—"
        return format_html('<a href="{}" target="_blank">{}</a>', tenant_url(obj), domain.domain)

    @admin.display(description="Members", ordering="member_count")
    def members(self, obj: Tenant) -> int:
        return getattr(obj, "member_count", 0)

    @admin.display(description="Tenant admin")
    def open_admin(self, obj: Tenant) -> str:
        return format_html('<a href="{}">Open {}’s admin</a>', tenant_admin_url(obj), obj.slug)

    def _transition(self, request: HttpRequest, queryset: QuerySet[Tenant], status: str) -> None:
        done = 0
        for tenant in queryset:
            try:
                tenant_status_set(tenant=tenant, status=status)
            except TransitionRefused as exc:
                self.message_user(request, f"{tenant.slug}: {exc}", messages.ERROR)
                continue
            audit_record_request(request, action=f"tenant.{status}", tenant=tenant, obj=tenant)
            done += 1
        if done:
            self.message_user(request, f"{done} tenant(s) now {status}.", messages.SUCCESS)

    @admin.action(description="Suspend (sign-in refused, jobs skipped)", permissions=["change"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        self._transition(request, queryset, Tenant.Status.SUSPENDED)

    @admin.action(description="Reactivate", permissions=["change"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        self._transition(request, queryset, Tenant.Status.ACTIVE)

    @admin.action(description="Archive (kept read-only, sign-in refused)", permissions=["change"])
    def archive(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        self._transition(request, queryset, Tenant.Status.ARCHIVED)

    def _run_job(
        self, request: HttpRequest, queryset: QuerySet[Tenant], task: Any
    ) -> HttpResponseRedirect | None:
        task_ids = []
        for tenant in queryset:
            task_id = task_enqueue(task, tenant=tenant)
            audit_record_request(
                request, action=f"job.start:{task.name}", tenant=tenant, obj=tenant
            )
            task_ids.append(task_id)
        return jobs_started_response(self, request, task_ids)

    @admin.action(
        description="Job: apply default schedules (creates missing ones, never overwrites)",
        permissions=["change"],
    )
    def defaults_apply(
        self, request: HttpRequest, queryset: QuerySet[Tenant]
    ) -> HttpResponseRedirect | None:
        return self._run_job(request, queryset, tenant_defaults_apply_task)

    @admin.action(description="Job: count rows per table", permissions=["change"])
    def tables_count(
        self, request: HttpRequest, queryset: QuerySet[Tenant]
    ) -> HttpResponseRedirect | None:
        return self._run_job(request, queryset, tenant_tables_count_task)

    @admin.action(description="Job: clean up sessions (expired, too old)", permissions=["change"])
    def sessions_cleanup(
        self, request: HttpRequest, queryset: QuerySet[Tenant]
    ) -> HttpResponseRedirect | None:
        return self._run_job(request, queryset, sessions_cleanup_task)
