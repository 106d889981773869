"""Tenants in the platform admin: create with a first owner, edit, suspend/reactivate/archive,
and start jobs on them. Here, at the top, because its actions reach across apps (jobs, sessions,
the portal's invitation, the tenant-scoped admin)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django_tenants.utils import schema_context
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action
from unfold.widgets import INPUT_CLASSES

from artifacts.access import Action, role_of_staff, tenant_allows
from artifacts.models import Artifact
from artifacts.services import tenant_quota_bytes, tenant_storage_used
from backoffice.admin_base import AuditedAdminMixin, ReadOnlyTab, ReadOnlyTabFormSet
from backoffice.services import audit_record_request
from backoffice.sites import staff_site
from backoffice.times import time_html
from backups.admin import BackupInline, BackupPolicyInline
from backups.requests import backup_request
from backups.tasks import tenant_archive_task, tenant_delete_task
from beat.models import ScheduleSummary
from console.tasks import tenant_defaults_apply_task, tenant_tables_count_task
from console.tenant_scope import tenant_admin_url
from jobs.admin import jobs_started_response
from jobs.api import task_enqueue
from jobs.models import JobRun
from reports.data import ReportKind
from reports.requests import ReportRequestForm, report_enqueue
from schedules.services import tenant_crontabs_move
from tenants.forms import TenantChangeForm, TenantCreateForm
from tenants.invitations import invite_send
from tenants.models import Domain, Membership, Tenant, tenant_url
from tenants.services import (
    TransitionRefused,
    owner_ensure,
    tenant_provision,
    tenant_status_set,
)
from usersessions.selectors import session_counts
from usersessions.tasks import sessions_cleanup_task


class DomainInline(TabularInline):
    model = Domain
    extra = 0
    tab = True


class MembershipInline(TabularInline):
    model = Membership
    fk_name = "tenant"
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    tab = True
    verbose_name_plural = "Members"


THEME_INPUT = " ".join(INPUT_CLASSES)
# A link in a list or a read-only field, coloured like the theme's own links.
LINK = "text-primary-600 dark:text-primary-500 underline"


@dataclass(frozen=True)
class StatusStep:
    verb: str
    consequence: str
    type_slug: bool


STATUS_STEPS: dict[str, StatusStep] = {
    Tenant.Status.SUSPENDED: StatusStep(
        "Suspend",
        "Every member is signed out at once and cannot sign in; scheduled and queued jobs are "
        "skipped until the tenant is reactivated. Nothing is deleted.",
        type_slug=False,
    ),
    Tenant.Status.ARCHIVED: StatusStep(
        "Archive",
        "A final backup is taken first (a job; you land on its page); if it fails, nothing "
        "changes. Then every member is signed out and cannot sign in again, and its schedules "
        "stop. The data is kept read-only. Reactivating is possible but is a deliberate step.",
        type_slug=True,
    ),
    Tenant.Status.DELETED: StatusStep(
        "Delete",
        "A final backup is taken first (a job; you land on its page); if it fails, nothing "
        "changes. Then the tenant's schema is dropped, its domain stops answering and its "
        "reports and exports are deleted. Its backups are kept for "
        f"{settings.BACKUP_DELETED_TENANT_KEEP_DAYS} days, then its backup key is destroyed and "
        "the backups with it. This cannot be undone, except by restoring a backup as a new "
        "tenant.",
        type_slug=True,
    ),
}
# The steps that are jobs (a final backup first): backups.offboarding.
OFFBOARDING_TASKS: dict[str, Any] = {Tenant.Status.ARCHIVED: tenant_archive_task,
                     Tenant.Status.DELETED: tenant_delete_task}  # fmt: skip


def tenant_sessions_active(tenant: Tenant) -> int:
    with schema_context(tenant.schema_name):
        return int(session_counts(max_age=None)["active"])


class ScheduleSummaryInline(ReadOnlyTab):
    model = ScheduleSummary
    fk_name = "tenant"
    verbose_name_plural = "Schedules"
    fields = ["name", "task", "schedule", "enabled", "next_run_local", "missed_runs"]
    readonly_fields = fields
    ordering = ["name"]
    show_change_link = False

    @admin.display(description="Next run (tenant's zone)")
    def next_run_local(self, obj: ScheduleSummary) -> Any:
        return time_html(obj.next_run_at, zone=obj.tenant.timezone)


class JobRunInline(ReadOnlyTab):
    model = JobRun
    fk_name = "tenant"
    verbose_name_plural = "Jobs"
    fields = ["summary", "state", "queued_local", "attempt", "error_type"]
    readonly_fields = fields
    ordering = ["-queued_at"]

    @admin.display(description="Queued (tenant's zone)")
    def queued_local(self, obj: JobRun) -> Any:
        return time_html(obj.queued_at, zone=obj.tenant.timezone if obj.tenant else None)

    def get_queryset(self, request: HttpRequest) -> QuerySet[JobRun]:
        return super().get_queryset(request).select_related("tenant")


class ArtifactInline(ReadOnlyTab):
    model = Artifact
    fk_name = "tenant"
    verbose_name_plural = "Files"
    fields = ["title", "kind", "audience", "size_words", "created_local", "state", "download"]
    readonly_fields = fields
    ordering = ["-created_at"]

    @admin.display(description="Size")
    def size_words(self, obj: Artifact) -> str:
        return str(filesizeformat(obj.size))

    @admin.display(description="Created (tenant's zone)")
    def created_local(self, obj: Artifact) -> Any:
        return time_html(obj.created_at, zone=obj.tenant.timezone)

    @admin.display(description="State")
    def state(self, obj: Artifact) -> str:
        if obj.is_deleted:
            return "deleted"
        return obj.problem or ("expired" if obj.is_expired() else "stored")

    @admin.display(description="Download")
    def download(self, obj: Artifact) -> str:
        # The same link as the artifact list's; the view applies the rule table to the role.
        if obj.is_deleted or obj.is_expired():
            return "—"
        url = reverse("admin:artifacts_artifact_download", args=[obj.pk])
        return format_html('<a class="underline" href="{}" download>Download</a>', url)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Artifact]:
        return super().get_queryset(request).select_related("tenant")


class _ReportsFormSet(ReadOnlyTabFormSet):
    @classmethod
    def get_default_prefix(cls) -> str:
        return "reports"  # the Files tab lists the same model under "artifact"


class ReportInline(ArtifactInline):
    """The tenant's reports (a subset of its files), next to "Run a report" at the page's top."""

    formset = _ReportsFormSet
    verbose_name_plural = "Reports"
    fields = ["title", "audience", "size_words", "created_local", "state", "download"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Artifact]:
        return super().get_queryset(request).filter(kind=Artifact.Kind.REPORT)


@admin.register(Tenant, site=staff_site)
class TenantAdmin(AuditedAdminMixin, ModelAdmin):
    list_display = ["name", "slug", "status", "timezone", "domain_link", "members", "storage",
                    "open_admin"]  # fmt: skip
    list_filter = ["status", "timezone"]
    search_fields = ["name", "slug", "domains__domain"]
    ordering = ["name"]
    actions_detail = ["backup_now_one", "report_run_one", "suspend_one", "archive_one",
                      "delete_one"]  # fmt: skip
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
            # Bytes stored: a correlated subquery, so the page stays one query per page.
            .annotate(
                storage_bytes=Subquery(
                    Artifact.objects.filter(tenant=OuterRef("pk"), deleted_at__isnull=True)
                    .values("tenant")
                    .annotate(n=Sum("size"))
                    .values("n")
                )
            )
            .prefetch_related("domains")
        )

    def get_form(
        self, request: HttpRequest, obj: Tenant | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = TenantCreateForm if obj is None else TenantChangeForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Tenant | None = None) -> Any:
        if obj is None:
            return [(None, {"fields": ("name", "slug", "timezone", "owner_email")})]
        # A tenant's page in tabs (django-unfold): this overview, then its members, domains,
        # schedules and jobs (the inlines' tabs).
        return [
            (None, {"fields": (
                "name", "timezone", "session_max_age_days", "storage_quota_mb", "storage_used",
                "slug", "schema_name", "status",
                "status_changed_at", "open_admin", "sessions_summary",
            )}),
        ]  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> list[str]:
        if obj is None:
            return []
        return ["slug", "schema_name", "status", "status_changed_at", "open_admin",
                "sessions_summary", "storage_used"]  # fmt: skip

    @admin.display(description="Storage used")
    def storage_used(self, obj: Tenant) -> str:
        used, quota = tenant_storage_used(obj), tenant_quota_bytes(obj)
        return f"{filesizeformat(used)} of {filesizeformat(quota)} ({used * 100 // quota}%)"

    @admin.display(description="Sessions")
    def sessions_summary(self, obj: Tenant) -> str:
        with schema_context(obj.schema_name):
            counts = session_counts(max_age=None)
        link = f"{tenant_admin_url(obj)}usersessions/session/"
        return format_html(
            '{} active, {} expired and waiting for cleanup. <a class="underline" href="{}">'
            "See and end them in {}’s admin</a>",
            counts["active"], counts["expired"], link, obj.slug,
        )  # fmt: skip

    def get_inlines(self, request: HttpRequest, obj: Tenant | None) -> list[Any]:
        if obj is None:
            return []
        return [MembershipInline, DomainInline, ScheduleSummaryInline, JobRunInline,
                ReportInline, BackupInline, BackupPolicyInline, ArtifactInline]  # fmt: skip

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
        return format_html('<a class="{}" href="{}" target="_blank">{}</a>', LINK, tenant_url(obj),
                           domain.domain)  # fmt: skip

    @admin.display(description="Storage", ordering="storage_bytes")
    def storage(self, obj: Tenant) -> str:
        return str(filesizeformat(getattr(obj, "storage_bytes", None) or 0))

    @admin.display(description="Members", ordering="member_count")
    def members(self, obj: Tenant) -> int:
        return getattr(obj, "member_count", 0)

    @admin.display(description="Tenant admin")
    def open_admin(self, obj: Tenant) -> str:
        base = tenant_admin_url(obj)
        return format_html('<a class="{}" href="{}">Open {}’s admin</a> · '
                           '<a class="{}" href="{}dataport/importrun/transfer/">Import and export</a>',
                           LINK, base, obj.slug, LINK, base)  # fmt: skip

    def _transition(self, request: HttpRequest, tenants: list[Tenant], status: str) -> int:
        done = 0
        for tenant in tenants:
            try:
                tenant_status_set(tenant=tenant, status=status)
            except TransitionRefused as exc:
                self.message_user(request, f"{tenant.slug}: {exc}", messages.ERROR)
                continue
            audit_record_request(request, action=f"tenant.{status}", tenant=tenant, obj=tenant)
            done += 1
        if done:
            self.message_user(request, f"{done} tenant(s) now {status}.", messages.SUCCESS)
        return done

    def _confirmed(
        self, request: HttpRequest, tenants: list[Tenant], status: str
    ) -> TemplateResponse | None:
        """Suspending or archiving ends every session of the tenant: a page says so and asks
        first; archiving also wants the tenant's slug typed. None once done."""
        step = STATUS_STEPS[status]
        error = ""
        if request.POST.get("confirmed") == "yes":
            typed = request.POST.get("confirm_slug", "").strip()
            if step.type_slug and (len(tenants) != 1 or typed != tenants[0].slug):
                error = f"Type the tenant's slug exactly to {step.verb.lower()} it."
            elif status in OFFBOARDING_TASKS:
                return self._offboard(request, tenants[0], status)
            else:
                self._transition(request, tenants, status)
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": f"{step.verb} {len(tenants)} tenant{'s' if len(tenants) != 1 else ''}?",
            "opts": self.model._meta,
            "step": step,
            "status": status,
            "rows": [(tenant, tenant_sessions_active(tenant)) for tenant in tenants],
            "action": request.POST.get("action", ""),
            "error": error,
            "one_at_a_time": step.type_slug and len(tenants) != 1,
        }
        return TemplateResponse(request, "admin/console/tenant_status_confirm.html", context)

    @admin.action(description="Suspend… (sign-in refused, sessions end, jobs skipped)",
                  permissions=["change"])  # fmt: skip
    def suspend(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> Any:
        return self._confirmed(request, list(queryset), Tenant.Status.SUSPENDED)

    @admin.action(description="Reactivate", permissions=["change"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        self._transition(request, list(queryset), Tenant.Status.ACTIVE)

    @admin.action(description="Archive… (read-only, sign-in refused, sessions end)",
                  permissions=["change"])  # fmt: skip
    def archive(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> Any:
        return self._confirmed(request, list(queryset), Tenant.Status.ARCHIVED)

    # The same steps from a tenant's own page (buttons at its top).
    def _detail_step(self, request: HttpRequest, object_id: str, status: str) -> Any:
        if not self.has_change_permission(request):
            raise PermissionDenied
        tenant = self.get_object(request, object_id)
        if tenant is None:
            raise Http404
        page = reverse("admin:tenants_tenant_change", args=[tenant.pk])
        if status == Tenant.Status.ACTIVE:
            if request.method == "POST":
                self._transition(request, [tenant], status)
            return HttpResponseRedirect(page)
        response = self._confirmed(request, [tenant], status)
        return response if response is not None else HttpResponseRedirect(page)

    @action(description="Suspend", url_path="suspend", icon="pause_circle",
            permissions=["change"])  # fmt: skip
    def suspend_one(self, request: HttpRequest, object_id: str) -> Any:
        return self._detail_step(request, object_id, Tenant.Status.SUSPENDED)

    @action(description="Archive", url_path="archive", icon="inventory_2",
            permissions=["change"])  # fmt: skip
    def archive_one(self, request: HttpRequest, object_id: str) -> Any:
        return self._detail_step(request, object_id, Tenant.Status.ARCHIVED)

    @action(description="Delete…", url_path="delete-tenant", icon="delete_forever",
            permissions=["delete_archived"])  # fmt: skip
    def delete_one(self, request: HttpRequest, object_id: str) -> Any:
        tenant = self.get_object(request, object_id)
        if tenant is not None and tenant.status != Tenant.Status.ARCHIVED:
            self.message_user(request, f"{tenant.slug} is {tenant.status}: only an archived "
                              "tenant can be deleted. Archive it first.", messages.ERROR)  # fmt: skip
            return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
        return self._detail_step(request, object_id, Tenant.Status.DELETED)

    def has_delete_archived_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Operators only (the rule table's MANAGE), never viewers.
        return tenant_allows(role_of_staff(request.user), Action.MANAGE)

    def _offboard(self, request: HttpRequest, tenant: Tenant, status: str) -> Any:
        task = OFFBOARDING_TASKS[status]
        task_id = task_enqueue(task, tenant=None,
                               kwargs={"tenant_id": tenant.pk, "requested_by_id": request.user.pk})  # fmt: skip
        audit_record_request(request, action=f"tenant.{status}.start", tenant=tenant, obj=tenant,
                             detail={"task_id": task_id})  # fmt: skip
        return jobs_started_response(self, request, [task_id])

    @action(description="Back up now", url_path="backup", icon="backup",
            permissions=["change"], attrs={"data-method": "post"})  # fmt: skip
    def backup_now_one(self, request: HttpRequest, object_id: str) -> Any:
        tenant = self.get_object(request, object_id)
        if tenant is None:
            raise Http404
        page = reverse("admin:tenants_tenant_change", args=[tenant.pk])
        if request.method != "POST" or not tenant_allows(role_of_staff(request.user),
                                                         Action.REQUEST):  # fmt: skip
            return HttpResponseRedirect(page)
        task_id = backup_request(tenant=tenant, requested_by=request.user)  # type: ignore[arg-type]
        audit_record_request(request, action="backup.run", tenant=tenant, obj=tenant,
                             detail={"task_id": task_id})  # fmt: skip
        return jobs_started_response(self, request, [task_id])

    @action(description="Reactivate", url_path="reactivate", icon="play_circle",
            permissions=["change"], attrs={"data-method": "post"})  # fmt: skip
    def reactivate_one(self, request: HttpRequest, object_id: str) -> Any:
        return self._detail_step(request, object_id, Tenant.Status.ACTIVE)

    @action(description="Run a report", url_path="report", icon="picture_as_pdf",
            permissions=["change"])  # fmt: skip
    def report_run_one(self, request: HttpRequest, object_id: str) -> Any:
        """Any report of this tenant for any period (a small form: kind and period, by default
        the last 7 days in the tenant's zone); lands on the job's page. The PDF then appears in
        the Files tab and the portal's Downloads."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        tenant = self.get_object(request, object_id)
        if tenant is None:
            raise Http404
        form = ReportRequestForm(request.POST or None, tenant=tenant)
        for field in form.fields.values():  # the theme's look (the portal styles by element)
            field.widget.attrs["class"] = THEME_INPUT
        if request.method == "POST" and form.is_valid():
            kind, period = ReportKind(form.cleaned_data["kind"]), form.cleaned_data["period"]
            task_id = report_enqueue(tenant=tenant, kind=kind, period=period,
                                     requested_by=request.user)  # type: ignore[arg-type]  # fmt: skip
            audit_record_request(
                request, action="report.run", tenant=tenant, obj=tenant,
                detail={"kind": kind.value, "period": str(period), "task_id": task_id},
            )  # fmt: skip
            return jobs_started_response(self, request, [task_id])
        context = {
            **self.admin_site.each_context(request),
            "title": f"Run a report of {tenant.name}",
            "opts": self.model._meta,
            "original": tenant,
            "tenant": tenant,
            "form": form,
        }
        return TemplateResponse(request, "admin/console/report_run.html", context)

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
