"""Schedules as beat and the admin see them: which schedule object a row stands for, its next
runs, missed runs, a crontab in words. One place for each of these facts."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable
from typing import Any, cast

from celery import schedules
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_beat.validators import (
    day_of_month_validator,
    day_of_week_validator,
    hour_validator,
    minute_validator,
    month_of_year_validator,
)
from django_tenants.utils import schema_context
from kombu.utils.json import dumps

from schedules.defaults import default_schedules
from schedules.models import ScheduleState
from schedules.timing import (
    StaggeredInterval,
    ZonedCrontab,
    cron_spread,
    next_run,
    runs_after,
    stagger_offset,
)
from tenants.context import connection_tenant
from tenants.models import Tenant

# A crontab must occur within this many days from now (5 years: every leap day included).
CRON_HORIZON_DAYS = 5 * 366
CRON_FIELDS = (
    ("minute", minute_validator),
    ("hour", hour_validator),
    ("day_of_month", day_of_month_validator),
    ("month_of_year", month_of_year_validator),
    ("day_of_week", day_of_week_validator),
)


# Beat loads thousands of rows that share a handful of expressions: parse and describe each once.
@functools.lru_cache(maxsize=4096)
def _cron_fields(minute: str, hour: str, dom: str, month: str, dow: str) -> schedules.crontab:
    return schedules.crontab(
        minute=minute, hour=hour, day_of_week=dow, day_of_month=dom, month_of_year=month
    )


@functools.lru_cache(maxsize=4096)
def _cron_words(minute: str, hour: str, dom: str, month: str, dow: str, zone: str) -> str:
    row = CrontabSchedule(minute=minute, hour=hour, day_of_month=dom, month_of_year=month,
                          day_of_week=dow, timezone=zoneinfo.ZoneInfo(zone))  # fmt: skip
    return row.human_readable


def _cron_key(c: CrontabSchedule) -> tuple[str, str, str, str, str]:
    return (c.minute, c.hour, c.day_of_month, c.month_of_year, c.day_of_week)


def cron_expression(c: CrontabSchedule) -> str:
    """A crontab row as the one expression the admin shows and takes ("m h dom mon dow")."""
    return " ".join(_cron_key(c))


def timezone_current() -> str:
    """The zone of the schema the connection is in: the tenant's, or the platform's in public
    (an admin request runs inside its tenant's schema, so this is the admin's zone)."""
    tenant = connection_tenant()
    if tenant is None or tenant.schema_name == settings.PUBLIC_SCHEMA_NAME:
        return str(settings.TIME_ZONE)
    return cast(Tenant, tenant).timezone


def crontab_build(
    crontab: CrontabSchedule, schema_name: str, nowfun: Callable[[], dt.datetime] | None = None
) -> ZonedCrontab:
    fields = _cron_fields(*_cron_key(crontab))
    tz = zoneinfo.ZoneInfo(str(crontab.timezone))
    return ZonedCrontab(fields, tz, stagger_offset(schema_name), nowfun=nowfun)


def schedule_build(
    task: PeriodicTask, schema_name: str, nowfun: Callable[[], dt.datetime] | None = None
) -> Any:
    """The schedule object beat runs `task` by (in `schema_name`, for its stagger offset).

    Crontabs become `ZonedCrontab` (zoneinfo, DST rules); intervals are staggered when stagger
    is on; solar and clocked schedules are django-celery-beat's own.
    """
    if task.crontab_id is not None:
        return crontab_build(task.crontab, schema_name, nowfun)
    offset = stagger_offset(schema_name)
    if task.interval_id is not None and offset:
        return StaggeredInterval(task.interval.schedule.run_every, offset, nowfun=nowfun)
    schedule = task.schedule  # raises DoesNotExist if the schedule row is gone
    schedule.nowfun = nowfun
    return schedule


def schedule_describe(task: PeriodicTask) -> str:
    """The schedule in plain words, in its own time zone."""
    if task.crontab_id is not None:
        return _cron_words(*_cron_key(task.crontab), str(task.crontab.timezone))
    if task.interval_id is not None:
        return str(task.interval)  # "every 5 minutes"
    if task.clocked_id is not None:
        return f"once at {task.clocked.clocked_time:%Y-%m-%d %H:%M %Z}"
    if task.solar_id is not None:
        return str(task.solar)
    return "no schedule"


def schedule_next_runs(task: PeriodicTask, schema_name: str, count: int = 5) -> list[dt.datetime]:
    """The next `count` runs from now; a run overdue since the last one shows as "now"."""
    schedule = schedule_build(task, schema_name)
    now = schedule.now()
    first = schedule_next_run(task, schema_name, schedule)
    if first is None:
        return []
    if first > now:
        return runs_after(schedule, task.last_run_at or task.date_changed or now, count)
    return [now, *runs_after(schedule, now, count - 1)]


def schedule_next_run(
    task: PeriodicTask, schema_name: str, schedule: Any = None
) -> dt.datetime | None:
    """When beat will next send `task` (a time past is due at the next tick)."""
    if not task.enabled:
        return None
    schedule = schedule or schedule_build(task, schema_name)
    return next_run(schedule, task.last_run_at or task.date_changed or schedule.now())


def cron_parse(expression: str) -> dict[str, str]:
    """Five crontab fields ("m h dom mon dow") checked with django-celery-beat's validators;
    ValidationError names the field that is wrong."""
    parts = expression.split()
    if len(parts) != 5:
        raise ValidationError(
            "A crontab has five fields: minute hour day-of-month month day-of-week "
            f"(e.g. “0 3 * * *”); “{expression}” has {len(parts)}.",
            code="cron_fields",
        )
    values: dict[str, str] = {}
    for (field, validator), value in zip(CRON_FIELDS, parts, strict=True):
        try:
            validator(value)
        except ValidationError as exc:
            label = field.replace("_", " ")
            raise ValidationError(
                f"{label.capitalize()} “{value}” is not valid: {' '.join(exc.messages)}",
                code="cron_field",
            ) from exc
        values[field] = value
    try:
        crontab = ZonedCrontab(_cron_fields(*values.values()), zoneinfo.ZoneInfo("UTC"))
        occurs = crontab.occurs_within(CRON_HORIZON_DAYS, dt.datetime.now(dt.UTC).date())
    except ValueError:  # celery refuses some impossible dates itself ("31" in February)
        occurs = False
    if not occurs:
        raise ValidationError(
            f"“{expression}” never occurs in the next 5 years (for example the 31st of a "
            "30-day month, or a day of the month that is never that day of the week: both "
            "must match).",
            code="cron_never",
        )
    return values


def crontab_next_runs(
    crontab: CrontabSchedule, schema_name: str, count: int = 5
) -> list[dt.datetime]:
    """The next `count` runs of a crontab from now, on its own clock."""
    schedule = crontab_build(crontab, schema_name)
    tz = zoneinfo.ZoneInfo(str(crontab.timezone))
    return [run.astimezone(tz) for run in runs_after(schedule, schedule.now(), count)]


def cron_preview(
    expression: str, timezone_name: str, schema_name: str, count: int = 5
) -> list[dt.datetime]:
    """The next `count` runs of a crontab expression, in `timezone_name` (raises ValidationError)."""
    row = CrontabSchedule(timezone=zoneinfo.ZoneInfo(timezone_name), **cron_parse(expression))
    return crontab_next_runs(row, schema_name, count)


def crontab_ensure(expression: str, timezone_name: str) -> CrontabSchedule:
    """The crontab row for an expression in a time zone, in the current schema (reused if any)."""
    fields = cron_parse(expression)
    existing = CrontabSchedule.objects.filter(timezone=timezone_name, **fields).first()
    if existing is not None:
        return existing
    return CrontabSchedule.objects.create(timezone=zoneinfo.ZoneInfo(timezone_name), **fields)


def state_missed_record(task: PeriodicTask, count: int, latest: dt.datetime) -> ScheduleState:
    """Add `count` missed runs to a task's state (in the current schema); the updated state."""
    state, _ = ScheduleState.objects.get_or_create(periodic_task=task)
    ScheduleState.objects.filter(pk=state.pk).update(
        missed_runs=F("missed_runs") + count, last_missed_at=latest
    )
    state.refresh_from_db()
    return state


