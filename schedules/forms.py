"""The periodic task form of both admins: a task picker limited to what may run there, the
crontab as one expression in the tenant's time zone, exactly one schedule, JSON that matches
the task's signature, and the catch-up choice."""

from __future__ import annotations

import inspect
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from kombu.utils.json import loads
from unfold.widgets import (
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from jobs.api import PlatformTask, is_tenant_task
from saas.celery import LONG_QUEUE, SHORT_QUEUE, app
from schedules.models import CATCH_UP_DEFAULT, ScheduleState
from schedules.services import (
    cron_expression,
    cron_parse,
    crontab_ensure,
    schedule_state,
    timezone_current,
)
from schedules.validation import arguments_check, description_check, headers_check, nul_check
from tenants.context import connection_in_public

SCHEDULE_KINDS = ("cron", "interval", "solar", "clocked")
QUEUES = (SHORT_QUEUE, LONG_QUEUE)


def task_choices(for_tenant: bool) -> list[tuple[str, str]]:
    """Registered tasks that may be scheduled here: tenant tasks in a tenant's admin, platform
    tasks in the platform admin (beat refuses anything else)."""
    app.loader.import_default_modules()
    allowed = sorted(
        name
        for name, task in app.tasks.items()
        if (is_tenant_task(task) if for_tenant else isinstance(task, PlatformTask))
        and getattr(task, "schedulable", True)
    )
    return [("", "---------")] + [(name, name) for name in allowed]


class ScheduleForm(forms.ModelForm):
    # The admin's theme styles model fields by itself; these form-only fields take its widgets.
    task = forms.ChoiceField(label="Task", widget=UnfoldAdminSelectWidget)
    cron = forms.CharField(
        label="Crontab",
        required=False,
        max_length=200,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "0 3 * * *"}),
        help_text="minute hour day-of-month month day-of-week, e.g. “0 3 * * *” or "
        "“*/15 8-18 * * mon-fri”.",
    )
    catch_up = forms.BooleanField(
        label="Catch up missed runs",
        required=False,
        initial=CATCH_UP_DEFAULT,
        widget=UnfoldBooleanSwitchWidget,
        help_text=ScheduleState._meta.get_field("catch_up").help_text,
    )

    class Meta:
        model = PeriodicTask
        fields = [
            "name", "task", "enabled", "description", "interval", "solar", "clocked",
            "start_time", "one_off", "args", "kwargs", "expires", "expire_seconds", "queue",
            "priority", "headers",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The admin request runs inside the schema it edits: a tenant's, or public.
        self.timezone_name = timezone_current()
        task_field = cast(forms.ChoiceField, self.fields["task"])
        task_field.choices = task_choices(not connection_in_public())
        self.fields["cron"].help_text += f" Times are in {self.timezone_name}."
        instance = self.instance
        self._saved_crontab = instance.crontab if instance.crontab_id is not None else None
        if self._saved_crontab is not None:
            self.initial["cron"] = cron_expression(self._saved_crontab)
        state = schedule_state(instance) if instance.pk is not None else None
        if state is not None:
            self.initial["catch_up"] = state.catch_up

    def _clean_json(self, field: str, kind: type, example: str) -> Any:
        raw = self.cleaned_data.get(field) or ("[]" if kind is list else "{}")
        nul_check(raw, "This")
        try:
            value = loads(raw)
        except ValueError as exc:
            raise ValidationError(f"Not valid JSON: {exc}. Example: {example}") from exc
        if not isinstance(value, kind):
            raise ValidationError(f"Must be a JSON {'list' if kind is list else 'object'}, "
                                  f"e.g. {example}.")  # fmt: skip
        return value

    def clean_args(self) -> str:
        self._args = self._clean_json("args", list, '[1, "two"]')
        return self.cleaned_data.get("args") or "[]"

    def clean_kwargs(self) -> str:
        self._kwargs = self._clean_json("kwargs", dict, '{"days": 14}')
        return self.cleaned_data.get("kwargs") or "{}"

    def clean_headers(self) -> str:
        headers_check(self._clean_json("headers", dict, '{"x-origin": "import"}'))
        return self.cleaned_data.get("headers") or "{}"

    def clean_name(self) -> str:
        name: str = self.cleaned_data.get("name") or ""
        nul_check(name, "The name")
        return name

    def clean_description(self) -> str:
        description: str = self.cleaned_data.get("description") or ""
        nul_check(description, "The description")
        description_check(description)
        return description

    def clean_queue(self) -> str | None:
        queue = self.cleaned_data.get("queue") or None
        if queue is not None and queue not in QUEUES:
            raise ValidationError(
                f"No worker reads “{queue}”: leave it empty (the task's own queue) or use one "
                f"of {', '.join(QUEUES)}."
            )
        return queue

    def clean_cron(self) -> str:
        expression = " ".join((self.cleaned_data.get("cron") or "").split())
        if expression:
            cron_parse(expression)  # ValidationError names the wrong field
        return expression

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # A cron given but wrong counts as chosen: its own error says what is wrong with it.
        chosen = [kind for kind in SCHEDULE_KINDS if data.get(kind) or self.has_error(kind)]
        if len(chosen) != 1:
            message = (
                "Choose a schedule: a crontab, an interval, a solar event or a clocked time."
                if not chosen
                else f"Choose one schedule only (now: {', '.join(chosen)})."
            )
            raise ValidationError(message, code="schedule_count")
        # The crontab to be (saved in save()), for what reads the instance before that.
        self.instance.crontab = (
            CrontabSchedule(**cron_parse(data["cron"])) if data.get("cron") else None
        )
        if data.get("clocked") and not data.get("one_off"):
            self.add_error("one_off", "A clocked schedule runs once: tick “One-off task”.")
        if "args" in data and "kwargs" in data:
            try:
                arguments_check(data["args"], data["kwargs"])
            except ValidationError as exc:
                self.add_error("kwargs", exc)
        task = app.tasks.get(data.get("task") or "")
        if task is not None and hasattr(self, "_args") and hasattr(self, "_kwargs"):
            try:
                inspect.signature(task.run).bind(*self._args, **self._kwargs)
            except TypeError as exc:
                self.add_error("kwargs", f"These arguments do not fit {task.name}: {exc}.")
        return data

    def validate_unique(self) -> None:
        """Django's unique checks (the name) only. django-celery-beat's
        PeriodicTask.validate_unique also checks "exactly one schedule", which clean() does
        here in words that name the form's fields: a wrong cron would get both messages."""
        exclude = {field.name for field in PeriodicTask._meta.fields
                   if field.name not in self.fields or self.has_error(field.name)}  # fmt: skip
        try:
            models.Model.validate_unique(self.instance, exclude=exclude)
        except ValidationError as exc:
            self.add_error(None, exc)

    def save(self, commit: bool = True) -> PeriodicTask:
        task: PeriodicTask = super().save(commit=False)
        expression = self.cleaned_data.get("cron")
        saved = self._saved_crontab
        if not expression:
            task.crontab = None
        elif saved is not None and cron_expression(saved) == expression:
            task.crontab = saved  # unchanged: keep its row (and the zone staff gave it)
        else:  # a crontab made here follows the tenant's time zone
            task.crontab = crontab_ensure(expression, self.timezone_name)
        if "enabled" in self.changed_data and task.enabled:
            task.last_run_at = None  # enabled again: starts from now (periodic_task_enabled_set)
        if commit:
            task.save()
            self.save_state(task)
        return task

    def save_state(self, task: PeriodicTask) -> None:
        ScheduleState.objects.update_or_create(
            periodic_task=task, defaults={"catch_up": self.cleaned_data.get("catch_up", True)}
        )
