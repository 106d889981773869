"""Restoring a backup: into its own tenant, or as a new tenant (docs/architecture.md, "Restore").

Into its own tenant (`backup_restore`):
1. refuse what cannot work before anything changes (a backup that did not succeed, of another
   tenant, from a migration state newer than the code, a tenant in a state we do not restore);
2. the tenant goes to RESTORING: its tasks wait (jobs.base), its beat entries pause (beat loads
   active tenants only), its portal shows a maintenance page (portal.middleware);
3. a safety backup (kind SAFETY) of the schema as it is;
4. the backup is loaded into a scratch schema (`archive_load`) and migrated forward to the
   code's migration state;
5. its sessions are deleted (every session ends with a restore);
6. the swap, in ONE transaction: the live schema's tables locked, live renamed to a trash name,
   scratch renamed to the live name, the tenant back to its previous status, the Restore row
   succeeded. PostgreSQL DDL is transactional: either all of it happened or none;
7. the trash schema is dropped after the commit.
Any failure before the commit drops the scratch schema and puts the status back: the live
schema was never touched.

A restore holds an advisory lock on a connection of its own for as long as it runs (Django's
connection is closed by the migrations step, and a session lock on it would go with it). A
Restore row that is `running` while nobody holds its lock belongs to a process that died: the
recovery (`restores_recover`, at the start of every restore and every minute by beat) puts its
tenant back to its previous status, drops its scratch schemas and marks it failed.

Scratch schemas are `_restore_<id>` and `_restore_<id>_old`: a tenant's schema comes from a slug,
which starts with a letter, so no tenant can ever have such a name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import psycopg
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from accounts.models import User
from backoffice.services import audit_record
from backups.archive import archive_load
from backups.models import Backup, Restore
from backups.services import backup_create, backup_open
from jobs.api import Progress
from tenants.context import connection_tenant_set
from tenants.models import Domain, Tenant, schema_name_for, slug_validate
from tenants.signals import tenant_status_changed
from usersessions.services import sessions_end_all

logger = logging.getLogger(__name__)

SCRATCH_PREFIX = "_restore_"
_SCRATCH_RE = re.compile(r"^_restore_(\d+)(?:_old)?$")
# pg_advisory_lock(class, id): the process running a restore holds its restore's lock, and the
# lock of the tenant it restores into (one restore of a tenant at a time).
_RUN_LOCK_CLASS = 7_340_013
_TENANT_LOCK_CLASS = 7_340_014
# Tenants we restore into; the restore puts them back to this status afterwards. An archived
# tenant is reactivated first (its admin is read-only, its schedules do not run).
RESTORABLE = (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED)
STEPS = 5  # progress: safety backup, load, migrate, swap, done


class RestoreRefused(ValueError):
    """The restore cannot be made; nothing was changed. The message is for people."""


def scratch_name(restore_id: int) -> str:
    return f"{SCRATCH_PREFIX}{restore_id}"


def trash_name(restore_id: int) -> str:
    return f"{SCRATCH_PREFIX}{restore_id}_old"


# --- the two services ------------------------------------------------------------------------
def backup_restore(
    backup: Backup,
    *,
    tenant: Tenant | None = None,
    requested_by: User | None = None,
    progress: Progress | None = None,
    job_task_id: str = "",
) -> Restore:
    """Restore `backup` into its own tenant (see the module's docstring). `tenant`, when given,
    is the tenant the caller means (the task's): a backup of another tenant is refused.
    A job delivered again finds its Restore row and returns it: a restore never runs twice by
    itself. Raises RestoreRefused (nothing changed) or the error that failed the restore (the
    tenant as it was, the row failed with the error)."""
    _outside_transactions()
    previous = _restore_for_job(job_task_id)
    if previous is not None:
        return previous
    restores_recover()
    target = Tenant.objects.get(pk=backup.tenant_id)  # its status now, not when it was loaded
    if tenant is not None and tenant.pk != backup.tenant_id:
        raise RestoreRefused(
            f"Backup {backup.pk} is a backup of {backup.tenant.slug}, not of {tenant.slug}: "
            "restore it as a new tenant instead."
        )
    _backup_check(backup)
    if target.status not in RESTORABLE:
        raise RestoreRefused(
            f"{target.slug} is {target.get_status_display().lower()}: only an active or "
            "suspended tenant is restored."
        )
    report = _stepper(progress)
    with _restore_begin(
        backup=backup, target=target, as_new=False, requested_by=requested_by,
        job_task_id=job_task_id, previous_status=target.status,
    ) as restore:  # fmt: skip
        moved = False  # whether this restore put the tenant in "restoring" (and must undo it)
        try:
            restore_status_move(
                target.pk, expected=[restore.previous_status], new=Tenant.Status.RESTORING
            )
            moved = True
            report(1, "safety backup")
            safety = backup_create(
                target, kind=Backup.Kind.SAFETY, requested_by=requested_by,
                progress=_sub(progress, 1, "safety backup"), job_task_id=job_task_id,
            )  # fmt: skip
            restore.safety_backup = safety
            restore.save(update_fields=["safety_backup"])
            if safety.state != Backup.State.SUCCEEDED:
                # No restore without a way back.
                raise RestoreRefused(
                    f"The safety backup failed, so nothing was restored: {safety.error}"
                )
            _audit(restore, "restore.safety_backup", safety_backup=safety.pk)
            _load_and_migrate(restore, progress)
            report(4, "swapping")
            _swap(restore)
        except BaseException as exc:
            _fail(restore, exc, status_ours=moved)
            raise
    try:
        _schema_drop(trash_name(restore.pk))
    except DatabaseError:
        # The restore is done; the old copy is dropped by the next recovery.
        logger.exception("restore %s: the old schema was not dropped", restore.pk)
    report(STEPS, "done")
    _audit(restore, "restore.succeeded", duration_s=restore.duration_s)
    return restore


def backup_restore_as_new(
    backup: Backup,
    *,
    slug: str,
    name: str | None = None,
    domain: str | None = None,
    requested_by: User | None = None,
    progress: Progress | None = None,
    job_task_id: str = "",
) -> Restore:
    """A new tenant (new slug, schema and domain) holding the data of `backup`, beside the live
    one. Its settings (time zone, session age, quota, colour) are the backup's tenant's; it gets
    no members (memberships live in public and are not part of a backup: staff invite whom the
    copy is for). Its schedules are those in the backup. Returns the Restore row, whose
    `target` is the new tenant once it succeeded (the backup's tenant until then)."""
    _outside_transactions()
    previous = _restore_for_job(job_task_id)
    if previous is not None:
        return previous
    restores_recover()
    _backup_check(backup)
    restore_as_new_check(slug=slug, domain=domain)
    source = backup.tenant
    report = _stepper(progress)
    with _restore_begin(
        backup=backup, target=source, as_new=True, requested_by=requested_by,
        job_task_id=job_task_id, previous_status="", slug=slug,
    ) as restore:  # fmt: skip
        try:
            _load_and_migrate(restore, progress)
            report(4, "creating the tenant")
            _make_tenant(restore, slug=slug, name=name, domain=domain)
        except BaseException as exc:
            _fail(restore, exc, status_ours=False)
            raise
    report(STEPS, "done")
    _audit(restore, "restore.succeeded", duration_s=restore.duration_s, new_tenant=slug)
    return restore


def restore_as_new_check(*, slug: str, domain: str | None = None) -> None:
    """What the admin checks before it sends the job, and the job again before it starts:
    a valid, free slug (and schema name) and a free domain. RestoreRefused otherwise."""
    try:
        slug_validate(slug)
    except ValidationError as exc:
        raise RestoreRefused(" ".join(exc.messages)) from exc
    if (
        Tenant.objects.filter(slug=slug).exists()
        or Tenant.objects.filter(schema_name=schema_name_for(slug)).exists()
    ):
        raise RestoreRefused(f"A tenant “{slug}” exists already: choose another slug.")
    wanted = {f"{slug}.{settings.BASE_DOMAIN}", *([domain] if domain else [])}
    taken = Domain.objects.filter(domain__in=wanted).values_list("domain", flat=True).first()
    if taken:
        raise RestoreRefused(f"The domain {taken} belongs to another tenant.")


# --- checks ----------------------------------------------------------------------------------
def _backup_check(backup: Backup) -> None:
    if backup.state != Backup.State.SUCCEEDED:
        raise RestoreRefused(
            f"Backup {backup.pk} {backup.get_state_display().lower()}: only a backup that "
            "succeeded can be restored."
        )
    if backup.artifact is None or backup.artifact.is_deleted:
        raise RestoreRefused(f"Backup {backup.pk}'s archive is no longer stored.")
    newer = migrations_unknown(manifest_migrations(backup.manifest.get("migrations") or []))
    if newer:
        raise RestoreRefused(_newer_message(backup, newer))


def manifest_migrations(migrations: Iterable[str]) -> list[tuple[str, str]]:
    """The migrations a manifest says were applied in the backed-up schema ("app.name"), as
    (app, name)."""
    pairs = []
    for migration in migrations:
        app, _, name = str(migration).partition(".")
        pairs.append((app, name))
    return pairs


def migrations_unknown(applied: Collection[tuple[str, str]]) -> list[str]:
    """The applied migrations this code does not have, of apps it has: the backup comes from a
    newer version of the code. (An app the code no longer installs is history, not the
    future: its migrations are ignored.)"""
    known, labels = _code_migrations()
    return sorted(
        f"{app}.{name}" for app, name in applied if app in labels and (app, name) not in known
    )


def _newer_message(backup: Backup, newer: list[str]) -> str:
    shown = ", ".join(newer[:5]) + (f" and {len(newer) - 5} more" if len(newer) > 5 else "")
    return (
        f"Backup {backup.pk} was taken by a newer version of the platform: its schema has "
        f"migrations this version does not know ({shown}). Restore it with that version or "
        "later; nothing was changed."
    )


@cache
def _code_migrations() -> tuple[frozenset[tuple[str, str]], frozenset[str]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    labels = frozenset(config.label for config in apps.get_app_configs())
    return frozenset(loader.disk_migrations), labels


# --- the steps -------------------------------------------------------------------------------
@contextmanager
def _restore_begin(
    *,
    backup: Backup,
    target: Tenant,
    as_new: bool,
    requested_by: User | None,
    job_task_id: str,
    previous_status: str,
    slug: str = "",
) -> Iterator[Restore]:
    """The Restore row, made visible only once this process holds its lock: the recovery never
    mistakes a restore that is starting for one that died."""
    with _lock_connection() as lock:
        with transaction.atomic():
            restore = Restore.objects.create(
                backup=backup, target=target, as_new=as_new, requested_by=requested_by,
                job_task_id=job_task_id, previous_status=previous_status,
            )  # fmt: skip
            _lock_take(lock, _RUN_LOCK_CLASS, restore.pk, wait=True)
            if not as_new and not _lock_take(lock, _TENANT_LOCK_CLASS, target.pk, wait=False):
                raise RestoreRefused(f"Another restore of {target.slug} is running.")
        _audit(
            restore, "restore.start", backup=backup.pk, as_new=as_new,
            backup_taken_at=backup.started_at.isoformat(), **({"slug": slug} if slug else {}),
        )  # fmt: skip
        yield restore


def _load_and_migrate(restore: Restore, progress: Progress | None) -> None:
    """The backup into the scratch schema, checked (archive_load), then migrated forward."""
    scratch = scratch_name(restore.pk)
    _stepper(progress)(2, "loading")
    with backup_open(restore.backup) as stream:
        manifest = archive_load(stream, scratch, progress=_sub(progress, 2, "loading"))
    # The archive's own manifest, not only the registry's copy of it: the archive is the truth.
    newer = migrations_unknown(manifest_migrations(manifest.migrations))
    if newer:
        raise RestoreRefused(_newer_message(restore.backup, newer))
    _stepper(progress)(3, "migrating")
    restore.migrated_forward = schema_migrate_forward(scratch)
    restore.save(update_fields=["migrated_forward"])
    _audit(restore, "restore.loaded", migrated_forward=restore.migrated_forward)
    # Every session ends with a restore: those in the backup are old ones.
    sessions_end_all(schema_name=scratch)


def schema_migrate_forward(schema_name: str) -> list[str]:
    """Run the tenant migrations the schema lacks; returns them ("app.name", in the order they
    ran). The schema need not be a tenant's (django-tenants migrates any schema by name)."""
    before = _applied(schema_name)
    known, _ = _code_migrations()
    if known <= set(before):
        return []
    try:
        call_command(
            "migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=0
        )
    finally:
        connection_tenant_set(None)
    done = set(before)
    return [f"{app}.{name}" for app, name in _applied(schema_name) if (app, name) not in done]


def _applied(schema_name: str) -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema_name}".django_migrations ORDER BY id')
        return [(app, name) for app, name in cursor.fetchall()]


def _swap(restore: Restore) -> None:
    """Scratch becomes the live schema, in one transaction with the status and the row."""
    tenant_id = restore.target_id
    live = restore.target.schema_name
    scratch, trash = scratch_name(restore.pk), trash_name(restore.pk)
    with transaction.atomic(), connection.cursor() as cursor:
        # A transaction that holds the live tables (a job that had started before the tenant
        # went to restoring) is waited for, but not forever: then the restore fails, untouched.
        cursor.execute(f"SET LOCAL lock_timeout = '{int(settings.RESTORE_SWAP_LOCK_TIMEOUT_S)}s'")
        locked = Tenant.objects.select_for_update().get(pk=tenant_id)
        if locked.status != Tenant.Status.RESTORING:
            raise RuntimeError(f"{locked.slug} is no longer restoring ({locked.status}).")
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [live])
        tables = [f'"{live}"."{name}"' for (name,) in cursor.fetchall()]
        if tables:
            # Nobody reads or writes the live tables from here to the commit; a statement
            # waiting on them then fails rather than writing into the schema being dropped.
            cursor.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(f'ALTER SCHEMA "{live}" RENAME TO "{trash}"')
        cursor.execute(f'ALTER SCHEMA "{scratch}" RENAME TO "{live}"')
        restore_status_move(
            tenant_id, expected=[Tenant.Status.RESTORING], new=restore.previous_status
        )
        _finish(restore, Restore.State.SUCCEEDED)
    _audit(restore, "restore.swap", trash=trash)


def _make_tenant(restore: Restore, *, slug: str, name: str | None, domain: str | None) -> None:
    """The new tenant's rows and its schema (the scratch one, renamed), in one transaction."""
    source = restore.backup.tenant
    with transaction.atomic(), connection.cursor() as cursor:
        tenant = Tenant.objects.create(
            name=name or f"{source.name} (restored {restore.backup.started_at:%Y-%m-%d})",
            slug=slug, schema_name=schema_name_for(slug), status=Tenant.Status.ACTIVE,
            status_changed_at=timezone.now(), timezone=source.timezone,
            session_max_age_days=source.session_max_age_days,
            storage_quota_mb=source.storage_quota_mb, brand_color=source.brand_color,
        )  # fmt: skip
        Domain.objects.create(domain=tenant.primary_domain, tenant=tenant, is_primary=True)
        if domain and domain != tenant.primary_domain:
            Domain.objects.create(domain=domain, tenant=tenant, is_primary=False)
        cursor.execute(
            f'ALTER SCHEMA "{scratch_name(restore.pk)}" RENAME TO "{tenant.schema_name}"'
        )
        restore.target = tenant
        _finish(restore, Restore.State.SUCCEEDED)
        # Beat loads the new tenant's schedules (the status signal writes its change-log row).
        transaction.on_commit(
            lambda: tenant_status_changed.send(
                sender=Tenant,
                tenant=tenant,
                old_status=Tenant.Status.PROVISIONING,
                new_status=Tenant.Status.ACTIVE,
            )
        )
    _audit(restore, "restore.as_new", new_tenant=tenant.slug, new_tenant_id=tenant.pk)


def _fail(restore: Restore, exc: BaseException, *, status_ours: bool) -> None:
    """Put everything back as it was, then record the failure. If putting back fails too, the
    row stays running: once this process lets go of its lock, the recovery finishes the job."""
    logger.warning("restore %s failed: %r", restore.pk, exc)
    try:
        _undo(restore, status_ours=status_ours)
    except Exception:
        logger.exception("restore %s: could not put things back; left to the recovery", restore.pk)
        return
    restore.error = _error_text(exc)
    _finish(restore, Restore.State.FAILED)
    _audit(restore, "restore.failed", error=restore.error)


def _undo(restore: Restore, *, status_ours: bool) -> None:
    """Drop the restore's schemas; put the tenant's status back if this restore changed it."""
    if connection.in_atomic_block:
        raise RuntimeError("a restore is undone outside any transaction")
    if connection.connection is not None and not connection.is_usable():
        connection.close()
    connection_tenant_set(None)
    _schema_drop(scratch_name(restore.pk))
    _schema_drop(trash_name(restore.pk))  # none unless a swap committed (it is then not undone)
    if status_ours and not restore.as_new:
        tenant = Tenant.objects.get(pk=restore.target_id)
        if tenant.status == Tenant.Status.RESTORING:
            restore_status_move(
                tenant.pk, expected=[Tenant.Status.RESTORING], new=restore.previous_status
            )


def _finish(restore: Restore, state: str) -> None:
    restore.state = state
    restore.finished_at = timezone.now()
    restore.duration_s = round((restore.finished_at - restore.started_at).total_seconds(), 3)
    restore.save(update_fields=["state", "finished_at", "duration_s", "error", "target"])


def restore_status_move(tenant_id: int, *, expected: Collection[str], new: str) -> Tenant:
    """The restore's own status moves (tenants.services refuses any move out of restoring:
    only the restore that made it may undo it). Receivers hear of it after the commit: beat
    reloads the tenant's entries, workers drop their cached status."""
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant_id)
        old = locked.status
        if old not in expected:
            raise RestoreRefused(
                f"{locked.slug} is {locked.get_status_display().lower()}; the restore expected "
                f"{' or '.join(expected)}. Nothing was changed."
            )
        locked.status = new
        locked.status_changed_at = timezone.now()
        locked.save(update_fields=["status", "status_changed_at", "updated_at"])
        transaction.on_commit(
            lambda: tenant_status_changed.send(
                sender=Tenant, tenant=locked, old_status=old, new_status=new
            )
        )
    return locked


def _schema_drop(schema_name: str) -> None:
    if not _SCRATCH_RE.match(schema_name):
        raise ValueError(f"{schema_name!r} is not a restore's scratch schema")
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')


# --- recovery --------------------------------------------------------------------------------
def restores_recover() -> list[int]:
    """Finish what dead restores left: every running Restore row whose lock nobody holds is put
    back (its tenant to its previous status, its scratch schemas dropped) and marked failed;
    scratch schemas of restores that are over are dropped. Safe to run any time, from any
    number of processes at once. Returns the ids of the restores recovered."""
    recovered = []
    with _lock_connection() as lock:
        for restore in Restore.objects.filter(state=Restore.State.RUNNING).select_related(
            "target", "backup"
        ):
            if not _lock_take(lock, _RUN_LOCK_CLASS, restore.pk, wait=False):
                continue  # alive: its process holds the lock
            tenant_free = False
            try:
                restore.refresh_from_db()
                if restore.state != Restore.State.RUNNING:
                    continue
                # "restoring" is the dead restore's doing unless a live restore of the same
                # tenant holds the tenant's lock (it then owns the status).
                tenant_free = not restore.as_new and _lock_take(
                    lock, _TENANT_LOCK_CLASS, restore.target_id, wait=False
                )
                _undo(restore, status_ours=tenant_free)
                restore.error = "Interrupted: the process running the restore stopped (killed, "
                restore.error += "or lost its database). The tenant was left as it was."
                _finish(restore, Restore.State.FAILED)
                _audit(restore, "restore.recovered", error=restore.error)
                recovered.append(restore.pk)
            finally:
                if tenant_free:
                    _lock_release(lock, _TENANT_LOCK_CLASS, restore.target_id)
                _lock_release(lock, _RUN_LOCK_CLASS, restore.pk)
        _leftovers_drop()
    return recovered


def _leftovers_drop() -> None:
    """Scratch schemas whose restore is over (or unknown): a process that died after its swap
    committed leaves its trash schema, one that died before leaves its scratch schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", [SCRATCH_PREFIX]
        )
        found = [(name, _SCRATCH_RE.match(name)) for (name,) in cursor.fetchall()]
    owners = {name: int(match.group(1)) for name, match in found if match is not None}
    running = set(
        Restore.objects.filter(pk__in=set(owners.values()), state=Restore.State.RUNNING)
        .values_list("pk", flat=True)
    )  # fmt: skip
    for name, restore_id in owners.items():
        if restore_id not in running:
            _schema_drop(name)


@contextmanager
def _lock_connection() -> Iterator[psycopg.Connection[Any]]:
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


def _lock_take(lock: psycopg.Connection[Any], cls: int, key: int, *, wait: bool) -> bool:
    function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
    row = lock.execute(f"SELECT {function}(%s, %s)", [cls, key]).fetchone()
    return wait or bool(row and row[0])


def _lock_release(lock: psycopg.Connection[Any], cls: int, key: int) -> None:
    lock.execute("SELECT pg_advisory_unlock(%s, %s)", [cls, key])


# --- small helpers ---------------------------------------------------------------------------
def _outside_transactions() -> None:
    if connection.in_atomic_block:
        # Each step commits (the load, the migrations, the swap): inside a caller's transaction
        # a failure could not be undone step by step.
        raise RuntimeError("a restore commits step by step: call it outside atomic()")


def _restore_for_job(job_task_id: str) -> Restore | None:
    """The restore this job made already (a job delivered twice). One still running without
    its process is recovered first."""
    if not job_task_id:
        return None
    restore = Restore.objects.filter(job_task_id=job_task_id).first()
    if restore is None:
        return None
    if restore.state == Restore.State.RUNNING:
        restores_recover()
        restore.refresh_from_db()
    return restore


def _audit(restore: Restore, action: str, **detail: Any) -> None:
    tenant = Tenant.objects.get(pk=restore.target_id)
    audit_record(
        actor=restore.requested_by, action=action, tenant=tenant, obj=restore,
        detail={"restore": restore.pk, "backup": restore.backup_id, **detail},
    )  # fmt: skip


def _stepper(progress: Progress | None) -> Callable[[int, str], None]:
    def report(step: int, message: str) -> None:
        if progress is not None:
            progress(step, STEPS, message)

    return report


def _sub(progress: Progress | None, step: int, label: str) -> Progress | None:
    """A step's own progress (the backup's tables, the load's) shown within the restore's."""
    if progress is None:
        return None

    def report(done: int, total: int | None, message: str) -> None:
        count = f" {done}/{total}" if total else ""
        progress(step, STEPS, f"{label}{count}: {message}" if message else f"{label}{count}")

    return report


def _error_text(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, RestoreRefused) else f"{type(exc).__name__}: {text}"
