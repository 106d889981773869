"""The portal's Downloads: this tenant's files that the signed-in member may see, each
download through artifacts.serving; owners also make and revoke share links and see the
tenant's download audit. Share links (/s/<token>) answer here too, without signing in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from artifacts.access import Action, Role, artifact_allows, role_of_member, tenant_allows
from artifacts.links import share_link_find, share_link_make, share_link_revoke
from artifacts.models import Artifact, DownloadEvent, ShareLink
from artifacts.selectors import artifacts_visible, downloads_of_tenant
from artifacts.serving import Asker, artifact_download, download_refuse
from backoffice.services import audit_record
from backups.requests import backup_request, backup_request_admit
from dataport.requests import export_enqueue, export_request_admit
from reports.data import ReportKind
from reports.delivery import report_recipients, report_recipients_clean, report_recipients_set
from reports.requests import ReportRequestForm, report_enqueue, report_request_admit
from reports.services import KINDS_FOR_ROLE
from saas.http import client_ip
from tenants.models import Membership, Tenant

LINK_DAYS = (1, 3, 7)


def _tenant(request: HttpRequest) -> Tenant:
    return request.tenant  # type: ignore[attr-defined]


def _role(request: HttpRequest) -> Role:
    return role_of_member(getattr(request, "membership", None))


def _asker(request: HttpRequest) -> Asker:
    return Asker(via=DownloadEvent.Via.PORTAL, tenant=_tenant(request), user=request.user,  # type: ignore[arg-type]
                 role=_role(request))  # fmt: skip


def recent_for_home(request: HttpRequest, limit: int = 5) -> list[Artifact]:
    """The newest files the member may download, for the home page."""
    rows = artifacts_visible(tenant=_tenant(request), role=_role(request))
    return list(rows.filter(deleted_at__isnull=True)[:limit])


@login_required
def downloads(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    if kind not in Artifact.Kind.values:
        kind = ""
    role = _role(request)
    context: dict[str, Any] = {
        "artifacts": artifacts_visible(tenant=_tenant(request), role=role, kind=kind)[:200],
        "kinds": Artifact.Kind.choices,
        "kind": kind,
        "is_owner": role == Role.OWNER,
    }
    if role == Role.OWNER:
        context["events"] = downloads_of_tenant(tenant=_tenant(request))
        context["links"] = (
            ShareLink.objects.filter(artifact__tenant=_tenant(request))
            .select_related("artifact")
            .order_by("-created_at")[:50]
        )
        context["link_days"] = LINK_DAYS
        context["report_form"] = _report_form(request)
        context["recipients"] = "\n".join(report_recipients())
        context["backup_requests_per_day"] = settings.BACKUP_REQUESTS_PER_DAY
    return render(request, "portal/downloads.html", context)


def _report_form(request: HttpRequest, data: Any = None) -> ReportRequestForm:
    return ReportRequestForm(data, tenant=_tenant(request),
                             kinds=KINDS_FOR_ROLE[Membership.Role.OWNER])  # fmt: skip


@login_required
@require_POST
def report_request_view(request: HttpRequest) -> HttpResponse:
    """An owner asks for a report now: a job in this tenant, at most REPORT_REQUESTS_PER_HOUR
    an hour per tenant; the PDF then appears on this page."""
    if not tenant_allows(_role(request), Action.REQUEST):
        return render(request, "portal/forbidden.html", status=403)
    tenant = _tenant(request)
    form = _report_form(request, request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("portal:downloads")
    if not report_request_admit(tenant=tenant):
        messages.error(
            request,
            f"{tenant.name} has asked for {settings.REPORT_REQUESTS_PER_HOUR} reports in the "
            "last hour, the most there may be. Try again later.",
        )
        return redirect("portal:downloads")
    kind, period = ReportKind(form.cleaned_data["kind"]), form.cleaned_data["period"]
    task_id = report_enqueue(tenant=tenant, kind=kind, period=period, requested_by=request.user)  # type: ignore[arg-type]
    audit_record(
        actor=request.user, action="report.run", tenant=tenant,  # type: ignore[arg-type]
        detail={"kind": kind.value, "period": str(period), "task_id": task_id, "via": "portal"},
        ip_address=client_ip(request) or None,
    )  # fmt: skip
    messages.success(
        request,
        f"Your {kind.label.lower()} report for {period} is being made. It will appear here, "
        "in Downloads, in a minute or two.",
    )
    return redirect("portal:downloads")


@login_required
@require_POST
def backup_request_view(request: HttpRequest) -> HttpResponse:
    """An owner asks for a backup now: a job in this tenant, at most BACKUP_REQUESTS_PER_DAY a
    day per tenant; the archive then appears on this page (owners only)."""
    if not tenant_allows(_role(request), Action.REQUEST):
        return render(request, "portal/forbidden.html", status=403)
    tenant = _tenant(request)
    if not backup_request_admit(tenant=tenant):
        messages.error(request, f"{tenant.name} has asked for {settings.BACKUP_REQUESTS_PER_DAY} "
                       "backups today, the most there may be. Try again tomorrow; the nightly "
                       "backup runs anyway.")  # fmt: skip
        return redirect("portal:downloads")
    task_id = backup_request(tenant=tenant, requested_by=request.user)  # type: ignore[arg-type]
    audit_record(
        actor=request.user, action="backup.run", tenant=tenant,  # type: ignore[arg-type]
        detail={"task_id": task_id, "via": "portal"}, ip_address=client_ip(request) or None,
    )  # fmt: skip
    messages.success(request, "Your backup is being made. It will appear here, in Downloads, "
                     "in a few minutes.")  # fmt: skip
    return redirect("portal:downloads")


@login_required
@require_POST
def export_request_view(request: HttpRequest) -> HttpResponse:
    """An owner asks for the tenant's data export (every table as CSV and JSON in a zip): a job
    in this tenant, at most DATAPORT_EXPORTS_PER_HOUR an hour; the zip then appears here."""
    if not tenant_allows(_role(request), Action.REQUEST):
        return render(request, "portal/forbidden.html", status=403)
    tenant = _tenant(request)
    if not export_request_admit(tenant=tenant):
        messages.error(request, f"{tenant.name} has asked for {settings.DATAPORT_EXPORTS_PER_HOUR} "
                                "data exports in the last hour, the most there may be. Try again later.")  # fmt: skip
        return redirect("portal:downloads")
    task_id = export_enqueue(tenant=tenant, requested_by=request.user)  # type: ignore[arg-type]
    audit_record(
        actor=request.user, action="export.all", tenant=tenant,  # type: ignore[arg-type]
        detail={"task_id": task_id, "via": "portal"}, ip_address=client_ip(request) or None,
    )  # fmt: skip
    messages.success(request, "Your data export is being made. The zip will appear here, in "
                              "Downloads, in a minute or two.")  # fmt: skip
    return redirect("portal:downloads")


def download(request: HttpRequest, ref: str) -> HttpResponseBase:
    """One artifact by id, on this tenant's domain only (another tenant's id: not found)."""
    if not request.user.is_authenticated:
        return download_refuse(request, _asker(request), status=403, reason="not signed in",
                               requested=ref)  # fmt: skip
    artifact = None
    if ref.isdigit() and len(ref) < 19:
        artifact = Artifact.objects.filter(pk=int(ref)).first()
    # A guessed id of another tenant is refused inside artifact_download (the tenant check) so
    # that the attempt is audited against the artifact it aimed at.
    return artifact_download(request, _asker(request), artifact=artifact, requested=ref)


def share_download(request: HttpRequest, token: str) -> HttpResponseBase:
    """A share link: no sign-in; the link must be this tenant's, alive and not used up."""
    asker = Asker(via=DownloadEvent.Via.LINK, tenant=_tenant(request))
    link = share_link_find(token=token, tenant_id=_tenant(request).pk)
    if link is None:
        return download_refuse(request, asker, status=404, reason="unknown link",
                               requested=f"link {token[:8]}…")  # fmt: skip
    asker = Asker(via=DownloadEvent.Via.LINK, tenant=_tenant(request), link=link)
    state = link.state()
    if state in ("revoked", "expired"):
        return download_refuse(request, asker, status=403, reason=f"link {state}",
                               requested=str(link.artifact_id))  # fmt: skip
    return artifact_download(
        request, asker, artifact=link.artifact, requested=str(link.artifact_id)
    )