def state_error_record(task: PeriodicTask, error: str) -> None:
    """Beat could not send the row's due run (in the current schema)."""
    state, _ = ScheduleState.objects.get_or_create(periodic_task=task)
    ScheduleState.objects.filter(pk=state.pk).update(last_error=error, last_error_at=timezone.now())


def schedule_state(task: PeriodicTask) -> ScheduleState | None:
    """The task's state row, if it has one yet (select_related("state") avoids the query)."""
    try:
        return task.state
    except ScheduleState.DoesNotExist:
        return None


def periodic_task_enabled_set(task: PeriodicTask, enabled: bool) -> None:
    """Enable or disable one schedule with a normal save (its signal tells beat). One enabled
    again starts from now: its last run is cleared, so beat counts due times from the save
    (date_changed) and a paused schedule is neither "missed" nor caught up."""
    task.enabled = enabled
    if enabled:
        task.last_run_at = None
    task.save()


def tenant_crontabs_move(*, tenant: Tenant, old_timezone: str) -> int:
    """After a tenant's time zone changed: its crontabs that followed the old zone move to the
    new one (so "03:00" stays 03:00 on the tenant's clock); others (a staff choice) stay. Each
    row is saved on its own, so its signal tells beat (a tenant has a handful of crontabs)."""
    if old_timezone == tenant.timezone:
        return 0
    with schema_context(tenant.schema_name), transaction.atomic():
        crontabs = list(CrontabSchedule.objects.filter(timezone=old_timezone))
        for crontab in crontabs:
            crontab.timezone = zoneinfo.ZoneInfo(tenant.timezone)
            crontab.save(update_fields=["timezone"])
    return len(crontabs)


def default_schedules_ensure(tenant: Tenant) -> None:
    """Create the default schedules the tenant does not have (by name); never update one: a
    default that exists under its name is left exactly as it is, even disabled, so re-applying
    defaults never overwrites a staff edit. Runs in the tenant's schema
    (tenants.services.tenant_defaults_apply switches to it)."""
    defaults = default_schedules()
    existing = set(
        PeriodicTask.objects.filter(name__in=[d.name for d in defaults]).values_list(
            "name", flat=True
        )
    )
    with transaction.atomic():
        for default in defaults:
            if default.name in existing:
                continue
            PeriodicTask.objects.create(
                name=default.name, task=default.task, description=default.description,
                crontab=crontab_ensure(
                    cron_spread(default.cron, tenant.schema_name, default.spread_minutes)
                    if default.spread_minutes else default.cron,
                    tenant.timezone,
                ),
                kwargs=dumps(default.kwargs),
            )  # fmt: skip
