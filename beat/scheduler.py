"""One beat for every tenant: flow 2 of docs/architecture.md.

`TenantScheduler` (CELERY_BEAT_SCHEDULER) holds every schema's enabled entries (beat/entry.py),
keyed `<schema>:<name>`. Only active tenants have entries. Changes reach it through the change
log (beat/changelog.py): each tick reads the rows it has not seen (one query, whatever the
number of tenants) and reloads only the schemas they name, updating the heap for those entries
alone. One leader sends, standbys wait (beat/leadership.py). Beat also keeps the overview's read
model current (beat/readmodel.py).

When an entry is (re)loaded, runs that fell due more than BEAT_MISSED_GRACE_S ago while no beat
was running are counted as missed (ScheduleState, beside the row); the entry's `catch_up` choice
says whether beat runs it once now or waits for its next due time.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import time
from typing import Any

from celery.beat import event_t
from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler
from django_tenants.utils import schema_context

from beat import clock
from beat.changelog import CHANGE_WINDOW, ChangeFloor
from beat.entry import TenantEntry
from beat.leadership import Hold, Leadership, SendDecision
from beat.models import ScheduleChange, ScheduleSummary
from beat.readmodel import summary_replace, summary_replace_all, summary_row, summary_run_record
from jobs.api import is_tenant_task
from jobs.errors import TRANSIENT_ERRORS
from jobs.reconcile import jobs_reconcile
from saas.periodic import periodic_hooks_run
from schedules.models import CATCH_UP_DEFAULT
from schedules.services import schedule_state, state_error_record, state_missed_record
from schedules.timing import next_run, runs_between
from schedules.validation import periodic_task_problem
from tenants.models import Tenant

logger = logging.getLogger(__name__)
PUBLIC = settings.PUBLIC_SCHEMA_NAME
# Before the platform's first boot, beat looks this often for it.
PLATFORM_WAIT_S = 5.0
SCHEDULE_RELATED = ("interval", "crontab", "solar", "clocked", "state")
MISSED_COUNT_LIMIT = 100


class TenantScheduler(DatabaseScheduler):
    Entry = TenantEntry
    # Set by celery's Scheduler and django-celery-beat's DatabaseScheduler (untyped).
    _schedule: dict[str, TenantEntry]
    _heap: list[Any] | None
    _initial_read: bool
    _dirty: set[str]
    app: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._changes = ChangeFloor()
        self._retry: set[str] = set()  # schemas whose load failed: reloaded next tick
        self._send: SendDecision | None = None  # set by reserve() for the apply_entry() after
        self._public_id = 0
        self._checked_this_tick = False
        self._reconcile_at = 0.0
        self._send_paused_until = 0.0
        self._platform_seen = False
        self._platform_said_at = -60.0
        self._leadership = Leadership(settings.REDIS_URL)
        super().__init__(*args, **kwargs)

    @property
    def _leader(self) -> bool:
        return self._leadership.leader

    @_leader.setter
    def _leader(self, value: bool) -> None:
        self._leadership.leader = value

    def setup_schedule(self) -> None:
        """Write the platform's own entries (settings.CELERY_BEAT_SCHEDULE) to public's rows;
        tenants' come only from their own rows. Nothing is loaded here: a standby never needs
        the schedule, and the leader loads it on its first tick. Before the platform's first
        boot (`platform_init`) this waits: the first tick after it does the writing."""
        self._platform_ready()  # writes them when it first sees the platform

    def _platform_entries_write(self) -> None:
        with schema_context(PUBLIC):
            for name, fields in self.app.conf.beat_schedule.items():
                try:
                    self.Entry.from_entry(name, app=self.app, **fields)
                except Exception:
                    logger.exception("beat: platform entry %r from settings not written", name)

    # -- loading ----------------------------------------------------------------------------
    def _load(
        self, tenant: Tenant | None, now: dt.datetime
    ) -> tuple[dict[str, TenantEntry], list[ScheduleSummary]]:
        """Every row of one schema: enabled ones of an active tenant (or public) as entries, all
        of them as overview rows (a suspended tenant's schedules are listed, never run)."""
        schema = tenant.schema_name if tenant is not None else PUBLIC
        runs = tenant is None or tenant.status == Tenant.Status.ACTIVE
        entries: dict[str, TenantEntry] = {}
        summary: list[ScheduleSummary] = []
        with schema_context(schema):
            for model in PeriodicTask.objects.select_related(*SCHEDULE_RELATED):
                wanted = runs and model.enabled
                entry = self._entry_build(model, tenant, now) if wanted else None
                if entry is not None:
                    entries[entry.key] = entry
                tenant_id = tenant.pk if tenant is not None else self._public_id
                summary.append(
                    summary_row(
                        model, tenant_id=tenant_id, schema_name=schema, entry=entry, now=now
                    )
                )
        return entries, summary

    def _entry_build(
        self, model: PeriodicTask, tenant: Tenant | None, now: dt.datetime
    ) -> TenantEntry | None:
        schema = tenant.schema_name if tenant is not None else PUBLIC
        if tenant is not None and not is_tenant_task(self.app.tasks.get(model.task)):
            logger.error("%s: schedule %r names %s, not a tenant task; ignored",
                         schema, model.name, model.task)  # fmt: skip
            return None
        problem = periodic_task_problem(model)
        if problem is not None:
            logger.error("%s: schedule %r is invalid (%s); ignored", schema, model.name, problem)
            return None
        try:
            entry = self.Entry(model, app=self.app, tenant=tenant)
        except (ValueError, PeriodicTask.DoesNotExist):
            logger.error("%s: schedule %r cannot be read; ignored", schema, model.name)
            return None
        return self._missed_check(entry, now)

    def _missed_check(self, entry: TenantEntry, now: dt.datetime) -> TenantEntry | None:
        """Runs that fell due while no beat ran: counted, then caught up once or skipped."""
        grace = dt.timedelta(seconds=settings.BEAT_MISSED_GRACE_S)
        model = entry.model
        since = entry.last_run_at
        if model.start_time is not None and model.start_time > since:
            since = model.start_time - dt.timedelta(microseconds=1)  # nothing is due before it
        # At most MISSED_COUNT_LIMIT are counted per load: enough to show an outage.
        missed = runs_between(entry.schedule, since, now - grace, limit=MISSED_COUNT_LIMIT)
        if not missed:
            return entry
        # Count each missed run once, however often the entry is loaded before it catches up.
        state = schedule_state(model)
        recorded = state.last_missed_at if state is not None else None
        new = [run for run in missed if recorded is None or run > recorded]
        if new:
            model.state = state = state_missed_record(model, len(new), new[-1])
        catch_up = state.catch_up if state is not None else CATCH_UP_DEFAULT
        logger.warning("beat: %s missed %d run(s), last due %s; %s", entry.key, len(missed),
                       missed[-1].isoformat(), "running it once now" if catch_up else "skipped")  # fmt: skip
        if catch_up:
            return entry
        if model.clocked_id is not None:  # a one-off that was not caught up will never run
            PeriodicTask.objects.filter(pk=model.pk).update(enabled=False)
            model.enabled = False  # the overview row built next says so
            return None
        # Skip: the missed runs count as done, the next due time is the first after now.
        model.last_run_at = entry.last_run_at = now
        PeriodicTask.objects.filter(pk=model.pk).update(last_run_at=now)
        return entry

    def all_as_schedule(self) -> dict[str, TenantEntry]:
        self._changes_start()
        now = clock.now()
        self._public_id = Tenant.objects.get(schema_name=PUBLIC).pk
        self._retry.clear()
        schedule: dict[str, TenantEntry] = {}
        summary: list[ScheduleSummary] = []
        tenants = Tenant.objects.exclude(status=Tenant.Status.PROVISIONING).exclude(
            schema_name=PUBLIC
        )
        for tenant in [None, *tenants]:
            try:
                entries, rows = self._load(tenant, now)
            except Exception:
                # One broken schema must not stop beat for every tenant: retried next tick.
                self._load_failed(tenant.schema_name if tenant is not None else PUBLIC)
                continue
            schedule.update(entries)
            summary.extend(rows)
        summary_replace_all(summary)
        logger.info("beat: loaded %d entries", len(schedule))
        return schedule

    def _load_failed(self, schema: str) -> None:
        logger.exception("beat: cannot load the schedules of %s; retried next tick", schema)
        self._retry.add(schema)
        if not connection.in_atomic_block:
            connection.close()  # a broken connection is replaced on next use

    def _reload(self, schema: str) -> None:
        """Replace one schema's entries (and its overview rows, and its heap events)."""
        try:
            tenant = None if schema == PUBLIC else Tenant.objects.filter(schema_name=schema).first()
            entries: dict[str, TenantEntry] = {}
            summary: list[ScheduleSummary] = []
            if schema == PUBLIC or (
                tenant is not None and tenant.status != Tenant.Status.PROVISIONING
            ):
                entries, summary = self._load(tenant, clock.now())
            summary_replace(schema, summary)
        except Exception:
            self._load_failed(schema)  # the schema's current entries stay until it loads
            return
        self._retry.discard(schema)
        for key in [k for k, e in self._schedule.items() if e.schema_name == schema]:
            del self._schedule[key]
        self._schedule.update(entries)
        if self._heap is not None:
            heap = [event for event in self._heap if event[2].schema_name != schema]
            heap.extend(self._event(entry) for entry in entries.values())
            heapq.heapify(heap)
            self._heap = heap
        logger.info("beat: reloaded %s (%d entries)", schema, len(entries))

    def _event(self, entry: TenantEntry) -> Any:
        try:
            is_due, delay = entry.is_due()
        except Exception:  # one unreadable entry must not stop beat
            is_due, delay = self._is_due_failed(entry)
        return event_t(self._when(entry, 0 if is_due else delay) or 0, 5, entry)

    def schedules_equal(self, *args: Any, **kwargs: Any) -> bool:
        # Every change to the schedule goes through `_reload` (which updates the heap itself) or
        # `reserve`: the heap is rebuilt only when it is dropped (start, takeover). Celery's
        # default compares all entries on every tick.
        return self._heap is not None

    def reserve(self, entry: TenantEntry) -> TenantEntry:
        """Celery calls this just before apply_entry() (which gets the same, current entry):
        ownership and the per-run guard are checked here, before anything is written, so a
        leader that lost its lock records nothing it will not send. A run found late past
        BEAT_MISSED_GRACE_S (sends failed through an outage) is counted as missed and caught up
        or skipped by the entry's rule. The run state is written by apply_entry() once the
        send succeeded."""
        self._send = self._leadership.may_send(entry.key, entry.due_at())
        if self._send is SendDecision.NOT_LEADER:  # leave the entry as it is for the next one
            return entry
        if self._send is SendDecision.SEND:
            try:
                checked, send = self._late_check(entry)
            except (DatabaseError, InterfaceError) as exc:
                self._send = None
                self._send_failed(entry, exc)
                return entry
            if not send:  # skipped by its rule (or a one-off disabled): nothing to send
                self._leadership.send_forget(entry.key, entry.due_at())
                self._send = None
                if checked is None:
                    self._schedule.pop(entry.key, None)
                    return entry
                self._schedule[entry.key] = checked
                return checked
        new_entry = next(entry)
        self._schedule[new_entry.key] = new_entry
        if self._send is SendDecision.ALREADY_SENT:
            self._run_state_save(new_entry)  # sent by a previous leader: record it as run
        return new_entry

    def _late_check(self, entry: TenantEntry) -> tuple[TenantEntry | None, bool]:
        """(entry, send?): a run later than the grace is a missed run, recorded, then caught
        up (sent) or skipped (its last run moved to now) by the entry's rule."""
        due = next_run(entry.schedule, entry.last_run_at)
        grace = dt.timedelta(seconds=settings.BEAT_MISSED_GRACE_S)
        if due is None or clock.now() - due <= grace:
            return entry, True
        before = entry.last_run_at
        with schema_context(entry.schema_name):  # the state and the row are the entry's own
            checked = self._missed_check(entry, clock.now())
        if checked is None:
            return None, False
        return checked, checked.last_run_at == before

    def apply_entry(self, entry: TenantEntry, producer: Any = None) -> None:
        """Send the due run of `entry`; record its run state only once the send succeeded.
        A failed send is not a run: the entry goes back as it was, due again, and beat tries
        again after settings.BEAT_SEND_RETRY_S (a run late past the grace then counts as missed)."""
        send, self._send = self._send, None
        if send is not SendDecision.SEND:
            return
        sent = self._schedule.get(entry.key)  # the advanced entry reserve() made
        try:
            self._entry_send(entry, producer)
        except Exception as exc:
            self._send_failed(entry, exc)
            return
        if sent is not None:
            self._run_state_save(sent)

    def _entry_send(self, entry: TenantEntry, producer: Any) -> None:
        options = {**entry.options, "headers": {**entry.options.get("headers", {}),
                                                 "celery_beat_task": True}}  # fmt: skip
        logger.info("beat: sending %s (%s)", entry.key, entry.task)
        task = self.app.tasks.get(entry.task)
        if task is None:  # a platform entry whose module this process did not import: by name
            self.app.send_task(entry.task, entry.args, entry.kwargs, producer=producer, **options)
            return
        task.apply_async(entry.args, entry.kwargs, producer=producer, **options)

    def _send_failed(self, entry: TenantEntry, exc: Exception) -> None:
        self._leadership.send_forget(entry.key, entry.due_at())
        if isinstance(exc, TRANSIENT_ERRORS):
            # The database or Redis is away: the run stays due and is tried again.
            logger.warning(
                "beat: %s not sent (%r); retried in %ss", entry.key, exc, settings.BEAT_SEND_RETRY_S
            )
            self._schedule[entry.key] = entry
            if not connection.in_atomic_block:
                connection.close()
        else:
            # The row itself cannot be sent (bad arguments, an unknown task): this due run is
            # skipped, not counted, and the reason is kept beside the row for the admin.
            logger.error("beat: %s cannot be sent: %r; this run is skipped", entry.key, exc)
            entry.model.last_run_at = clock.now()
            skipped = self.Entry(entry.model, app=self.app, tenant=entry.tenant)
            self._schedule[entry.key] = skipped
            self._run_state_save(skipped)
            self._send_error_record(entry, exc)
        self._heap = None  # rebuilt from the schedule on the next tick
        self._send_paused_until = time.monotonic() + settings.BEAT_SEND_RETRY_S

    def _send_error_record(self, entry: TenantEntry, exc: Exception) -> None:
        try:
            with schema_context(entry.schema_name):
                state_error_record(entry.model, f"{type(exc).__name__}: {exc}"[:500])
        except Exception:
            logger.exception("beat: the send error of %s not recorded", entry.key)

    def _run_state_save(self, entry: TenantEntry) -> None:
        try:
            entry.save()  # at once: a standby taking over starts from it
            summary_run_record(entry)
        except Exception:
            logger.exception("beat: run state of %s not saved; retried at sync", entry.key)
            self._dirty.add(entry.key)

    def sync(self) -> None:
        """Write run state that could not be written at send time (django-celery-beat's sync,
        without its close_old_connections: a failed query closes the connection instead)."""
        for key in list(self._dirty):
            entry = self._schedule.get(key)
            try:
                if entry is not None:
                    entry.save()
                self._dirty.discard(key)
            except (DatabaseError, InterfaceError):
                logger.exception("beat: run state of %s not saved; retried later", key)
                connection.close()  # reconnect on next use
                return

    # -- change detection: one query per tick -------------------------------------------------
    def _changes_start(self) -> None:
        cutoff = timezone.now() - CHANGE_WINDOW
        recent = ScheduleChange.objects.filter(at__gte=cutoff).values_list("id", flat=True)
        latest = ScheduleChange.objects.order_by("-id").values_list("id", flat=True).first()
        self._changes.start(recent, latest, time.monotonic())

    def schedule_changed(self) -> bool:
        try:
            rows = list(
                ScheduleChange.objects.filter(id__gt=self._changes.floor)
                .order_by("id")
                .values_list("id", "schema_name")
            )
        except (DatabaseError, InterfaceError):
            # The database went away (restart, failover): keep the schedule, reconnect next tick.
            logger.exception("beat: cannot read the change log; retried next tick")
            connection.close()
            return False
        schemas = self._changes.apply(rows, time.monotonic())
        schemas.extend(self._retry)
        if not schemas:
            return False
        self.sync()  # write pending run state before entries are replaced
        for schema in dict.fromkeys(schemas):
            self._reload(schema)
        return False  # reloaded here, per schema: no full reload

    @property
    def schedule(self) -> dict[str, TenantEntry]:
        if self._initial_read:
            self._initial_read = False
            self._schedule = self.all_as_schedule()
            self._heap = None
            self._checked_this_tick = True  # the load has just read everything
        elif not self._checked_this_tick:
            # Celery's tick reads `schedule` more than once: look for changes once per tick.
            self._checked_this_tick = True
            self.schedule_changed()
        return self._schedule

    # -- one leader, standbys ready to take over -----------------------------------------------
    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Leader, idle: one query (the change log) and one Redis command (lock + heartbeat)."""
        if not self._platform_ready():
            return PLATFORM_WAIT_S
        held = self._leadership.hold()
        if held is Hold.STANDBY:
            periodic_hooks_run()  # a standby notices a leader gone quiet, too
            return min(5.0, settings.BEAT_LOCK_TTL_S / 3)
        if time.monotonic() < self._send_paused_until:
            return self._send_paused_until - time.monotonic()
        if held is Hold.TOOK_OVER:
            # Start from the database: the previous leader's unsynced run state is lost, and
            # the per-due-run guard stops a second send of anything it already sent.
            self._initial_read = True
            self._heap = None
        self._checked_this_tick = False
        interval = super().tick(*args, **kwargs)
        self._reconcile()
        periodic_hooks_run()  # e.g. the alert rules, when it is this process's turn
        return min(
            float(interval), settings.BEAT_LOCK_TTL_S / 3, settings.JOBS_RECONCILE_INTERVAL_S
        )

    def _platform_ready(self) -> bool:
        """Is the platform initialised (its tenant row exists)? Until then beat waits, saying
        so, instead of failing on its first tick and crash-looping under a supervisor."""
        if self._platform_seen:
            return True
        try:
            ready = Tenant.objects.filter(schema_name=PUBLIC).exists()
        except DatabaseError:  # no tables yet, or the database is still starting
            ready = False
            if not connection.in_atomic_block:
                connection.close()
        if not ready:
            now = time.monotonic()
            if now >= self._platform_said_at + 60:
                logger.warning("beat: waiting for the platform to be initialised "
                               "(manage.py platform_init); checking every %ss", PLATFORM_WAIT_S)  # fmt: skip
                self._platform_said_at = now
            return False
        self._platform_seen = True
        self._platform_entries_write()
        return True

    def _reconcile(self) -> None:
        """The leader re-sends tracked jobs whose message or worker is gone (jobs/reconcile.py):
        here rather than as a task, so a flooded queue cannot delay it."""
        now = time.monotonic()
        if now < self._reconcile_at:
            return
        self._reconcile_at = now + settings.JOBS_RECONCILE_INTERVAL_S
        try:
            jobs_reconcile()
        except Exception:  # a database or Redis outage: the next pass tries again
            logger.exception("beat: reconciler pass failed; retried next interval")
            if not connection.in_atomic_block:
                connection.close()

    def close(self) -> None:
        super().close()
        self._leadership.release()


__all__ = ["TenantScheduler"]
