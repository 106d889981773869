"""One periodic task of one schema, as beat holds it."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from celery import schedules
from celery.beat import ScheduleEntry
from django.conf import settings
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry
from django_tenants.utils import schema_context
from kombu.utils.json import loads

from beat import clock
from beat.changelog import schedules_changed
from jobs.headers import tenant_ref
from schedules.services import schedule_build
from schedules.timing import next_run
from tenants.models import Tenant


class TenantEntry(ScheduleEntry):
    """One periodic task of one schema. Built from the row without django-celery-beat's
    ModelEntry, whose constructor parses the crontab a second time and reads no tenant.

    Keyed `<schema>:<name>` (public's own too), so the same name in two schemas never clashes. A tenant entry is sent with `tenant=` (id and
    schema, as the tenant task base expects).
    """

    schedule: Any  # a ZonedCrontab, StaggeredInterval or django-celery-beat's own
    last_run_at: dt.datetime  # always set by __init__

    def __init__(self, model: PeriodicTask, app: Any = None, tenant: Tenant | None = None) -> None:
        self.app = app
        self.tenant = tenant
        self.model = model
        self.name = model.name
        self.task = model.task
        self.schedule = schedule_build(model, self.schema_name, nowfun=clock.now)
        self.args = loads(model.args or "[]")  # ValueError: the caller skips the row
        self.kwargs = loads(model.kwargs or "{}")
        self.options: dict[str, Any] = {}
        for option in ("queue", "exchange", "routing_key", "priority"):
            value = getattr(model, option)
            if value is not None:
                self.options[option] = value
        if model.expires_:
            self.options["expires"] = model.expires_
        headers = loads(model.headers or "{}")
        headers["periodic_task_name"] = model.name
        self.options["headers"] = headers
        if tenant is not None:
            self.options["tenant"] = tenant_ref(tenant)
        self.total_run_count = model.total_run_count
        if not model.last_run_at:
            # Never ran: due times count from when the row was last changed; one with a start
            # time counts from far back so it runs at its start time.
            model.last_run_at = model.date_changed or clock.now()
            if model.start_time:
                model.last_run_at -= dt.timedelta(days=365 * 30)
        self.last_run_at = model.last_run_at

    @property
    def schema_name(self) -> str:
        return (
            str(self.tenant.schema_name) if self.tenant is not None else settings.PUBLIC_SCHEMA_NAME
        )

    @property
    def key(self) -> str:
        # Schema first, then the name: a schema name has no ":", so no two entries share a key
        # (a platform schedule named "acme:x" is "public:acme:x", acme's "x" is "acme:x").
        return f"{self.schema_name}:{self.name}"

    @classmethod
    def from_entry(cls, name: str, app: Any = None, **entry: Any) -> TenantEntry:
        """A platform entry from settings, written to public's row (django-celery-beat's way)."""
        model, _ = PeriodicTask._default_manager.update_or_create(
            name=name, defaults=ModelEntry._unpack_fields(**entry)
        )
        return cls(model, app=app)

    def default_now(self) -> dt.datetime:
        return clock.now()

    def is_due(self) -> schedules.schedstate:
        model = self.model
        now = clock.now()
        if model.start_time is not None and now < model.start_time:
            return schedules.schedstate(False, (model.start_time - now).total_seconds())
        if model.expires is not None and now >= model.expires:
            self._disable()
            return schedules.schedstate(False, 10**9)
        if model.one_off and model.total_run_count > 0:
            self._disable()
            return schedules.schedstate(False, 10**9)
        state: schedules.schedstate = self.schedule.is_due(self.last_run_at)
        return state

    def next_run_at(self) -> dt.datetime | None:
        return next_run(self.schedule, self.last_run_at)

    def due_at(self) -> str:
        """This run's own time (the first after the previous run), the same in every beat
        process: the key of the per-run send guard."""
        last = self.last_run_at
        due = next_run(self.schedule, last) or last
        return due.replace(microsecond=0).isoformat()

    def __next__(self, last_run_at: dt.datetime | None = None) -> TenantEntry:
        # A copy of the row: this entry stays as it was, so a send that fails can put it back.
        model = copy.copy(self.model)
        model.last_run_at = clock.now()
        model.total_run_count += 1
        return self.__class__(model, app=self.app, tenant=self.tenant)

    def save(self) -> None:
        """Run state to the row in the entry's own schema: one UPDATE, no signal (it is not a
        schedule change), never the current schema's row of the same name."""
        with schema_context(self.schema_name):
            PeriodicTask.objects.filter(pk=self.model.pk).update(
                last_run_at=self.model.last_run_at, total_run_count=self.model.total_run_count
            )

    def _disable(self) -> None:
        # Expired or a one-off that ran: disabled, and the change log tells beat (and the
        # overview) to drop it.
        with schema_context(self.schema_name):
            PeriodicTask.objects.filter(pk=self.model.pk).update(enabled=False)
            schedules_changed(self.schema_name)
        self.model.enabled = False
