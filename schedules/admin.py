"""Schedules in both admins: each tenant's periodic tasks in its own admin (/admin/t/<slug>/),
the platform's in the platform admin, and the overview of every tenant's schedules there too.

Everything a tenant admin writes goes to the tenant's schema (the request runs inside it);
enable/disable/toggle are bulk updates, so they report the change to beat themselves.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from unfold.admin import ModelAdmin
from unfold.decorators import action

from backoffice.admin_base import AuditedAdminMixin
from backoffice.services import audit_record_request
from backoffice.sites import staff_site, tenant_site
from backoffice.times import ago_html, time_html
from jobs.admin import jobs_started_response
from jobs.api import PlatformTask, TrackedTask, is_tenant_task, task_enqueue
from jobs.models import JobRun
from saas.celery import app
from schedules.forms import ScheduleForm
from schedules.models import CATCH_UP_DEFAULT
from schedules.services import (
    cron_expression,
    cron_parse,
    cron_preview,
    crontab_next_runs,
    periodic_task_enabled_set,
    schedule_describe,
    schedule_next_run,
    schedule_next_runs,
    schedule_state,
    timezone_current,
)
from schedules.validation import periodic_task_problem
from tenants.context import connection_schema


def _local(when: dt.datetime | None) -> str:
    """A schedule's time (whole minutes) on the clock of the tenant whose admin this is (UTC in
    the platform's), labelled: backoffice.times' rule."""
    return time_html(when, seconds=False)


def _or_invalid(show: Callable[[], str]) -> str:
    try:
        return show()
    except Exception:  # a stored row the reader cannot make sense of
        return "invalid"


def _row_problem(task: PeriodicTask) -> str | None:
    problem = periodic_task_problem(task)
    if problem is None and task.crontab_id is not None:
        try:
            cron_parse(cron_expression(task.crontab))
        except ValidationError as exc:
            problem = " ".join(exc.messages)
    if problem is None:
        state = schedule_state(task)
        if state is not None and state.last_error:
            problem = f"the last due run could not be sent: {state.last_error}"
    return problem


class PeriodicTaskAdmin(AuditedAdminMixin, ModelAdmin):
    form = ScheduleForm
    change_form_template = "admin/schedules/periodictask_change_form.html"
    # In a tenant's admin: import and export of its schedules (dataport), by URL name only.
    list_before_template = "admin/schedules/periodictask_list_before.html"
    list_display = ["name", "enabled", "task_short", "schedule_words", "next_run", "last_run", "problem",
                    "missed"]  # fmt: skip
    list_filter = ["enabled", "task"]
    search_fields = ["name", "task", "description"]
    list_select_related = ["interval", "crontab", "solar", "clocked", "state"]
    actions = ["enable", "disable", "run_now"]
    readonly_fields = ["problem", "next_runs", "last_run", "total_run_count", "missed",
                       "recent_runs"]  # fmt: skip
    actions_detail = ["run_now_one"]

    def get_fieldsets(self, request: HttpRequest, obj: PeriodicTask | None = None) -> Any:
        zone = timezone_current()
        schedule = ["cron", "interval", "solar", "clocked", "start_time", "one_off", "catch_up"]
        fieldsets: list[Any] = [
            (None, {"fields": ["name", "task", "enabled", "description"]}),
            (f"Schedule (exactly one; times in {zone})", {"fields": schedule}),
            ("Arguments (JSON)", {"fields": ["args", "kwargs"]}),
            (
                "Execution options",
                {
                    "classes": ["collapse"],
                    "fields": ["expires", "expire_seconds", "queue", "priority", "headers"],
                },
            ),
        ]
        if obj is not None:
            fieldsets.insert(2, ("Runs", {"fields": self.readonly_fields}))
        return fieldsets

    def get_urls(self) -> list[Any]:
        preview = path("preview/", self.admin_site.admin_view(self.preview_view),
                       name="django_celery_beat_periodictask_preview")  # fmt: skip
        return [preview, *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """The next 5 runs of a crontab expression, in the tenant's time zone (the form's live
        preview)."""
        if not self.has_view_or_change_permission(request):
            return JsonResponse({"error": "Not allowed."}, status=403)
        try:
            runs = cron_preview(request.GET.get("cron", ""), timezone_current(),
                                connection_schema())  # fmt: skip
        except ValidationError as exc:
            return JsonResponse({"error": " ".join(exc.messages)}, status=400)
        return JsonResponse({"runs": [run.strftime("%a %Y-%m-%d %H:%M %Z") for run in runs]})

    def save_model(self, request: HttpRequest, obj: PeriodicTask, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        form.save_state(obj)

    # -- read-only values of the form's own fields (a viewer's page has no form) ---------------
    @admin.display(description="Crontab")
    def cron(self, obj: PeriodicTask) -> str:
        if obj.crontab_id is None:
            return "—"
        return f"{cron_expression(obj.crontab)} ({obj.crontab.timezone}): {schedule_describe(obj)}"

    @admin.display(description="Catch up missed runs")
    def catch_up(self, obj: PeriodicTask) -> str:
        state = schedule_state(obj)
        on = state.catch_up if state is not None else CATCH_UP_DEFAULT
        return "Yes: a missed run is run once" if on else "No: missed runs are skipped"

    # -- columns -------------------------------------------------------------------------------
    @admin.display(description="Task", ordering="task")
    def task_short(self, obj: PeriodicTask) -> str:
        return obj.task.rsplit(".", 1)[-1]

    @admin.display(description="Problem")
    def problem(self, obj: PeriodicTask) -> str:
        """Why beat will not run this row as it is (stored before the rules, or a send that
        failed): shown, never an error page."""
        found = _row_problem(obj)
        return (
            format_html('<strong class="errornote">Invalid: {}</strong>', found) if found else "—"
        )

    @admin.display(description="Schedule")
    def schedule_words(self, obj: PeriodicTask) -> str:
        return _or_invalid(lambda: schedule_describe(obj))

    @admin.display(description="Next run")
    def next_run(self, obj: PeriodicTask) -> str:
        if _row_problem(obj):
            return "—"
        return _or_invalid(lambda: _local(schedule_next_run(obj, connection_schema())))

    @admin.display(description="Last run")
    def last_run(self, obj: PeriodicTask) -> str:
        return ago_html(obj.last_run_at if obj.total_run_count else None)

    @admin.display(description="Missed runs")
    def missed(self, obj: PeriodicTask) -> str:
        state = schedule_state(obj)
        if state is None or not state.missed_runs:
            return "0"
        return f"{state.missed_runs} (last due {_local(state.last_missed_at)})"

    @admin.display(description="Next 5 runs")
    def next_runs(self, obj: PeriodicTask) -> str:
        if not obj.enabled:
            return "— (disabled)"
        if _row_problem(obj):
            return "— (invalid)"
        runs = schedule_next_runs(obj, connection_schema())
        return format_html("<ol>{}</ol>", format_html_join(
            "", "<li>{}</li>", ((_local(run),) for run in runs)))  # fmt: skip

    # -- actions -------------------------------------------------------------------------------
    def _enabled_set(
        self, request: HttpRequest, queryset: QuerySet[PeriodicTask], on: bool
    ) -> None:
        changed = [task for task in queryset if task.enabled != on]
        for task in changed:
            periodic_task_enabled_set(task, on)
            audit_record_request(request, action="schedule.enable" if on else "schedule.disable",
                                 obj=task)  # fmt: skip
        self.message_user(request, f"{len(changed)} schedule(s) {'enabled' if on else 'disabled'}.")

    @admin.action(description="Enable selected schedules", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        self._enabled_set(request, queryset, True)

    @admin.action(description="Disable selected schedules", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[PeriodicTask]) -> None:
        self._enabled_set(request, queryset, False)

    @action(description="Run now", url_path="run-now", icon="play_arrow", permissions=["change"],
            dialog={"title": "Run this schedule now?",
                    "description": "Its task is sent once, now, with its arguments; the "
                                   "schedule itself is unchanged. You land on the job's page.",
                    "form_submit_text": "Run now"})  # fmt: skip
    def run_now_one(self, request: HttpRequest, form: Any, object_id: str) -> Any:
        """The schedule's own "Run now" (a dialog asks, then posts): the list's action, for
        this one."""
        periodic = self.get_object(request, object_id)
        if periodic is None:
            raise Http404
        response = self.run_now(request, PeriodicTask.objects.filter(pk=periodic.pk))
        target = response.url if response is not None else request.path.rsplit("run-now/", 1)[0]
        if request.headers.get("HX-Request"):
            # The dialog posts with htmx: tell it to go to the page, not to swap it in.
            return HttpResponse(status=204, headers={"HX-Redirect": target})
        return HttpResponseRedirect(target)

    @admin.display(description="Recent runs")
    def recent_runs(self, obj: PeriodicTask) -> Any:
        """The jobs this schedule started (beat's sends and "Run now"), newest first, each a
        link to its page in the platform admin's job history."""
        runs = JobRun.objects.filter(
            schema_name=connection_schema(), periodic_task_name=obj.name
        ).order_by("-queued_at")[:10]
        if not runs:
            return "None yet."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "", '<li><a class="underline" href="{}">{}</a> · {} · {}</li>',
                ((reverse("admin:jobs_jobrun_change", args=[run.pk], current_app="admin"),
                  run.get_state_display(), ago_html(run.queued_at), run.summary)
                 for run in runs),
            ),
        )  # fmt: skip

    @admin.action(description="Run now (lands on the job)", permissions=["change"])
    def run_now(
        self, request: HttpRequest, queryset: QuerySet[PeriodicTask]
    ) -> HttpResponseRedirect | None:
        tenant = getattr(request, "admin_tenant", None)
        task_ids = []
        for periodic in queryset:
            task = app.tasks.get(periodic.task)
            # In a tenant's admin only tenant tasks, in the platform admin only platform tasks.
            allowed = is_tenant_task(task) if tenant is not None else isinstance(task, PlatformTask)
            if not allowed or not isinstance(task, TrackedTask):
                self.message_user(
                    request, f"{periodic.name}: {periodic.task} cannot run here.", messages.ERROR
                )
                continue
            args, kwargs = json.loads(periodic.args or "[]"), json.loads(periodic.kwargs or "{}")
            # Named like beat's sends, so the job is listed among the schedule's recent runs.
            task_ids.append(task_enqueue(task, tenant=tenant, args=args, kwargs=kwargs,
                                         headers={"periodic_task_name": periodic.name}))  # fmt: skip
            audit_record_request(request, action="schedule.run_now", obj=periodic)
        return jobs_started_response(self, request, task_ids)


