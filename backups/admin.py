"""Backups in the platform admin: every backup (list, page with its manifest, download, legal
hold, verify, restore, restore as new), the per-tenant overview (last backup, last verified one,
failures, bytes kept; tenants without a verified backup in 48 hours flagged), and the tenant
page's Backups and Retention tabs (console.admin adds them to the tenant page)."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, StackedInline
from unfold.decorators import action
from unfold.widgets import INPUT_CLASSES

from artifacts.access import Action, artifact_allows, role_of_staff, tenant_allows
from artifacts.models import Artifact
from backoffice.admin_base import AuditedAdminMixin, ReadOnlyAdminMixin, ReadOnlyTab
from backoffice.services import audit_record_request
from backoffice.sites import staff_site
from backoffice.times import time_html
from backups.forms import RestoreAsNewForm
from backups.models import Backup, BackupOverview, BackupPolicy, Restore
from backups.requests import backup_restore_as_new_enqueue, backup_restore_enqueue
from backups.restore_checks import RestoreRefused, restore_backup_check, restore_into_check
from backups.selectors import backup_overview_rows, stale_q
from backups.tasks import backup_verify_task
from jobs.admin import jobs_started_response
from jobs.api import task_enqueue


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def verification_html(obj: Backup) -> str:
    if obj.verification == Backup.Verification.PASSED:
        return format_html("✓ verified {}", time_html(obj.verified_at, zone=obj.tenant.timezone))
    if obj.verification == Backup.Verification.FAILED:
        return format_html('<span class="text-red-600 font-semibold">✗ {}</span>',
                           obj.verify_error[:120] or "verification failed")  # fmt: skip
    return "not yet"


def state_html(obj: Backup) -> str:
    if obj.state == Backup.State.FAILED:
        return format_html('<span class="text-red-600 font-semibold">failed: {}</span>',
                           obj.error[:120])  # fmt: skip
    if obj.artifact is not None and obj.artifact.is_deleted:
        return f"deleted ({obj.artifact.deleted_reason})"
    if obj.artifact is not None and obj.artifact.legal_hold:
        return "stored, on legal hold"
    return str(obj.get_state_display()).lower()


def download_html(request: HttpRequest, obj: Backup) -> str:
    artifact = obj.artifact
    if artifact is None or artifact.is_deleted:
        return "—"
    if not artifact_allows(role_of_staff(request.user), Action.DOWNLOAD, artifact):
        return "owners and Operators only"
    url = reverse("admin:artifacts_artifact_download", args=[artifact.pk])
    return format_html('<a class="underline" href="{}" download>Download</a>', url)


class VerificationFilter(admin.SimpleListFilter):
    title = "verification"
    parameter_name = "verification"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(Backup.Verification.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Backup]) -> QuerySet[Backup]:
        value = self.value()
        return queryset.filter(verification=value) if value else queryset


@admin.register(Backup, site=staff_site)
class BackupAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["started", "tenant", "kind", "state_words", "size_words", "duration",
                    "verification_words", "encryption", "method"]  # fmt: skip
    list_filter = ["state", "kind", VerificationFilter, "encrypted", "method", "tenant"]
    list_select_related = ["tenant", "artifact", "requested_by"]
    search_fields = ["tenant__slug", "tenant__name", "job_task_id", "schema_name"]
    date_hierarchy = "started_at"
    fields = ["tenant", "kind", "state_words", "started", "finished", "duration", "size_words",
              "method", "encryption", "schema_name", "verification_words", "verify_time",
              "requested_by", "job_link", "download_link", "tables_summary", "versions_summary",
              "manifest_pretty"]  # fmt: skip
    readonly_fields = fields

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("backups.change_backup")

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        self._request = request  # the download cell depends on the role
        return [*self.list_display, "download_link"]

    @admin.display(description="Taken", ordering="started_at")
    def started(self, obj: Backup) -> str:
        return time_html(obj.started_at, zone=obj.tenant.timezone)

    @admin.display(description="Finished")
    def finished(self, obj: Backup) -> str:
        return time_html(obj.finished_at, zone=obj.tenant.timezone) if obj.finished_at else "—"

    @admin.display(description="State")
    def state_words(self, obj: Backup) -> str:
        return state_html(obj)

    @admin.display(description="Size", ordering="size")
    def size_words(self, obj: Backup) -> str:
        return str(filesizeformat(obj.size)) if obj.size is not None else "—"

    @admin.display(description="Duration", ordering="duration_s")
    def duration(self, obj: Backup) -> str:
        return _seconds(obj.duration_s)

    @admin.display(description="Verified", ordering="verified_at")
    def verification_words(self, obj: Backup) -> str:
        return verification_html(obj)

    @admin.display(description="Time to restore (verify)")
    def verify_time(self, obj: Backup) -> str:
        return _seconds(obj.verify_duration_s)

    @admin.display(description="Encryption", ordering="encrypted")
    def encryption(self, obj: Backup) -> str:
        return "age (tenant key)" if obj.encrypted else "none"

    @admin.display(description="Job")
    def job_link(self, obj: Backup) -> str:
        if not obj.job_task_id:
            return "—"
        url = reverse("admin:jobs_jobrun_changelist") + f"?q={obj.job_task_id}"
        return format_html('<a class="underline" href="{}">{}</a>', url, obj.job_task_id)

    @admin.display(description="Download")
    def download_link(self, obj: Backup) -> str:
        request = getattr(self, "_request", None)
        return download_html(request, obj) if request is not None else "—"

    @admin.display(description="Tables (rows)")
    def tables_summary(self, obj: Backup) -> str:
        tables = obj.manifest.get("tables") or []
        if not tables:
            return "—"
        return format_html_join(
            ", ", "{} ({})", ((t.get("name", "?"), t.get("rows", "?")) for t in tables)
        )

    @admin.display(description="Versions and migrations")
    def versions_summary(self, obj: Backup) -> str:
        versions = obj.manifest.get("versions") or {}
        migrations = obj.manifest.get("migrations") or []
        text = ", ".join(f"{k} {v}" for k, v in versions.items())
        return f"{text}; {len(migrations)} migrations applied" if text else "—"

    @admin.display(description="Manifest")
    def manifest_pretty(self, obj: Backup) -> str:
        if not obj.manifest:
            return "—"
        return format_html(
            '<details><summary class="cursor-pointer underline">The whole manifest (JSON: '
            "every part's sha256, the migration state, the sequences)</summary>"
            '<pre class="whitespace-pre-wrap text-xs mt-2">{}</pre></details>',
            json.dumps(obj.manifest, indent=2),
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        self._request = request
        return super().change_view(request, object_id, form_url, extra_context)

    # --- actions (Operators: the rule table's MANAGE) ------------------------------------------
    actions = ["verify_selected", "legal_hold_set", "legal_hold_clear"]
    actions_detail = ["verify_one", "restore_one", "restore_as_new_one", "hold_toggle_one"]

    def _manages(self, request: HttpRequest) -> bool:
        return tenant_allows(role_of_staff(request.user), Action.MANAGE)

    def has_manage_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request)

    def _backup(self, request: HttpRequest, object_id: str) -> Backup:
        if not self._manages(request):
            raise PermissionDenied
        backup = self.get_object(request, object_id)
        if backup is None:
            raise Http404
        return backup

    def _page(self, backup: Backup) -> str:
        return reverse("admin:backups_backup_change", args=[backup.pk])

    def _restorable(self, request: HttpRequest, backup: Backup, *, into: bool = False) -> bool:
        """A backup that can be verified or restored (and, `into` its own tenant, a tenant in a
        state that can be restored); else the reason, on the backup's page."""
        try:
            if into:
                restore_into_check(backup)
            else:
                restore_backup_check(backup)
        except RestoreRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return False
        return True

    def _verify(self, request: HttpRequest, backups: list[Backup]) -> list[str]:
        task_ids = []
        for backup in backups:
            if not self._restorable(request, backup):
                continue
            task_id = task_enqueue(backup_verify_task, tenant=backup.tenant,
                                   kwargs={"backup_id": backup.pk})  # fmt: skip
            audit_record_request(request, action="backup.verify", tenant=backup.tenant,
                                 obj=backup, detail={"task_id": task_id})  # fmt: skip
            task_ids.append(task_id)
        return task_ids

    @admin.action(description="Verify (restore into a scratch schema and compare)",
                  permissions=["manage"])  # fmt: skip
    def verify_selected(self, request: HttpRequest, queryset: QuerySet[Backup]) -> Any:
        return jobs_started_response(self, request, self._verify(request, list(queryset)))

    @action(description="Verify", url_path="verify", icon="fact_check", permissions=["manage"],
            attrs={"data-method": "post"})  # fmt: skip
    def verify_one(self, request: HttpRequest, object_id: str) -> Any:
        backup = self._backup(request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(self._page(backup))
        started = self._verify(request, [backup])
        return jobs_started_response(self, request, started) or HttpResponseRedirect(
            self._page(backup)
        )

    @action(description="Restore…", url_path="restore", icon="settings_backup_restore",
            permissions=["manage"])  # fmt: skip
    def restore_one(self, request: HttpRequest, object_id: str) -> Any:
        backup = self._backup(request, object_id)
        tenant = backup.tenant
        if not self._restorable(request, backup, into=True):
            return HttpResponseRedirect(self._page(backup))
        error = ""
        if request.method == "POST" and request.POST.get("confirmed") == "yes":
            if request.POST.get("confirm_slug", "").strip() != tenant.slug:
                error = "Type the tenant's slug exactly to restore it."
            else:
                task_id = backup_restore_enqueue(backup, requested_by=request.user)  # type: ignore[arg-type]
                audit_record_request(request, action="backup.restore", tenant=tenant,
                                     obj=backup, detail={"task_id": task_id})  # fmt: skip
                return jobs_started_response(self, request, [task_id])
        taken = backup.started_at.astimezone(zoneinfo.ZoneInfo(tenant.timezone))
        return self._step_page(request, backup, title=f"Restore {tenant.name} to {taken:%Y-%m-%d %H:%M}?",
            explanation=[
                f"A safety backup of {tenant.slug} as it is now is taken first. Then the tenant "
                "is put in maintenance: its portal shows a maintenance page, its jobs wait and "
                "its schedules pause.",
                "The backup is loaded beside the live data and swapped in by renaming, in one "
                "transaction: if anything fails, the tenant stays exactly as it was. An older "
                "backup is migrated forward to the current code after loading.",
                "Everything made after this backup is lost (the safety backup keeps it), and "
                "every member is signed out.",
            ],
            submit="Restore", type_slug=tenant.slug, danger=True, error=error,
        )  # fmt: skip

    @action(description="Restore as a new tenant…", url_path="restore-as-new",
            icon="content_copy", permissions=["manage"])  # fmt: skip
    def restore_as_new_one(self, request: HttpRequest, object_id: str) -> Any:
        backup = self._backup(request, object_id)
        if not self._restorable(request, backup):
            return HttpResponseRedirect(self._page(backup))
        form = RestoreAsNewForm(request.POST if request.method == "POST" else None,
                                initial={"name": f"{backup.tenant.name} (copy)"})  # fmt: skip
        for field in form.fields.values():
            field.widget.attrs["class"] = " ".join(INPUT_CLASSES)
        if request.method == "POST" and form.is_valid():
            task_id = backup_restore_as_new_enqueue(
                backup, slug=form.cleaned_data["slug"], name=form.cleaned_data["name"],
                requested_by=request.user,  # type: ignore[arg-type]
            )  # fmt: skip
            audit_record_request(request, action="backup.restore_as_new", tenant=backup.tenant,
                                 obj=backup, detail={"task_id": task_id,
                                                     "slug": form.cleaned_data["slug"]})  # fmt: skip
            return jobs_started_response(self, request, [task_id])
        return self._step_page(request, backup,
            title=f"Restore a backup of {backup.tenant.name} as a new tenant",
            explanation=[
                "A new tenant is made from this backup, with its own slug, schema and domain: "
                "a staging copy, or one customer's data recovered beside the live tenant. "
                f"{backup.tenant.slug} itself is not touched.",
                "The new tenant has no members at first (memberships are not part of a "
                "tenant's backup): add them on its page.",
            ],
            submit="Make the new tenant", form=form,
        )  # fmt: skip

    @action(description="Legal hold on/off", url_path="hold", icon="gavel",
            permissions=["manage"], attrs={"data-method": "post"})  # fmt: skip
    def hold_toggle_one(self, request: HttpRequest, object_id: str) -> Any:
        backup = self._backup(request, object_id)
        if request.method == "POST" and backup.artifact is not None:
            self._hold(request, [backup], not backup.artifact.legal_hold)
        return HttpResponseRedirect(self._page(backup))

    @admin.action(description="Put on legal hold (retention keeps it)", permissions=["manage"])
    def legal_hold_set(self, request: HttpRequest, queryset: QuerySet[Backup]) -> None:
        self._hold(request, list(queryset.select_related("artifact", "tenant")), True)

    @admin.action(description="Release legal hold", permissions=["manage"])
    def legal_hold_clear(self, request: HttpRequest, queryset: QuerySet[Backup]) -> None:
        self._hold(request, list(queryset.select_related("artifact", "tenant")), False)

    def _hold(self, request: HttpRequest, backups: list[Backup], hold: bool) -> None:
        for backup in backups:
            if backup.artifact is None:
                continue
            Artifact.objects.filter(pk=backup.artifact.pk).update(legal_hold=hold)
            audit_record_request(request, action="backup.legal_hold_set" if hold else
                                 "backup.legal_hold_clear", tenant=backup.tenant, obj=backup)  # fmt: skip
        self.message_user(request, f"Legal hold {'on' if hold else 'off'} for "
                          f"{len(backups)} backup(s).", messages.SUCCESS)  # fmt: skip

    def _step_page(self, request: HttpRequest, backup: Backup, **context: Any) -> TemplateResponse:
        return TemplateResponse(request, "admin/backups/backup_step.html", {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "original": backup,
            "cancel_url": self._page(backup), **context,
        })  # fmt: skip


@admin.register(Restore, site=staff_site)
class RestoreAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["started", "target", "what", "state_words", "duration", "safety",
                    "requested_by"]  # fmt: skip
    list_filter = ["state", "as_new", "target"]
    list_select_related = ["target", "backup", "backup__tenant", "safety_backup", "requested_by"]
    search_fields = ["target__slug", "backup__tenant__slug", "job_task_id"]
    fields = ["target", "what", "backup_link", "state_words", "started", "duration", "safety",
              "migrated", "requested_by", "job_task_id"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="Started", ordering="started_at")
    def started(self, obj: Restore) -> str:
        return time_html(obj.started_at, zone=obj.target.timezone)

    @admin.display(description="What")
    def what(self, obj: Restore) -> str:
        taken = obj.backup.started_at.strftime("%Y-%m-%d %H:%M")
        if obj.as_new:
            return f"new tenant from {obj.backup.tenant.slug}'s backup of {taken}"
        return f"backup of {taken}"

    @admin.display(description="Backup")
    def backup_link(self, obj: Restore) -> str:
        url = reverse("admin:backups_backup_change", args=[obj.backup_id])
        return format_html('<a class="underline" href="{}">{}</a>', url, obj.backup)

    @admin.display(description="State")
    def state_words(self, obj: Restore) -> str:
        if obj.state == Restore.State.FAILED:
            return format_html('<span class="text-red-600 font-semibold">failed: {}</span>',
                               obj.error[:160])  # fmt: skip
        return str(obj.get_state_display()).lower()

    @admin.display(description="Restore time", ordering="duration_s")
    def duration(self, obj: Restore) -> str:
        return _seconds(obj.duration_s)

    @admin.display(description="Safety backup")
    def safety(self, obj: Restore) -> str:
        if obj.safety_backup_id is None:
            return "—"
        url = reverse("admin:backups_backup_change", args=[obj.safety_backup_id])
        return format_html('<a class="underline" href="{}">taken first</a>', url)

    @admin.display(description="Migrated forward")
    def migrated(self, obj: Restore) -> str:
        return ", ".join(obj.migrated_forward) or "nothing (same migration state)"


class StaleFilter(admin.SimpleListFilter):
    title = "verified backup"
    parameter_name = "verified"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("stale", "None in the last 48 hours"), ("ok", "Within 48 hours")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        stale = stale_q(timezone.now())
        match self.value():
            case "stale":
                return queryset.filter(stale)
            case "ok":
                return queryset.exclude(stale)
        return queryset


@admin.register(BackupOverview, site=staff_site)
class BackupOverviewAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """One row per tenant: is it backed up, and is that backup known to restore?"""

    list_display = ["tenant_link", "status", "last_backup", "last_verified", "failures_7d",
                    "kept", "backups_link"]  # fmt: skip
    list_filter = [StaleFilter, "status"]
    search_fields = ["name", "slug"]
    ordering = ["name"]
    list_display_links = None

    def get_queryset(self, request: HttpRequest) -> QuerySet[BackupOverview]:
        return backup_overview_rows(super().get_queryset(request))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("backups.view_backup")

    @admin.display(description="Tenant", ordering="name")
    def tenant_link(self, obj: BackupOverview) -> str:
        url = reverse("admin:tenants_tenant_change", args=[obj.pk]) + "#backups"
        return format_html('<a class="underline" href="{}">{}</a>', url, obj.name)

    @admin.display(description="Last backup", ordering="last_backup_at")
    def last_backup(self, obj: Any) -> str:
        return time_html(obj.last_backup_at, zone=obj.timezone) if obj.last_backup_at else "never"

    @admin.display(description="Last verified backup", ordering="last_verified_at")
    def last_verified(self, obj: Any) -> str:
        at = obj.last_verified_at
        stale = timezone.now() - (at or obj.created_at) > dt.timedelta(hours=48)
        text = time_html(at, zone=obj.timezone) if at else "never"
        if stale and obj.status == BackupOverview.Status.ACTIVE:
            return format_html('<span class="text-red-600 font-semibold">⚠ {}</span>', text)
        return text

    @admin.display(description="Failures (7 days)", ordering="failures")
    def failures_7d(self, obj: Any) -> str:
        if not obj.failures:
            return "0"
        url = (
            reverse("admin:backups_backup_changelist")
            + f"?tenant__id__exact={obj.pk}&state__exact=failed"
        )
        return format_html('<a class="underline text-red-600" href="{}">{}</a>', url, obj.failures)

    @admin.display(description="Kept", ordering="backup_bytes")
    def kept(self, obj: Any) -> str:
        return str(filesizeformat(obj.backup_bytes))

    @admin.display(description="Backups")
    def backups_link(self, obj: Any) -> str:
        url = reverse("admin:backups_backup_changelist") + f"?tenant__id__exact={obj.pk}"
        return format_html('<a class="underline" href="{}">All backups</a>', url)


# --- the tenant page's tabs (console.admin.TenantAdmin lists them) ---------------------------
class BackupInline(ReadOnlyTab):
    """The tenant's backups, newest first, each linking to its page (actions are there)."""

    model = Backup
    fk_name = "tenant"
    per_page = 10
    verbose_name_plural = "Backups"
    fields = ["taken", "kind", "state_words", "size_words", "duration", "verification_words",
              "encryption"]  # fmt: skip
    readonly_fields = fields
    ordering = ["-started_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Backup]:
        return super().get_queryset(request).select_related("tenant", "artifact")

    @admin.display(description="Taken (tenant's zone)")
    def taken(self, obj: Backup) -> str:
        # The backup's page (its manifest and actions: verify, restore, download, hold).
        url = reverse("admin:backups_backup_change", args=[obj.pk], current_app="admin")
        return format_html('<a class="underline" href="{}">{}</a>', url,
                           time_html(obj.started_at, zone=obj.tenant.timezone))  # fmt: skip

    @admin.display(description="State")
    def state_words(self, obj: Backup) -> str:
        return state_html(obj)

    @admin.display(description="Size")
    def size_words(self, obj: Backup) -> str:
        return str(filesizeformat(obj.size)) if obj.size is not None else "—"

    @admin.display(description="Duration")
    def duration(self, obj: Backup) -> str:
        return _seconds(obj.duration_s)

    @admin.display(description="Verified")
    def verification_words(self, obj: Backup) -> str:
        return verification_html(obj)

    @admin.display(description="Encryption")
    def encryption(self, obj: Backup) -> str:
        return "age" if obj.encrypted else "none"


class BackupPolicyInline(StackedInline):
    """The tenant's retention (grandfather-father-son); the defaults until staff change them."""

    model = BackupPolicy
    tab = True
    extra = 1
    max_num = 1
    can_delete = False
    verbose_name = "backup retention"
    verbose_name_plural = "Backup retention"
    fields = ["keep_daily", "keep_weekly", "keep_monthly"]
