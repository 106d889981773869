"""One beat for every tenant: flow 2 of docs/architecture.md.

Entries are keyed `<schema>:<name>` (the platform's own, in public, by name), so the same name
in two tenants never clashes. A tenant entry is sent with `tenant=` (id and schema, as the tenant
task base expects) and may only name a tenant task. Run state (last_run_at, total_run_count) is
written back, right after each send, to the row in the entry's own schema.

Changes reach beat through `ScheduleChange`: each tick reads the rows it has not seen (one query,
whatever the number of tenants) and reloads only the schemas they name, updating the heap for
those entries alone. Only active tenants have entries.

When an entry is (re)loaded, runs that fell due more than BEAT_MISSED_GRACE_S ago while no beat
was running are counted as missed (ScheduleState, beside the row); the entry's `catch_up` choice
says whether beat runs it once now or waits for its next due time.

Beat also keeps the public read model `ScheduleSummary` current for the cross-tenant overview.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import os
import socket
import time
import uuid
from typing import Any

import redis
from celery import schedules
from celery.beat import ScheduleEntry, event_t
from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection, transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry
from django_tenants.utils import schema_context
from kombu.utils.json import loads

from backoffice.models import ScheduleSummary
from saas.health import BEAT_HEARTBEAT_KEY
from schedules.models import CATCH_UP_DEFAULT
from schedules.services import (
    schedule_build,
    schedule_describe,
    schedule_state,
    schedules_changed,
    state_missed_record,
)
from schedules.timing import next_run, runs_between
from tenants.models import ScheduleChange, Tenant
from tenants.task_base import is_tenant_task

logger = logging.getLogger(__name__)
PUBLIC = "public"
LEADER_KEY = "saas:beat:leader"
SENT_KEY = "saas:beat:sent:{key}:{due}"
SCHEDULE_RELATED = ("interval", "crontab", "solar", "clocked", "state")
# How long beat waits for a change-log row whose id was taken by a transaction not yet committed.
CHANGE_WINDOW = dt.timedelta(minutes=5)
MISSED_COUNT_LIMIT = 100

# Renew the lock and write the heartbeat in one command, only while we hold the lock.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  redis.call('set', KEYS[2], ARGV[3], 'EX', 300)
  return 1
end
return 0
"""


def clock() -> dt.datetime:
    """Beat's "now" (UTC). Tests replace it to drive ticks through time zones and DST nights."""
    return dt.datetime.now(dt.UTC)


def _now() -> dt.datetime:
    return clock()  # looked up at call time, so a replaced `clock` is seen everywhere


class TenantEntry(ScheduleEntry):
    """One periodic task of one schema. Built from the row without django-celery-beat's
    ModelEntry, whose constructor parses the crontab a second time and reads no tenant."""

    def __init__(self, model: PeriodicTask, app: Any = None, tenant: Tenant | None = None) -> None:
        self.app = app
        self.tenant = tenant
        self.model = model
        self.name = model.name
        self.task = model.task
        self.schedule = schedule_build(model, self.schema_name, nowfun=_now)
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
            self.options["tenant"] = {"tenant_id": tenant.pk, "tenant_schema": tenant.schema_name}
        self.total_run_count = model.total_run_count
        if not model.last_run_at:
            # Never ran: due times count from when the row was last changed; one with a start
            # time counts from far back so it runs at its start time.
            model.last_run_at = model.date_changed or _now()
            if model.start_time:
                model.last_run_at -= dt.timedelta(days=365 * 30)
        self.last_run_at = model.last_run_at

    @property
    def schema_name(self) -> str:
        return self.tenant.schema_name if self.tenant is not None else PUBLIC

    @property
    def key(self) -> str:
        return self.name if self.tenant is None else f"{self.tenant.schema_name}:{self.name}"

    @classmethod
    def from_entry(cls, name: str, app: Any = None, **entry: Any) -> TenantEntry:
        """A platform entry from settings, written to public's row (django-celery-beat's way)."""
        model, _ = PeriodicTask._default_manager.update_or_create(
            name=name, defaults=ModelEntry._unpack_fields(**entry)
        )
        return cls(model, app=app)

    def default_now(self) -> dt.datetime:
        return _now()

    def is_due(self) -> schedules.schedstate:
        model = self.model
        now = _now()
        if model.start_time is not None and now < model.start_time:
            return schedules.schedstate(False, (model.start_time - now).total_seconds())
        if model.expires is not None and now >= model.expires:
            self._disable()
            return schedules.schedstate(False, 10**9)
        if model.one_off and model.total_run_count > 0:
            self._disable()
            return schedules.schedstate(False, 10**9)
        return self.schedule.is_due(self.last_run_at)

    def next_run_at(self) -> dt.datetime | None:
        return next_run(self.schedule, self.last_run_at)

    def __next__(self) -> TenantEntry:
        self.model.last_run_at = _now()
        self.model.total_run_count += 1
        return self.__class__(self.model, app=self.app, tenant=self.tenant)

    def save(self) -> None:
        """Run state to the row in the entry's own schema: one UPDATE, no signal (it is not a
        schedule change), never the current schema's row of the same name."""
        with schema_context(self.schema_name):
            PeriodicTask.objects.filter(pk=self.model.pk).update(
                last_run_at=self.model.last_run_at, total_run_count=self.model.total_run_count
            )

    def _disable(self) -> None:
        # Expired or a one-off that ran: disabled with a normal save, so the change log tells
        # beat (and the overview) to drop it.
        with schema_context(self.schema_name):
            PeriodicTask.objects.filter(pk=self.model.pk).update(enabled=False)
            schedules_changed(self.schema_name)
        self.model.enabled = False


