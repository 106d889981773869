"""A restore's scratch schemas, its locks, and putting back what a restore left (backups.restore).

Each restore holds a PostgreSQL advisory lock (RUN_LOCK_CLASS, its id) on a connection of its
own for as long as it runs — Django's connection is closed by the migrations step, and a
session lock on it would go with it — and, restoring into a tenant, that tenant's lock
(TENANT_LOCK_CLASS, its id): one restore of a tenant at a time. PostgreSQL ends both with the
process's connection. A Restore row that is `running` while nobody holds its lock belongs to a
process that died; `restores_recover` puts it back.

Scratch schemas are `_restore_<id>` and `_restore_<id>_old`: a tenant's schema comes from a slug,
which starts with a letter, so no tenant can ever have such a name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection
from django.utils import timezone

from backoffice.services import audit_record
from backups.models import Restore
from backups.restore_checks import RestoreRefused
from tenants.context import connection_tenant_set
from tenants.models import Tenant
from tenants.services import tenant_status_write

logger = logging.getLogger(__name__)

SCRATCH_PREFIX = "_restore_"
SCRATCH_RE = re.compile(r"^_restore_(\d+)(?:_old)?$")
RUN_LOCK_CLASS = 7_340_013
TENANT_LOCK_CLASS = 7_340_014
INTERRUPTED = (
    "Interrupted: the process running the restore stopped (killed, or lost its database). "
    "The tenant was left as it was."
)


def scratch_name(restore_id: int) -> str:
    return f"{SCRATCH_PREFIX}{restore_id}"


def trash_name(restore_id: int) -> str:
    return f"{SCRATCH_PREFIX}{restore_id}_old"


def restores_recover() -> list[int]:
    """Finish what dead restores left: every running Restore row whose lock nobody holds is put
    back (its tenant to its previous status, its scratch schemas dropped) and marked failed;
    scratch schemas of restores that are over are dropped. Safe to run any time, from any
    number of processes at once. Returns the ids of the restores recovered."""
    recovered = []
    with lock_connection() as lock:
        for restore in Restore.objects.filter(state=Restore.State.RUNNING).select_related(
            "target", "backup"
        ):
            if not lock_take(lock, RUN_LOCK_CLASS, restore.pk, wait=False):
                continue  # alive: its process holds the lock
            tenant_free = False
            try:
                restore.refresh_from_db()
                if restore.state != Restore.State.RUNNING:
                    continue
                # "restoring" is the dead restore's doing unless a live restore of the same
                # tenant holds the tenant's lock (it then owns the status).
                tenant_free = not restore.as_new and lock_take(
                    lock, TENANT_LOCK_CLASS, restore.target_id, wait=False
                )
                restore_undo(restore, status_ours=tenant_free)
                restore.error = INTERRUPTED
                restore_finish(restore, Restore.State.FAILED)
                restore_audit(restore, "restore.recovered", error=restore.error)
                recovered.append(restore.pk)
            except Exception:
                # Tried again by the next recovery; one that fails must not stop the others,
                # nor the restore that called it.
                logger.exception("restore %s: the recovery failed", restore.pk)
            finally:
                if tenant_free:
                    lock_release(lock, TENANT_LOCK_CLASS, restore.target_id)
                lock_release(lock, RUN_LOCK_CLASS, restore.pk)
        _leftovers_drop()
    return recovered


def _leftovers_drop() -> None:
    """Scratch schemas whose restore is over (or unknown): a process that died after its swap
    committed leaves its trash schema, one that died before leaves its scratch schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", [SCRATCH_PREFIX]
        )
        found = [(name, SCRATCH_RE.match(name)) for (name,) in cursor.fetchall()]
    owners = {name: int(match.group(1)) for name, match in found if match is not None}
    running = set(
        Restore.objects.filter(pk__in=set(owners.values()), state=Restore.State.RUNNING)
        .values_list("pk", flat=True)
    )  # fmt: skip
    for name, restore_id in owners.items():
        if restore_id not in running:
            scratch_drop(name)


def restore_undo(restore: Restore, *, status_ours: bool) -> None:
    """Drop the restore's schemas; put the tenant's status back if this restore changed it."""
    if connection.in_atomic_block:
        raise RuntimeError("a restore is undone outside any transaction")
    if connection.connection is not None and not connection.is_usable():
        connection.close()
    connection_tenant_set(None)
    scratch_drop(scratch_name(restore.pk))
    scratch_drop(trash_name(restore.pk))  # none unless a swap committed (it is then not undone)
    if status_ours and not restore.as_new:
        tenant = Tenant.objects.get(pk=restore.target_id)
        if tenant.status == Tenant.Status.RESTORING:
            restore_status_move(
                tenant.pk, expected=[Tenant.Status.RESTORING], new=restore.previous_status
            )


def restore_finish(restore: Restore, state: str) -> None:
    restore.state = state
    restore.finished_at = timezone.now()
    restore.duration_s = round((restore.finished_at - restore.started_at).total_seconds(), 3)
    restore.save(update_fields=["state", "finished_at", "duration_s", "error", "target"])


def restore_status_move(tenant_id: int, *, expected: Collection[str], new: str) -> Tenant:
    """The restore's own status moves (tenants.services refuses any move out of restoring:
    only the restore that made it may undo it). Receivers hear of it after the commit: beat
    reloads the tenant's entries, workers drop their cached status."""

    def expected_now(locked: Tenant) -> None:
        if locked.status not in expected:
            raise RestoreRefused(
                f"{locked.slug} is {locked.get_status_display().lower()}; the restore expected "
                f"{' or '.join(expected)}. Nothing was changed."
            )

    return tenant_status_write(tenant_id=tenant_id, status=new, check=expected_now)


def scratch_drop(schema_name: str) -> None:
    if not SCRATCH_RE.match(schema_name):
        raise ValueError(f"{schema_name!r} is not a restore's scratch schema")
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')


def restore_audit(restore: Restore, action: str, **detail: Any) -> None:
    tenant = Tenant.objects.get(pk=restore.target_id)
    audit_record(
        actor=restore.requested_by, action=action, tenant=tenant, obj=restore,
        detail={"restore": restore.pk, "backup": restore.backup_id, **detail},
    )  # fmt: skip


def outside_transactions() -> None:
    if connection.in_atomic_block:
        # Each step commits (the load, the migrations, the swap): inside a caller's transaction
        # a failure could not be undone step by step.
        raise RuntimeError("a restore commits step by step: call it outside atomic()")


@contextmanager
def lock_connection() -> Iterator[psycopg.Connection[Any]]:
    """A connection of its own for the restore's advisory lock: Django's connection is closed
    by the migrations step. When the process dies, PostgreSQL ends the session and its lock."""
    params = dict(connection.get_connection_params())
    for option in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
        params.pop(option, None)
    lock = psycopg.connect(**params, autocommit=True)
    try:
        yield lock
    finally:
        lock.close()


def lock_take(lock: psycopg.Connection[Any], cls: int, key: int, *, wait: bool) -> bool:
    function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
    row = lock.execute(f"SELECT {function}(%s, %s)", [cls, key]).fetchone()
    return wait or bool(row and row[0])


def lock_release(lock: psycopg.Connection[Any], cls: int, key: int) -> None:
    lock.execute("SELECT pg_advisory_unlock(%s, %s)", [cls, key])
