"""Sessions in the admin: each tenant's in its own admin (/admin/t/<slug>/), staff sessions in
the platform admin. Operators end sessions and run the cleanup; viewers only look.

Rows cannot be edited or deleted one by one; sessions end through the actions and buttons
below, each audited. There is no detail page: it would show the session's data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from unfold.admin import ModelAdmin

from accounts.models import User
from backoffice.admin_base import ReadOnlyAdminMixin
from backoffice.services import audit_record_request
from backoffice.sites import staff_site, tenant_site
from backoffice.times import ago_html, time_html
from jobs.admin import jobs_started_response
from jobs.api import task_enqueue
from usersessions.models import Session
from usersessions.selectors import session_active_q, session_counts, session_max_age_current
from usersessions.services import sessions_end, sessions_end_all
from usersessions.tasks import sessions_cleanup_platform_task, sessions_cleanup_task


class SessionStateFilter(admin.SimpleListFilter):
    """Active sessions by default; the others are the cleanup job's backlog."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("expired", "Expired, not yet deleted")]

    def choices(self, changelist: Any) -> Iterator[Any]:
        for value, label in self.lookup_choices:
            yield {
                "selected": (self.value() or "active") == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Session]) -> QuerySet[Session]:
        active = session_active_q(now=timezone.now(), max_age=session_max_age_current())
        return queryset.exclude(active) if self.value() == "expired" else queryset.filter(active)


def _schema(request: HttpRequest) -> str:
    tenant = getattr(request, "admin_tenant", None)
    return tenant.schema_name if tenant is not None else settings.PUBLIC_SCHEMA_NAME


class SessionAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["user", "ip_address", "device", "created", "expires"]
    list_display_links = None
    list_filter = [SessionStateFilter]
    search_fields = ["username", "ip_address", "user_agent"]
    ordering = ["-created_at"]
    actions = ["end_selected", "end_users"]
    change_list_template = "admin/usersessions/session/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        # Users live in public; inside a tenant's schema the search path still reaches them.
        # One subquery instead of a lookup per row.
        username = User.objects.filter(pk=OuterRef("user_id")).values("username")[:1]
        return super().get_queryset(request).annotate(username=Subquery(username))

    @admin.display(description="User", ordering="username")
    def user(self, obj: Session) -> str:
        return getattr(obj, "username", None) or ("—" if obj.user_id is None else f"#{obj.user_id}")

    # In the tenant's zone in its admin, UTC in the platform's; labelled (backoffice.times).
    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Session) -> str:
        return ago_html(obj.created_at)

    @admin.display(description="Expires", ordering="expire_date")
    def expires(self, obj: Session) -> str:
        return time_html(obj.expire_date)

    @admin.display(description="User agent")
    def device(self, obj: Session) -> str:
        return obj.user_agent[:80] + ("…" if len(obj.user_agent) > 80 else "")

    def has_end_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("usersessions.delete_session")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        max_age = session_max_age_current()
        context = {
            "session_counts": session_counts(max_age=max_age),
            "max_age_days": max_age.days if max_age is not None else None,
            "can_end": self.has_end_permission(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    def get_urls(self) -> list[Any]:
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("end-all/", self.admin_site.admin_view(self.end_all_view), name=f"{name}_end_all"),
            path("cleanup/", self.admin_site.admin_view(self.cleanup_view), name=f"{name}_cleanup"),
            *super().get_urls(),
        ]

    def _changelist(self, request: HttpRequest) -> HttpResponseRedirect:
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"
        return HttpResponseRedirect(reverse(name, current_app=self.admin_site.name))

    def _ended(self, request: HttpRequest, count: int, detail: dict[str, Any]) -> None:
        audit_record_request(request, action="sessions.end", detail={"sessions": count, **detail})
        self.message_user(request, f"{count} session(s) ended.", messages.SUCCESS)

    @admin.action(description="End selected sessions", permissions=["end"])
    def end_selected(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        keys = list(queryset.values_list("session_key", flat=True))
        count = sessions_end(schema_name=_schema(request), session_keys=keys)
        self._ended(request, count, {"scope": "selected"})

    @admin.action(description="End every session of these sessions' users", permissions=["end"])
    def end_users(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        user_ids = sorted(
            {uid for uid in queryset.exclude(user_id=None).values_list("user_id", flat=True) if uid}
        )
        count = sessions_end(schema_name=_schema(request), user_ids=user_ids)
        usernames = sorted(User.objects.filter(pk__in=user_ids).values_list("username", flat=True))
        self._ended(request, count, {"scope": "users", "users": usernames})

    def end_all_view(self, request: HttpRequest) -> HttpResponse:
        """End every session of this tenant (in the platform admin: every staff session but
        the operator's own)."""
        if request.method != "POST":
            return self._confirm(request)
        if not self.has_end_permission(request):
            raise PermissionDenied
        in_tenant = getattr(request, "admin_tenant", None) is not None
        keep = None if in_tenant else request.session.session_key
        count = sessions_end_all(schema_name=_schema(request), keep_session_key=keep)
        self._ended(request, count, {"scope": "all"})
        return self._changelist(request)

    def _confirm(self, request: HttpRequest) -> TemplateResponse:
        if not self.has_end_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "End every session?",
            "opts": self.opts,
            "session_counts": session_counts(max_age=session_max_age_current()),
            "in_tenant": getattr(request, "admin_tenant", None) is not None,
        }
        return TemplateResponse(request, "admin/usersessions/session/end_all.html", context)

    def cleanup_view(self, request: HttpRequest) -> HttpResponse:
        """Run the cleanup job now and land on its JobRun."""
        if request.method != "POST":
            return self._changelist(request)
        if not self.has_end_permission(request):
            raise PermissionDenied
        tenant = getattr(request, "admin_tenant", None)
        task = sessions_cleanup_task if tenant is not None else sessions_cleanup_platform_task
        task_id = task_enqueue(task, tenant=tenant)
        audit_record_request(request, action=f"job.start:{task.name}")
        response = jobs_started_response(self, request, [task_id])
        assert response is not None  # one job started: its JobRun page
        return response


for site in (staff_site, tenant_site):
    site.register(Session, SessionAdmin)
