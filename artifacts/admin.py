"""Artifacts in the platform admin: the registry (download, share links for Operators), the
share links (revoke) and the download audit (read only). Downloads go through
artifacts.serving like the portal's, with the staff user's role from artifacts.access."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from artifacts.access import Action, Role, artifact_allows, role_of_staff
from artifacts.links import share_link_make, share_link_revoke
from artifacts.models import Artifact, DownloadEvent, ShareLink
from artifacts.serving import Asker, artifact_download
from backoffice.admin_base import AuditedAdminMixin, ReadOnlyAdminMixin
from backoffice.services import audit_record_request
from backoffice.sites import staff_site
from backoffice.times import time_html
from saas.http import client_ip


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("stored", "Stored"), ("problem", "Flagged: file problem"),
                ("held", "Legal hold"), ("deleted", "Deleted (tombstone)")]  # fmt: skip

    def queryset(self, request: HttpRequest, queryset: QuerySet[Artifact]) -> QuerySet[Artifact]:
        match self.value():
            case "stored":
                return queryset.filter(deleted_at__isnull=True)
            case "problem":
                return queryset.exclude(problem="")
            case "held":
                return queryset.filter(legal_hold=True)
            case "deleted":
                return queryset.filter(deleted_at__isnull=False)
        return queryset


def download_cell(role: Role) -> Any:
    """The Download column for a staff role (the rule table decides, per row)."""

    @admin.display(description="Download")
    def download(obj: Artifact) -> str:
        if obj.is_deleted or obj.is_expired():
            return "—"
        if not artifact_allows(role, Action.DOWNLOAD, obj):
            return "owners and Operators only"
        url = reverse("admin:artifacts_artifact_download", args=[obj.pk])
        return format_html('<a class="underline" href="{}" download>Download</a>', url)

    return download


@admin.register(Artifact, site=staff_site)
class ArtifactAdmin(AuditedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["title", "tenant", "kind", "audience", "size_words", "created", "expires",
                    "state_words", "download"]  # fmt: skip
    list_filter = [StateFilter, "kind", "audience", "tenant"]
    search_fields = ["title", "filename", "tenant__slug", "sha256", "job_task_id"]
    list_select_related = ["tenant"]
    actions = ["share_link_make_action", "legal_hold_set", "legal_hold_clear"]
    readonly_fields = ["tenant", "kind", "title", "filename", "audience", "storage_key",
                       "content_type", "size", "sha256", "job_task_id", "requested_by",
                       "created_at", "expires_at", "legal_hold", "deleted_at", "deleted_reason",
                       "problem", "checked_at", "download"]  # fmt: skip

    def get_urls(self) -> list[URLPattern]:
        download = path(
            "<int:artifact_id>/download/",
            self.admin_site.admin_view(self.download_view),
            name="artifacts_artifact_download",
        )
        return [download, *super().get_urls()]

    def download_view(self, request: HttpRequest, artifact_id: int) -> HttpResponseBase:
        artifact = Artifact.objects.select_related("tenant").filter(pk=artifact_id).first()
        asker = Asker(via=DownloadEvent.Via.ADMIN, tenant=None, user=request.user,  # type: ignore[arg-type]
                      role=role_of_staff(request.user))  # fmt: skip
        return artifact_download(request, asker, artifact=artifact, requested=str(artifact_id))

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("artifacts.change_artifact")

    @admin.display(description="Size", ordering="size")
    def size_words(self, obj: Artifact) -> str:
        from django.template.defaultfilters import filesizeformat

        return str(filesizeformat(obj.size))

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Artifact) -> str:
        return time_html(obj.created_at)

    @admin.display(description="Expires", ordering="expires_at")
    def expires(self, obj: Artifact) -> str:
        return time_html(obj.expires_at) if obj.expires_at else "never by date"

    @admin.display(description="State")
    def state_words(self, obj: Artifact) -> str:
        if obj.is_deleted:
            return f"deleted ({obj.deleted_reason})"
        if obj.problem:
            return format_html('<span class="text-red-600 font-semibold">⚠ {}</span>', obj.problem)
        if obj.is_expired():
            return "expired"
        return "held" if obj.legal_hold else "stored"

    @admin.display(description="Download")
    def download(self, obj: Artifact) -> str:
        # Replaced per request by the role's own cell (get_list_display); this is the fallback.
        return str(download_cell(Role.NONE)(obj))

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        return [*self.list_display[:-1], download_cell(role_of_staff(request.user))]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return [*self.readonly_fields[:-1], download_cell(role_of_staff(request.user))]

    @admin.action(description="Make a share link (7 days, shown once)", permissions=["operate"])
    def share_link_make_action(self, request: HttpRequest, queryset: QuerySet[Artifact]) -> None:
        for artifact in queryset.select_related("tenant")[:10]:
            if artifact.is_deleted or artifact.is_expired():
                self.message_user(request, f"“{artifact}” is gone: no link.", messages.WARNING)
                continue
            _link, url = share_link_make(
                artifact=artifact, actor=request.user, expires_in=dt.timedelta(days=7),  # type: ignore[arg-type]
                ip_address=client_ip(request) or None,
            )  # fmt: skip
            self.message_user(
                request,
                format_html("Share link to “{}” (copy it now, it is shown once): "
                            '<code class="share-url">{}</code>', artifact.title, url),
                messages.SUCCESS,
            )  # fmt: skip

    @admin.action(description="Put on legal hold", permissions=["operate"])
    def legal_hold_set(self, request: HttpRequest, queryset: QuerySet[Artifact]) -> None:
        self._hold(request, queryset, True)

    @admin.action(description="Release legal hold", permissions=["operate"])
    def legal_hold_clear(self, request: HttpRequest, queryset: QuerySet[Artifact]) -> None:
        self._hold(request, queryset, False)

    def _hold(self, request: HttpRequest, queryset: QuerySet[Artifact], hold: bool) -> None:
        for artifact in queryset.select_related("tenant"):
            Artifact.objects.filter(pk=artifact.pk).update(legal_hold=hold)
            audit_record_request(request, action="artifact.legal_hold_set" if hold else
                                 "artifact.legal_hold_clear", tenant=artifact.tenant,
                                 obj=artifact)  # fmt: skip
        self.message_user(request, f"{queryset.count()} artifact(s) updated.")


@admin.register(ShareLink, site=staff_site)
class ShareLinkAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["pk", "artifact", "tenant", "created", "expires", "uses_words", "state_words",
                    "created_by"]  # fmt: skip
    list_select_related = ["artifact", "artifact__tenant", "created_by"]
    list_filter = ["artifact__tenant"]
    search_fields = ["artifact__title", "artifact__tenant__slug"]
    actions = ["revoke"]
    exclude = ["token_hash"]

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("artifacts.change_sharelink")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked, never deleted: the audit names the link

    @admin.display(description="Tenant")
    def tenant(self, obj: ShareLink) -> str:
        return obj.artifact.tenant.slug

    @admin.display(description="Made", ordering="created_at")
    def created(self, obj: ShareLink) -> str:
        return time_html(obj.created_at)

    @admin.display(description="Expires", ordering="expires_at")
    def expires(self, obj: ShareLink) -> str:
        return time_html(obj.expires_at)

    @admin.display(description="Uses")
    def uses_words(self, obj: ShareLink) -> str:
        return f"{obj.uses} of {obj.max_uses}" if obj.max_uses else str(obj.uses)

    @admin.display(description="State")
    def state_words(self, obj: ShareLink) -> str:
        return obj.state()

    @admin.action(description="Revoke (the link stops working at once)", permissions=["operate"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ShareLink]) -> None:
        done = sum(
            share_link_revoke(link=link, actor=request.user, ip_address=client_ip(request) or None)  # type: ignore[arg-type]
            for link in queryset.select_related("artifact__tenant")
        )
        self.message_user(request, f"{done} link(s) revoked.")


@admin.register(DownloadEvent, site=staff_site)
class DownloadEventAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["when", "tenant", "artifact", "who", "via", "outcome", "range_words",
                    "bytes_sent", "ip_address", "reason"]  # fmt: skip
    list_filter = ["outcome", "via", "tenant"]
    list_select_related = ["tenant", "artifact"]
    search_fields = ["username", "ip_address", "artifact__title", "requested", "reason"]
    date_hierarchy = "at"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="When", ordering="at")
    def when(self, obj: DownloadEvent) -> str:
        return time_html(obj.at)

    @admin.display(description="Who")
    def who(self, obj: DownloadEvent) -> str:
        if obj.share_link_id:
            return f"share link {obj.share_link_id}"
        return obj.username or "anonymous"

    @admin.display(description="Range authorised")
    def range_words(self, obj: DownloadEvent) -> str:
        if obj.range_start is None:
            return "—"
        return f"{obj.range_start}–{obj.range_end}"
