"""A tenant's schedules as rows (dataport finds `RESOURCES`; see dataport/registry.py): how
staff copy a schedule set from one tenant to another, export then import.

A row is name, task, enabled, the crontab as one expression in the tenant's zone (or an
interval, "30 minutes"), JSON arguments, catch-up, description and queue. Importing puts each
row through `ScheduleForm`, the very form of the schedule admin, so a row is accepted exactly
when the form would accept it (tenant tasks only, arguments that fit the task, a cron that
occurs); the name is the key. Schedules are few and every one is a form's save (its crontab,
its state, beat's change log), so they are written row by row, not in bulk. Solar and clocked
schedules have no column here and are not exported."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from import_export import fields, resources

from saas.rowresult import RowResult
from schedules.forms import ScheduleForm
from schedules.models import CATCH_UP_DEFAULT
from schedules.services import cron_expression
from tenants.context import connection_schema
from tenants.models import Tenant

PERIODS = {p: p for p, _ in IntervalSchedule.PERIOD_CHOICES} | {
    p.rstrip("s"): p for p, _ in IntervalSchedule.PERIOD_CHOICES
}
TRUE, FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")
FORM_FIELD_COLUMN = {"__all__": "cron", "solar": "cron", "clocked": "cron", "headers": ""}


class ScheduleResource(resources.ModelResource):
    resource_name = "schedules"
    resource_title = "Schedules"
    importable = True
    import_key = "name"
    import_key_casefold = False
    import_required = ("name", "task")

    cron = fields.Field(column_name="cron")
    every = fields.Field(column_name="interval")
    catch_up = fields.Field(column_name="catch_up")

    class Meta:
        model = PeriodicTask
        fields = ("name", "task", "enabled", "cron", "every", "args", "kwargs", "catch_up",
                  "description", "queue")  # fmt: skip
        export_order = fields

    def dehydrate_cron(self, task: PeriodicTask) -> str:
        return cron_expression(task.crontab) if task.crontab_id else ""

    def dehydrate_every(self, task: PeriodicTask) -> str:
        return f"{task.interval.every} {task.interval.period}" if task.interval_id else ""

    def dehydrate_catch_up(self, task: PeriodicTask) -> bool:
        state = getattr(task, "state", None)
        return state.catch_up if state is not None else CATCH_UP_DEFAULT

    def dehydrate_enabled(self, task: PeriodicTask) -> bool:
        return bool(task.enabled)

    def dehydrate_queue(self, task: PeriodicTask) -> str:
        return task.queue or ""

    def export_rows(self, *, tenant: Tenant) -> QuerySet[PeriodicTask]:
        _in_schema(tenant)
        return (PeriodicTask.objects.filter(Q(crontab__isnull=False) | Q(interval__isnull=False))
                .select_related("crontab", "interval", "state").order_by("name"))  # fmt: skip

    def import_chunk(
        self, *, tenant: Tenant, rows: list[tuple[int, dict[str, str]]], dry_run: bool
    ) -> list[RowResult]:
        _in_schema(tenant)
        existing = {t.name: t for t in self.export_rows(tenant=tenant).filter(
            name__in=[row.get("name", "") for _, row in rows])}  # fmt: skip
        results = []
        for number, row in rows:
            result = RowResult(row=number, action="error", key=row.get("name", ""))
            results.append(result)
            instance = existing.get(row.get("name", ""))
            try:
                data = self._form_data(row, instance)
            except ValidationError as exc:
                result.errors += [(exc.code or "", m) for m in exc.messages]
                continue
            if instance is not None:
                old = dict(
                    zip(self.get_export_headers(), self.export_resource(instance), strict=True)
                )
                result.changes = {c: [old[c], v] for c, v in self._compared(row).items()
                                  if _normal(c, old[c]) != _normal(c, v)}  # fmt: skip
                if not result.changes:
                    result.action = "unchanged"
                    continue
            form = ScheduleForm(data=data, instance=instance)
            if not form.is_valid():
                for name, messages in form.errors.items():
                    column = FORM_FIELD_COLUMN.get(name, name)
                    result.errors += [(column, str(m)) for m in messages]
                continue
            result.action = "changed" if instance is not None else "new"
            if instance is None:
                result.changes = {c: [None, v] for c, v in self._compared(row).items() if v}
            if not dry_run:
                form.save()
        return results

    def _compared(self, row: dict[str, str]) -> dict[str, str]:
        return {c: row[c] for c in self.get_export_headers() if c in row}

    def _form_data(self, row: dict[str, str], instance: PeriodicTask | None) -> dict[str, Any]:
        """The form's data for a row: the file's columns, and for what the file has no column
        for, the schedule's current values (a new one gets the form's defaults)."""
        data: dict[str, Any] = {}
        if instance is not None:
            for name in ("description", "start_time", "one_off", "args", "kwargs", "expires",
                         "expire_seconds", "queue", "priority", "headers"):  # fmt: skip
                value = getattr(instance, name)
                if value not in (None, False):
                    data[name] = value
            data["enabled"] = "true" if instance.enabled else "false"
            if instance.crontab_id:
                data["cron"] = cron_expression(instance.crontab)
            if instance.interval_id:
                data["interval"] = instance.interval_id
            data["catch_up"] = "true" if self.dehydrate_catch_up(instance) else "false"
        data["name"] = row["name"]
        data["task"] = row["task"]
        for column in ("args", "kwargs", "description", "queue"):
            if column in row:
                data[column] = row[column]
        for column, default in (("enabled", True), ("catch_up", CATCH_UP_DEFAULT)):
            if column in row or column not in data:
                data[column] = "true" if _bool(row.get(column, ""), column, default) else "false"
        if "cron" in row or "interval" in row:
            data.pop("cron", None)
            data.pop("interval", None)
            if row.get("cron"):
                data["cron"] = row["cron"]
            if row.get("interval"):
                data["interval"] = _interval(row["interval"]).pk
        return data


def _in_schema(tenant: Tenant) -> None:
    if connection_schema() != tenant.schema_name:
        raise RuntimeError(f"{tenant.slug}'s schedules are read and written in its schema only")


def _bool(text: str, column: str, default: bool) -> bool:
    value = text.strip().lower()
    if not value:
        return default
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValidationError(f"“{text}” is not true or false.", code=column)


def _interval(text: str) -> IntervalSchedule:
    """ "30 minutes" → its IntervalSchedule row in this schema (made if missing; a dry run's
    transaction is rolled back)."""
    parts = text.split()
    if (
        len(parts) != 2
        or not parts[0].isdigit()
        or int(parts[0]) < 1
        or parts[1].lower() not in PERIODS
    ):
        raise ValidationError(
            f"“{text}” is not an interval: a number and a unit, e.g. “30 minutes” "
            f"({', '.join(p for p, _ in IntervalSchedule.PERIOD_CHOICES)}).", code="interval",
        )  # fmt: skip
    interval, _ = IntervalSchedule.objects.get_or_create(
        every=int(parts[0]), period=PERIODS[parts[1].lower()]
    )
    return interval


def _normal(column: str, value: Any) -> Any:
    """A value as compared for "changed": JSON parsed, booleans as booleans, spaces folded."""
    text = (
        "" if value is None else str(value) if not isinstance(value, bool) else str(value).lower()
    )
    if column in ("args", "kwargs"):
        try:
            return json.loads(text or ("[]" if column == "args" else "{}"))
        except ValueError:
            return text
    if column in ("enabled", "catch_up"):
        default = True if column == "enabled" else CATCH_UP_DEFAULT
        return text.strip().lower() in TRUE if text.strip() else default
    return " ".join(text.split())


RESOURCES = [ScheduleResource]