class CrontabScheduleAdmin(AuditedAdminMixin, beat_admin.CrontabScheduleAdmin):
    list_display = ["__str__", "human_readable"]
    fields = ["human_readable", "minute", "hour", "day_of_month", "month_of_year", "day_of_week",
              "timezone", "next_runs"]  # fmt: skip
    readonly_fields = ["human_readable", "next_runs"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        # A crontab made for a tenant is in the tenant's time zone unless staff choose another.
        return {"timezone": timezone_current(),
                **super().get_changeform_initial_data(request)}  # fmt: skip

    @admin.display(description="Next 5 runs")
    def next_runs(self, obj: CrontabSchedule) -> str:
        if obj.pk is None:
            return "— (shown after saving)"
        runs = crontab_next_runs(obj, connection_schema())
        return format_html("<ol>{}</ol>", format_html_join(
            "", "<li>{}</li>", ((run.strftime("%a %Y-%m-%d %H:%M %Z"),) for run in runs)))  # fmt: skip


class IntervalScheduleAdmin(AuditedAdminMixin, beat_admin.IntervalScheduleAdmin):
    pass


class ClockedScheduleAdmin(AuditedAdminMixin, beat_admin.ClockedScheduleAdmin):
    pass


class SolarScheduleAdmin(AuditedAdminMixin, beat_admin.SolarScheduleAdmin):
    pass


for site in (staff_site, tenant_site):
    site.register(PeriodicTask, PeriodicTaskAdmin)
# The parts of a schedule have pages of their own in the platform admin only. In a tenant's
# admin a schedule is made in the periodic task form (its crontab as one expression in the
# tenant's zone, with a preview): a crontab made on a page of its own was in UTC by default
# and could be chosen nowhere.
staff_site.register(CrontabSchedule, CrontabScheduleAdmin)
staff_site.register(IntervalSchedule, IntervalScheduleAdmin)
staff_site.register(ClockedSchedule, ClockedScheduleAdmin)
staff_site.register(SolarSchedule, SolarScheduleAdmin)