@login_required
@require_POST
def share_link_create_view(request: HttpRequest, artifact_id: int) -> HttpResponse:
    artifact = Artifact.objects.filter(pk=artifact_id, tenant=_tenant(request)).first()
    if artifact is None:
        raise Http404("No such file here.")
    if not artifact_allows(_role(request), Action.SHARE, artifact):
        return render(request, "portal/forbidden.html", status=403)
    try:
        days = int(request.POST.get("days", "7"))
        uses = int(request.POST["max_uses"]) if request.POST.get("max_uses") else None
        link, url = share_link_make(
            artifact=artifact, actor=request.user, expires_in=dt.timedelta(days=days),  # type: ignore[arg-type]
            max_uses=uses, ip_address=client_ip(request) or None,
        )  # fmt: skip
    except ValueError as exc:
        messages.error(request, str(exc) if "link" in str(exc) else "Choose days and uses.")
        return redirect("portal:downloads")
    return render(request, "portal/share_link_made.html", {"link": link, "url": url})


@login_required
@require_POST
def share_link_revoke_view(request: HttpRequest, link_id: int) -> HttpResponse:
    link = (
        ShareLink.objects.select_related("artifact__tenant")
        .filter(pk=link_id, artifact__tenant=_tenant(request))
        .first()
    )
    if link is None:
        raise Http404("No such link here.")
    if not artifact_allows(_role(request), Action.SHARE, link.artifact):
        return render(request, "portal/forbidden.html", status=403)
    share_link_revoke(link=link, actor=request.user, ip_address=client_ip(request) or None)  # type: ignore[arg-type]
    messages.success(request, f"The link to “{link.artifact.title}” no longer works.")
    return redirect("portal:downloads")


