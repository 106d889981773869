"""One beat for every tenant: flow 2 of docs/architecture.md.

Entries are keyed `<schema>:<name>` (the platform's own, in public, by name), so the same name
in two tenants never clashes. A tenant entry is sent with `tenant=` (id and schema, as the tenant
task base expects) and may only name a tenant task. Run state (last_run_at, total_run_count) is
saved back inside the entry's own schema. Changes reach beat through `ScheduleChange`: each tick
reads the rows it has not seen (one query, whatever the number of tenants) and reloads only the
schemas they name. Only active tenants have entries.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry
from django_tenants.utils import schema_context

from saas.health import BEAT_HEARTBEAT_KEY
from tenants.models import ScheduleChange, Tenant
from tenants.task_base import is_tenant_task

logger = logging.getLogger(__name__)
PUBLIC = "public"
LEADER_KEY = "saas:beat:leader"
SENT_KEY = "saas:beat:sent:{key}:{due}"

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


def schedules_changed(schema_name: str) -> None:
    """Tell beat that a schema's schedules changed (after a bulk update that sends no signals)."""
    ScheduleChange.objects.create(schema_name=schema_name)


class TenantEntry(ModelEntry):
    def __init__(self, model: PeriodicTask, app: Any = None, tenant: Tenant | None = None) -> None:
        self.tenant = tenant
        super().__init__(model, app=app)
        if tenant is not None:
            self.options["tenant"] = {"tenant_id": tenant.pk, "tenant_schema": tenant.schema_name}

    @property
    def schema_name(self) -> str:
        return self.tenant.schema_name if self.tenant is not None else PUBLIC

    @property
    def key(self) -> str:
        return self.name if self.tenant is None else f"{self.tenant.schema_name}:{self.name}"

    def __next__(self) -> TenantEntry:
        self.model.last_run_at = self._default_now()
        self.model.total_run_count += 1
        self.model.no_changes = True
        return self.__class__(self.model, app=self.app, tenant=self.tenant)

    def save(self) -> None:
        # Run state belongs to the row in the entry's own schema, never the current one.
        with schema_context(self.schema_name):
            super().save()

    def _disable(self, model: PeriodicTask) -> None:
        with schema_context(self.schema_name):
            super()._disable(model)


class TenantScheduler(DatabaseScheduler):
    Entry = TenantEntry

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._last_change_id = 0
        self._checked_this_tick = False
        self._token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._leader = False
        self._redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
        self._renew = self._redis.register_script(_RENEW)
        super().__init__(*args, **kwargs)

    # -- loading ----------------------------------------------------------------------------
    def _entries_for(self, tenant: Tenant | None) -> dict[str, TenantEntry]:
        schema = tenant.schema_name if tenant is not None else PUBLIC
        entries: dict[str, TenantEntry] = {}
        with schema_context(schema):
            for model in self.enabled_models():
                if tenant is not None and not is_tenant_task(self.app.tasks.get(model.task)):
                    logger.error("%s: schedule %r names %s, not a tenant task; ignored",
                                 schema, model.name, model.task)  # fmt: skip
                    continue
                try:
                    entry = self.Entry(model, app=self.app, tenant=tenant)
                except ValueError:
                    continue
                entries[entry.key] = entry
        return entries

    def all_as_schedule(self) -> dict[str, TenantEntry]:
        latest = ScheduleChange.objects.order_by("-id").values_list("id", flat=True).first()
        self._last_change_id = latest or 0
        schedule = self._entries_for(None)
        for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE).exclude(
            schema_name=PUBLIC
        ):
            schedule.update(self._entries_for(tenant))
        return schedule

    def _reload(self, schema: str) -> None:
        prefix = f"{schema}:"
        stale = [
            k for k, e in self._schedule.items() if getattr(e, "schema_name", PUBLIC) == schema
        ]
        for key in stale:
            self._schedule.pop(key, None)
        if schema == PUBLIC:
            self._schedule.update(self._entries_for(None))
            return
        tenant = Tenant.objects.filter(schema_name=schema).first()
        if tenant is not None and tenant.status == Tenant.Status.ACTIVE:
            self._schedule.update(self._entries_for(tenant))
        logger.info("beat: reloaded %s (%d entries)", schema,
                    sum(1 for k in self._schedule if k.startswith(prefix)))  # fmt: skip

    def reserve(self, entry: TenantEntry) -> TenantEntry:
        new_entry = next(entry)
        # Keep the schedule on the entry that knows its new last_run_at: a heap rebuilt after
        # another schema's reload must not see the old one as due again.
        self._schedule[new_entry.key] = new_entry
        self._dirty.add(new_entry.key)  # by key: the same name may exist in many schemas
        return new_entry

    # -- change detection: one query per tick -------------------------------------------------
    def schedule_changed(self) -> bool:
        changes = list(
            ScheduleChange.objects.filter(id__gt=self._last_change_id)
            .order_by("id")
            .values_list("id", "schema_name")
        )
        if not changes:
            return False
        self._last_change_id = changes[-1][0]
        self.sync()  # write pending run state before entries are replaced
        for schema in dict.fromkeys(name for _, name in changes):
            self._reload(schema)
        self._heap = None
        self._heap_invalidated = True
        return False  # reloaded here, per schema: no full reload

    @property
    def schedule(self) -> dict[str, TenantEntry]:
        if self._initial_read:
            self._initial_read = False
            self._schedule = self.all_as_schedule()
            self._heap = None
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
            if self._leader and self._renew(
                keys=[LEADER_KEY, BEAT_HEARTBEAT_KEY],
                args=[self._token, ttl_ms, timezone.now().isoformat()],
            ):
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
                self._renew(
                    keys=[LEADER_KEY, BEAT_HEARTBEAT_KEY],
                    args=[self._token, ttl_ms, timezone.now().isoformat()],
                )
                return True
        except redis.RedisError:
            logger.warning("beat: Redis unreachable; not sending")
            self._leader = False
        return False

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
        self._checked_this_tick = False
        return min(interval, settings.BEAT_LOCK_TTL_S / 3)

    def apply_entry(self, entry: TenantEntry, producer: Any = None) -> None:
        # Ownership checked before each send: a leader that stalled past its lock must not send.
        try:
            if self._redis.get(LEADER_KEY) != self._token.encode():
                self._leader = False
                return
            due = self._due_at(entry)
            # The same due run of an entry is sent once, whoever is the leader.
            if not self._redis.set(
                SENT_KEY.format(key=entry.key, due=due), self._token, nx=True, ex=86400
            ):
                logger.info("beat: %s due at %s was already sent", entry.key, due)
                return
        except redis.RedisError:
            logger.warning("beat: Redis unreachable; %s not sent", entry.key)
            return
        super().apply_entry(entry, producer=producer)

    @staticmethod
    def _due_at(entry: TenantEntry) -> str:
        # remaining_estimate() is "next run after last_run_at" minus now: adding now back gives
        # the run's own time, the same in every beat process.
        now = entry._default_now()
        last = entry.last_run_at
        try:
            due = now + entry.schedule.remaining_estimate(last)
        except (AttributeError, TypeError):
            due = last
        return due.replace(microsecond=0).isoformat()


__all__ = ["TenantScheduler", "schedules_changed"]