class TenantScheduler(DatabaseScheduler):
    Entry = TenantEntry

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Change log reading: each tick reads the ids above `_floor`, the highest id below which
        # every id has been seen. An id is taken at insert but visible at commit, so a change
        # made in a long transaction (a tenant's provisioning) can appear after higher ids: a
        # missing id holds the floor (its successors are re-read, and skipped once seen) until
        # it appears or CHANGE_WINDOW has passed (a rolled-back insert never appears).
        self._floor = 0
        self._seen: set[int] = set()  # ids above the floor already applied
        self._gaps: dict[int, float] = {}  # missing id -> when first noticed (monotonic)
        self._retry: set[str] = set()  # schemas whose load failed: reloaded next tick
        self._send: bool | None = None  # set by reserve() for the apply_entry() that follows
        self._public_id = 0
        self._checked_this_tick = False
        self._token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._leader = False
        self._redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
        self._renew = self._redis.register_script(_RENEW)
        super().__init__(*args, **kwargs)

    def setup_schedule(self) -> None:
        """Write the platform's own entries (settings.CELERY_BEAT_SCHEDULE) to public's rows;
        tenants' come only from their own rows. Nothing is loaded here: a standby never needs
        the schedule, and the leader loads it on its first tick."""
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
                summary.append(
                    ScheduleSummary(
                        tenant_id=tenant.pk if tenant is not None else self._public_id,
                        schema_name=schema, name=model.name, task=model.task,
                        schedule=schedule_describe(model)[:300], enabled=model.enabled,
                        last_run_at=model.last_run_at if model.total_run_count else None,
                        next_run_at=entry.next_run_at() if entry is not None else None,
                        missed_runs=getattr(schedule_state(model), "missed_runs", 0),
                        refreshed_at=now,
                    )
                )  # fmt: skip
        return entries, summary

    def _entry_build(
        self, model: PeriodicTask, tenant: Tenant | None, now: dt.datetime
    ) -> TenantEntry | None:
        schema = tenant.schema_name if tenant is not None else PUBLIC
        if tenant is not None and not is_tenant_task(self.app.tasks.get(model.task)):
            logger.error("%s: schedule %r names %s, not a tenant task; ignored",
                         schema, model.name, model.task)  # fmt: skip
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
        now = _now()
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
        with transaction.atomic():
            ScheduleSummary.objects.all().delete()
            ScheduleSummary.objects.bulk_create(summary, batch_size=2000)
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
                entries, summary = self._load(tenant, _now())
            with transaction.atomic():
                ScheduleSummary.objects.filter(schema_name=schema).delete()
                ScheduleSummary.objects.bulk_create(summary)
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
        """Celery calls this just before apply_entry(): ownership and the per-run guard are
        checked here, before any run state is written, so a leader that lost its lock records
        nothing it will not send."""
        self._send = self._may_send(entry)
        if self._send is None:  # not the leader: leave the entry as it is for the next one
            return entry
        new_entry = next(entry)
        self._schedule[new_entry.key] = new_entry
        try:
            new_entry.save()  # at once: a standby taking over starts from the true run state
            ScheduleSummary.objects.filter(schema_name=new_entry.schema_name,
                                           name=new_entry.name).update(
                last_run_at=new_entry.last_run_at, next_run_at=new_entry.next_run_at()
            )  # fmt: skip
        except Exception:
            logger.exception("beat: run state of %s not saved; retried at sync", new_entry.key)
            self._dirty.add(new_entry.key)
        return new_entry

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
        """Before a full load: what the log holds now is covered by the load itself; ids of the
        last CHANGE_WINDOW that are missing may still commit, so the floor starts below them."""
        cutoff = timezone.now() - CHANGE_WINDOW
        recent = list(ScheduleChange.objects.filter(at__gte=cutoff).values_list("id", flat=True))
        latest = ScheduleChange.objects.order_by("-id").values_list("id", flat=True).first()
        self._floor = min(recent) - 1 if recent else (latest or 0)
        self._seen = set(recent)
        self._gaps = {}
        self._floor_advance()

    def _floor_advance(self) -> None:
        now = time.monotonic()
        window = CHANGE_WINDOW.total_seconds()
        top = max(self._seen, default=self._floor)
        following = self._floor + 1
        while following <= top:
            if following in self._seen:
                self._seen.discard(following)
            elif now - self._gaps.setdefault(following, now) <= window:
                break  # may still commit: hold the floor here
            else:
                del self._gaps[following]  # rolled back (or older than the window): give up
            self._floor = following
            following += 1
        for pk in range(following, top + 1):
            if pk not in self._seen:
                self._gaps.setdefault(pk, now)

    def schedule_changed(self) -> bool:
        try:
            rows = list(
                ScheduleChange.objects.filter(id__gt=self._floor)
                .order_by("id")
                .values_list("id", "schema_name")
            )
        except (DatabaseError, InterfaceError):
            # The database went away (restart, failover): keep the schedule, reconnect next tick.
            logger.exception("beat: cannot read the change log; retried next tick")
            connection.close()
            return False
        schemas = [schema for pk, schema in rows if pk not in self._seen]
        if rows:
            self._seen.update(pk for pk, _ in rows)
            self._floor_advance()
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
    def _hold_leadership(self) -> bool:
        """Renew the lock (and write the heartbeat) if we hold it, else try to take it."""
        ttl_ms = settings.BEAT_LOCK_TTL_S * 1000
        try:
            if self._leader and self._renew_lock(ttl_ms):
                return True
            if self._leader:
                logger.warning("beat: lost leadership; standing by")
                self._leader = False
            if self._redis.set(LEADER_KEY, self._token, nx=True, px=ttl_ms):
                logger.info("beat: %s is the leader", self._token)
                self._leader = True
                # Start from the database: the previous leader's unsynced run state is lost,
                # and the per-due-run guard stops a second send of anything it already sent.
                self._initial_read = True
                self._heap = None
                self._renew_lock(ttl_ms)  # the heartbeat, at once
                return True
        except redis.RedisError:
            logger.warning("beat: Redis unreachable; not sending")
            self._leader = False
        return False

    def _renew_lock(self, ttl_ms: int) -> bool:
        """Extend the lock and write the heartbeat, in one command, if we still hold it."""
        return bool(
            self._renew(
                keys=[LEADER_KEY, BEAT_HEARTBEAT_KEY],
                args=[self._token, ttl_ms, timezone.now().isoformat()],
            )
        )

    def close(self) -> None:
        super().close()
        if self._leader:
            # A clean stop hands over at once instead of after the lock's lifetime.
            try:
                self._redis.register_script(_RELEASE)(keys=[LEADER_KEY], args=[self._token])
            except redis.RedisError:
                pass
            self._leader = False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Leader, idle: one query (the change log) and one Redis command (lock + heartbeat)."""
        if not self._hold_leadership():
            return min(5.0, settings.BEAT_LOCK_TTL_S / 3)
        self._checked_this_tick = False
        interval = super().tick(*args, **kwargs)
        return min(interval, settings.BEAT_LOCK_TTL_S / 3)

    def _may_send(self, entry: TenantEntry) -> bool | None:
        """None: we are not the leader (send nothing, record nothing). False: this due run was
        already sent (by us or a previous leader): record it as run, do not send. True: send."""
        try:
            # Ownership checked before each send: a leader that stalled past its lock must not.
            if self._redis.get(LEADER_KEY) != self._token.encode():
                self._leader = False
                return None
            due = self._due_at(entry)
            # The same due run of an entry is sent once, whoever is the leader.
            if not self._redis.set(
                SENT_KEY.format(key=entry.key, due=due), self._token, nx=True, ex=86400
            ):
                logger.info("beat: %s due at %s was already sent", entry.key, due)
                return False
        except redis.RedisError:
            logger.warning("beat: Redis unreachable; %s not sent", entry.key)
            self._leader = False
            return None
        return True

    def apply_entry(self, entry: TenantEntry, producer: Any = None) -> None:
        send, self._send = self._send, None
        if send:
            super().apply_entry(entry, producer=producer)

    @staticmethod
    def _due_at(entry: TenantEntry) -> str:
        # The run's own time (the first after the previous run), the same in every beat process.
        last = entry.last_run_at
        due = next_run(entry.schedule, last) or last
        return due.replace(microsecond=0).isoformat()


__all__ = ["TenantScheduler", "schedules_changed"]