@login_required
@require_POST
def report_recipients_view(request: HttpRequest) -> HttpResponse:
    """Owners choose who is emailed when a report is stored (a link here, never the PDF)."""
    if _role(request) != Role.OWNER:
        return render(request, "portal/forbidden.html", status=403)
    try:
        emails = report_recipients_clean(request.POST.get("emails", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("portal:downloads")
    before = report_recipients()
    after = report_recipients_set(emails=emails)
    audit_record(
        actor=request.user, action="report.recipients", tenant=_tenant(request),  # type: ignore[arg-type]
        detail={"before": before, "after": after, "via": "portal"},
        ip_address=client_ip(request) or None,
    )  # fmt: skip
    messages.success(
        request,
        f"{len(after)} recipient{'s' if len(after) != 1 else ''} will be emailed when a report "
        "is ready."
        if after
        else "Nobody is emailed when a report is ready.",
    )
    return redirect("portal:downloads")


def is_download_path(path: str) -> bool:
    """Paths whose refusals by the portal middleware (suspended tenant, removed member) are
    download refusals: audited, and a 403 rather than a sign-in page."""
    return path.startswith(("/downloads/file/", "/s/"))


def middleware_refuse(request: HttpRequest, tenant: Tenant, reason: str) -> HttpResponse:
    user = request.user if request.user.is_authenticated else None
    asker = Asker(
        via=DownloadEvent.Via.LINK if request.path_info.startswith("/s/") else DownloadEvent.Via.PORTAL,
        tenant=tenant, user=user,
    )  # fmt: skip
    return download_refuse(request, asker, status=403, reason=reason,
                           requested=request.path_info.rsplit("/", 1)[-1][:8])  # fmt: skip
