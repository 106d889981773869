"""Job history in the platform admin, and the helper that lands an admin action on the job it
started."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from backoffice.admin_base import ReadOnlyAdminMixin
from backoffice.display import NOTHING, kv_table, value_html
from backoffice.services import audit_record_request
from backoffice.sites import staff_site
from backoffice.times import ago_html, time_html
from jobs import services
from jobs.models import JobRun
from tenants.models import Tenant


def jobrun_admin_url(task_id: str) -> str:
    """Where an admin "run now" lands: the JobRun page of the job it started."""
    run = JobRun.objects.get(task_id=task_id)
    return reverse("admin:jobs_jobrun_change", args=[run.pk], current_app="admin")


def jobs_started_response(
    model_admin: admin.ModelAdmin, request: HttpRequest, task_ids: list[str]
) -> HttpResponseRedirect | None:
    """After an admin action that started jobs: one job lands on its JobRun page, several on
    the job history with a message."""
    if len(task_ids) == 1:
        return HttpResponseRedirect(jobrun_admin_url(task_ids[0]))
    if not task_ids:
        return None
    model_admin.message_user(request, f"{len(task_ids)} jobs queued.", messages.SUCCESS)
    return HttpResponseRedirect(reverse("admin:jobs_jobrun_changelist", current_app="admin"))


class TenantSlugFilter(admin.SimpleListFilter):
    title = "tenant"
    parameter_name = "tenant"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        tenants = Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).values_list(
            "slug", "name"
        )
        return [("-", "Platform (public)"), *tenants]

    def queryset(self, request: HttpRequest, queryset: QuerySet[JobRun]) -> QuerySet[JobRun]:
        if self.value() == "-":
            return queryset.filter(tenant_slug="")
        if self.value():
            return queryset.filter(tenant_slug=self.value())
        return queryset


@admin.register(JobRun, site=staff_site)
class JobRunAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Job history: read-only (operators act through the actions below; rows are pruned by the
    platform job after JOBRUN_RETENTION_DAYS)."""

    list_display = [
        "queued", "short_task", "tenant_slug", "state_badge", "progress", "attempt",
        "duration", "worker",
    ]  # fmt: skip
    list_filter = [
        TenantSlugFilter,
        "state",
        "task_name",
        "queue",
        ("queued_at", admin.DateFieldListFilter),
    ]
    search_fields = ["task_id", "task_name", "summary", "tenant_slug", "error_message"]
    date_hierarchy = "queued_at"
    actions = ["retry", "revoke", "terminate"]
    change_form_template = "admin/jobs/jobrun/change_form.html"
    fieldsets = [
        (None, {"fields": ["task_id", "task_name", "summary", "tenant_link", "schedule_link", "schema_name", "queue", "state"]}),
        ("Progress", {"fields": ["progress_words"]}),
        ("Times", {"fields": ["queued_exact", "started", "finished", "duration", "worker", "attempt"]}),
        ("Arguments", {"fields": ["arguments"]}),
        ("Outcome", {"fields": ["result", "artifact_link", "error_type", "error_message", "traceback", "retry_of"]}),
    ]  # fmt: skip

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None or obj.state != JobRun.State.SKIPPED:
            return self.fieldsets
        # A skipped job did not fail: its message is the reason it was skipped.
        skipped = ("Outcome", {"fields": ["result", "reason", "retry_of"]})
        return [*self.fieldsets[:-1], skipped]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in JobRun._meta.fields] + [
            "duration", "artifact_link", "queued_exact", "started", "finished", "tenant_link",
            "schedule_link", "progress_words", "arguments", "result", "reason",
        ]  # fmt: skip

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobs.change_jobrun")

    # Times by the admin's rule (backoffice.times): UTC here, labelled, with seconds.
    @admin.display(description="Queued", ordering="queued_at")
    def queued(self, obj: JobRun) -> str:
        return ago_html(obj.queued_at)

    @admin.display(description="Queued")
    def queued_exact(self, obj: JobRun) -> str:
        return time_html(obj.queued_at)

    @admin.display(description="Started")
    def started(self, obj: JobRun) -> str:
        return time_html(obj.started_at)

    @admin.display(description="Finished")
    def finished(self, obj: JobRun) -> str:
        return time_html(obj.finished_at)

    @admin.display(description="Task", ordering="task_name")
    def short_task(self, obj: JobRun) -> str:
        return obj.summary or obj.task_name

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj: JobRun) -> str:
        colours = {"succeeded": "#15803d", "failed": "#b91c1c", "lost": "#b91c1c", "running": "#1d4ed8",
                   "retrying": "#b45309", "skipped": "#6b7280", "revoked": "#6b7280", "queued": "#6b7280"}  # fmt: skip
        return format_html(
            '<strong style="color:{}">{}</strong>', colours.get(obj.state, "#000"), obj.state
        )

    @admin.display(description="Progress")
    def progress(self, obj: JobRun) -> str:
        if obj.progress_done is None:
            return NOTHING
        if obj.progress_total:
            return f"{obj.progress_done}/{obj.progress_total}"
        return obj.progress_text

    @admin.display(description="Progress")
    def progress_words(self, obj: JobRun) -> str:
        return obj.progress_text or NOTHING

    @admin.display(description="Tenant")
    def tenant_link(self, obj: JobRun) -> str:
        if not obj.tenant_slug:
            return "Platform" if obj.tenant_id is None else f"#{obj.tenant_id} (unknown)"
        try:
            url = reverse("admin:tenants_tenant_change", args=[obj.tenant_id], current_app="admin")
        except NoReverseMatch:
            return obj.tenant_slug
        return format_html('<a href="{}">{}</a>', url, obj.tenant_slug)

    @admin.display(description="Schedule")
    def schedule_link(self, obj: JobRun) -> str:
        """The periodic task that sent it, opened in the admin that edits it."""
        if not obj.periodic_task_name:
            return "None (started by hand or by code)"
        if obj.tenant_slug:
            changelist = f"/admin/t/{obj.tenant_slug}/django_celery_beat/periodictask/"
        else:
            changelist = reverse("admin:django_celery_beat_periodictask_changelist",
                                 current_app="admin")  # fmt: skip
        url = f"{changelist}?{urlencode({'q': obj.periodic_task_name})}"
        return format_html('<a href="{}">{}</a>', url, obj.periodic_task_name)

    @admin.display(description="Arguments")
    def arguments(self, obj: JobRun) -> str:
        rows = [(f"#{n}", value) for n, value in enumerate(obj.args or [], 1)]
        rows += list((obj.kwargs or {}).items())
        table = kv_table(rows) if rows else "None"
        if not obj.arguments_truncated:
            return table
        return format_html(
            "{}<p><strong>Arguments truncated</strong>: they were too large to keep whole, so "
            "this job cannot be retried.</p>",
            table,
        )

    @admin.display(description="Result")
    def result(self, obj: JobRun) -> str:
        return value_html(obj.result_summary)

    @admin.display(description="Reason")
    def reason(self, obj: JobRun) -> str:
        return obj.error_message or NOTHING

    @admin.display(description="Duration")
    def duration(self, obj: JobRun) -> str:
        return f"{obj.duration_s:.1f} s" if obj.duration_s is not None else "—"

    @admin.display(description="File made")
    def artifact_link(self, obj: JobRun) -> str:
        if obj.artifact_url:
            return format_html('<a class="underline" href="{}">{}</a>', obj.artifact_url,
                               obj.artifact_url)  # fmt: skip
        # A job that wrote an artifact says so in its result (reports, exports, backups); its
        # page is in the platform admin (named by URL: jobs sits below the artifacts app).
        artifact_id = (obj.result_summary or {}).get("artifact_id") if isinstance(
            obj.result_summary, dict) else None  # fmt: skip
        if isinstance(artifact_id, int):
            try:
                url = reverse("admin:artifacts_artifact_change", args=[artifact_id],
                              current_app="admin")  # fmt: skip
            except NoReverseMatch:
                return "—"
            return format_html('<a class="underline" href="{}">File #{}</a>', url, artifact_id)
        return "—"

    @admin.action(description="Retry (same task, tenant and arguments)", permissions=["operate"])
    def retry(
        self, request: HttpRequest, queryset: QuerySet[JobRun]
    ) -> HttpResponseRedirect | None:
        new_ids = []
        for run in queryset:
            try:
                new_ids.append(services.jobrun_retry(run=run))
            except services.JobRunRefused as exc:
                self.message_user(request, f"{run}: {exc}", messages.ERROR)
                continue
            audit_record_request(request, action="job.retry", tenant=_tenant_of(run), obj=run)
        return jobs_started_response(self, request, new_ids)

    def _revoke(self, request: HttpRequest, queryset: QuerySet[JobRun], terminate: bool) -> None:
        for run in queryset:
            try:
                services.jobrun_revoke(run=run, terminate=terminate)
            except services.JobRunRefused as exc:
                self.message_user(request, f"{run}: {exc}", messages.ERROR)
                continue
            action = "job.terminate" if terminate else "job.revoke"
            audit_record_request(request, action=action, tenant=_tenant_of(run), obj=run)
            self.message_user(request, f"{run.summary}: {action.split('.')[1]}d.", messages.SUCCESS)

    @admin.action(description="Revoke (a queued job will not run)", permissions=["operate"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[JobRun]) -> None:
        self._revoke(request, queryset, terminate=False)

    @admin.action(description="Terminate (kill a running job)", permissions=["operate"])
    def terminate(self, request: HttpRequest, queryset: QuerySet[JobRun]) -> None:
        self._revoke(request, queryset, terminate=True)


def _tenant_of(run: JobRun) -> Tenant | None:
    return Tenant.objects.filter(pk=run.tenant_id).first() if run.tenant_id else None
