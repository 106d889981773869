"""Import and export in each tenant's admin (/admin/t/<slug>/dataport/importrun/…), inside
that tenant's schema (console.tenant_scope switches it around the whole request).

- "Import and export" lists every resource (dataport/registry.py): export as CSV, XLSX or JSON
  (`dataport.export_data`: Viewers too), import a file (`dataport.import_data`: Operators);
- an upload becomes an artifact and an ImportRun, checked at once when small, else by a job
  (the page follows its JobRun); the run's page shows the preview (new / changed / unchanged /
  errors), the errors row by row, the failed rows to download, and the confirm step;
- "Export everything" makes the tenant data export (a job; the zip appears in Files).
Every run is this tenant's: another tenant's run id is a 404 here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.widgets import INPUT_CLASSES

from artifacts.access import role_of_staff
from artifacts.models import DownloadEvent
from artifacts.services import QuotaExceededError
from artifacts.serving import Asker, artifact_download, content_disposition
from backoffice.admin_base import AuditedAdminMixin, ReadOnlyAdminMixin
from backoffice.services import audit_record_request
from backoffice.sites import tenant_site
from backoffice.times import time_html
from dataport.exports import resource_export_chunks
from dataport.formats import CONTENT_TYPES, FORMATS, FileRefused
from dataport.imports import (
    import_apply,
    import_cancel,
    import_check,
    import_confirm,
    import_is_large,
    import_run_get,
    import_upload,
)
from dataport.models import ImportRun
from dataport.registry import importable_get, resource_get, resources_all
from dataport.requests import export_enqueue
from dataport.tasks import import_apply_task, import_check_task
from jobs.admin import jobrun_admin_url, jobs_started_response
from jobs.api import task_enqueue
from jobs.models import JobRun
from tenants.models import Tenant

IMPORT_PERM = "dataport.import_data"
EXPORT_PERM = "dataport.export_data"


class UploadForm(forms.Form):
    file = forms.FileField(
        label="File", help_text="CSV (UTF-8, commas), XLSX or JSON (a list of objects).",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.json",
                                               "class": " ".join(INPUT_CLASSES)}),
    )  # fmt: skip


def _tenant(request: HttpRequest) -> Tenant:
    tenant = getattr(request, "admin_tenant", None)
    if tenant is None:
        raise Http404
    return tenant


@admin.register(ImportRun, site=tenant_site)
class ImportRunAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["created", "resource", "format", "state", "counts_words", "created_by"]
    list_filter = ["state", "resource"]
    list_display_links = None
    change_list_template = "admin/dataport/importrun/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ImportRun]:
        return (
            super()
            .get_queryset(request)
            .filter(tenant=_tenant(request))
            .select_related("created_by")
        )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(EXPORT_PERM) or request.user.has_perm(IMPORT_PERM)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    @admin.display(description="Started", ordering="created_at")
    def created(self, obj: ImportRun) -> str:
        return format_html('<a href="{}">{}</a>', reverse("tenant_admin:dataport_run", args=[obj.pk]),
                           time_html(obj.created_at))  # fmt: skip

    @admin.display(description="Rows")
    def counts_words(self, obj: ImportRun) -> str:
        return _counts_words(obj.counts)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("transfer/", view(self.transfer_view), name="dataport_transfer"),
            path("import/<str:resource>/", view(self.upload_view), name="dataport_upload"),
            path("export/<str:resource>/<str:fmt>/", view(self.export_view), name="dataport_export"),
            path("export-all/", view(self.export_all_view), name="dataport_export_all"),
            path("run/<int:run_id>/", view(self.run_view), name="dataport_run"),
            path("run/<int:run_id>/confirm/", view(self.confirm_view), name="dataport_confirm"),
            path("run/<int:run_id>/cancel/", view(self.cancel_view), name="dataport_cancel"),
            path("run/<int:run_id>/failed-rows/", view(self.failed_rows_view), name="dataport_failed_rows"),
            *super().get_urls(),
        ]  # fmt: skip

    def _context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        request.current_app = self.admin_site.name  # the templates' "admin:" URLs are this site's
        return {**self.admin_site.each_context(request), "title": title,
                "opts": self.model._meta, "tenant": _tenant(request), **extra}  # fmt: skip

    def _require(self, request: HttpRequest, perm: str) -> None:
        if not request.user.has_perm(perm):
            raise PermissionDenied

    def transfer_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        tenant = _tenant(request)
        context = self._context(
            request, f"Import and export: {tenant.name}", resources=resources_all(),
            formats=FORMATS, may_import=request.user.has_perm(IMPORT_PERM),
            may_export=request.user.has_perm(EXPORT_PERM),
            may_export_all=request.user.has_perm(IMPORT_PERM),
            runs=ImportRun.objects.filter(tenant=tenant).select_related("created_by")[:10],
        )  # fmt: skip
        return TemplateResponse(request, "admin/dataport/transfer.html", context)

    def export_view(self, request: HttpRequest, resource: str, fmt: str) -> HttpResponseBase:
        self._require(request, EXPORT_PERM)
        tenant = _tenant(request)
        try:
            found = resource_get(resource)
        except LookupError as exc:
            raise Http404 from exc
        if fmt not in FORMATS:
            raise Http404
        chunks = resource_export_chunks(found, tenant=tenant, fmt=fmt)
        audit_record_request(request, action="export.download", tenant=tenant,
                             detail={"resource": resource, "format": fmt})  # fmt: skip
        response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = content_disposition(f"{tenant.slug}-{resource}.{fmt}")
        response["Cache-Control"] = "private, no-store"
        return response

    def export_all_view(self, request: HttpRequest) -> HttpResponseBase:
        # Owners-only files are made by those who may read them: Operators (artifacts/access.py).
        self._require(request, IMPORT_PERM)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("tenant_admin:dataport_transfer"))
        tenant = _tenant(request)
        task_id = export_enqueue(tenant=tenant, requested_by=request.user)  # type: ignore[arg-type]
        audit_record_request(
            request, action="export.all", tenant=tenant, detail={"task_id": task_id}
        )
        return jobs_started_response(self, request, [task_id]) or HttpResponseRedirect("../")

    def upload_view(self, request: HttpRequest, resource: str) -> HttpResponse:
        self._require(request, IMPORT_PERM)
        tenant = _tenant(request)
        try:
            found = importable_get(resource)
        except LookupError as exc:
            raise Http404 from exc
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                run = import_upload(tenant=tenant, resource_name=resource, filename=upload.name,
                                    content=upload, size=upload.size, user=request.user)  # type: ignore[arg-type]  # fmt: skip
            except (FileRefused, QuotaExceededError) as exc:
                form.add_error("file", str(exc))
            else:
                audit_record_request(request, action="import.upload", tenant=tenant, obj=run,
                                     detail={"resource": resource, "file": upload.name})  # fmt: skip
                if import_is_large(run):
                    run.check_task_id = task_enqueue(import_check_task, tenant=tenant,
                                                     kwargs={"run_id": run.pk})  # fmt: skip
                    run.save(update_fields=["check_task_id"])
                else:
                    import_check(run=run)
                return HttpResponseRedirect(reverse("tenant_admin:dataport_run", args=[run.pk]))
        context = self._context(
            request, f"Import {found.resource_title.lower()} into {tenant.name}", form=form,
            resource=found, columns=found.get_export_headers(), required=found.import_required,
        )  # fmt: skip
        return TemplateResponse(request, "admin/dataport/upload.html", context)

    def _run(self, request: HttpRequest, run_id: int) -> ImportRun:
        try:
            return import_run_get(tenant=_tenant(request), run_id=run_id)
        except ImportRun.DoesNotExist as exc:
            raise Http404("No such import in this tenant.") from exc

    def run_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = self._run(request, run_id)
        task_id = run.apply_task_id or run.check_task_id
        job = JobRun.objects.filter(task_id=task_id).first() if task_id else None
        busy = run.state in (
            ImportRun.State.UPLOADED,
            ImportRun.State.CHECKING,
            ImportRun.State.CONFIRMED,
            ImportRun.State.APPLYING,
        )
        context = self._context(
            request, f"Import {run.pk}: {resource_title(run.resource)}", run=run, job=job,
            job_url=jobrun_admin_url(task_id) if job is not None else "", busy=busy,
            counts=[(a, run.counts.get(a, 0)) for a in ("new", "changed", "unchanged", "error")],
            may_import=request.user.has_perm(IMPORT_PERM),
            confirmable=run.state == ImportRun.State.CHECKED,
        )  # fmt: skip
        return TemplateResponse(request, "admin/dataport/run.html", context)

    def confirm_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        self._require(request, IMPORT_PERM)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("tenant_admin:dataport_run", args=[run_id]))
        run = self._run(request, run_id)
        skip = request.POST.get("skip_invalid") == "on"
        if not import_confirm(run=run, skip_invalid=skip):
            messages.error(request, "This import is not waiting for confirmation.")
        elif import_is_large(run):
            run.apply_task_id = task_enqueue(import_apply_task, tenant=run.tenant,
                                             kwargs={"run_id": run.pk, "actor_id": request.user.pk})  # fmt: skip
            run.save(update_fields=["apply_task_id"])
        else:
            run = import_apply(run=run, actor=request.user)  # type: ignore[arg-type]
        if run.state == ImportRun.State.APPLIED:
            skipped = run.counts.get("error", 0)
            messages.success(request, f"Imported: {_counts_words(run.counts, errors=False)}"
                                      + (f"; {skipped:,} rows with errors skipped." if skipped else "."))  # fmt: skip
        return HttpResponseRedirect(reverse("tenant_admin:dataport_run", args=[run.pk]))

    def cancel_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        self._require(request, IMPORT_PERM)
        if request.method == "POST" and import_cancel(run=self._run(request, run_id)):
            messages.info(request, "Import cancelled: nothing was written.")
        return HttpResponseRedirect(reverse("tenant_admin:dataport_run", args=[run_id]))

    def failed_rows_view(self, request: HttpRequest, run_id: int) -> HttpResponseBase:
        run = self._run(request, run_id)
        asker = Asker(via=DownloadEvent.Via.ADMIN, tenant=run.tenant, user=request.user,  # type: ignore[arg-type]
                      role=role_of_staff(request.user))  # fmt: skip
        return artifact_download(
            request, asker, artifact=run.errors_file, requested=f"import {run_id}"
        )


def resource_title(name: str) -> str:
    try:
        return resource_get(name).resource_title
    except LookupError:
        return name


def _counts_words(counts: dict[str, int], errors: bool = True) -> str:
    if not counts:
        return "—"
    actions = ("new", "changed", "unchanged", *(("error",) if errors else ()))
    return ", ".join(
        f"{counts.get(a, 0):,} {a if a != 'error' else 'with errors'}" for a in actions
    )
