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

What is refused before anything changes: backups.restore_checks. The scratch schemas, the
locks a running restore holds, and the recovery of a restore whose process died (at the start
of every restore and every minute by beat): backups.restore_recovery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts.models import User
from backoffice.services import audit_record
from backups.archive import archive_load
from backups.models import Backup, Restore
from backups.restore_checks import (
    RestoreRefused,
    code_migrations,
    manifest_migrations,
    migrations_unknown,
    newer_message,
    restore_as_new_check,
    restore_backup_check,
    restore_into_check,
)
from backups.restore_recovery import (
    RUN_LOCK_CLASS,
    TENANT_LOCK_CLASS,
    lock_connection,
    lock_take,
    outside_transactions,
    restore_audit,
    restore_finish,
    restore_status_move,
    restore_undo,
    restores_recover,
    scratch_drop,
    scratch_name,
    trash_name,
)
from backups.services import backup_create, backup_manifest, backup_open
from jobs.api import Progress
from tenants.context import connection_tenant_set
from tenants.models import Domain, Tenant, schema_name_for
from tenants.signals import tenant_status_changed
from usersessions.services import sessions_end_all

logger = logging.getLogger(__name__)

STEPS = 5  # progress: safety backup, load, migrate, swap, done


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
    outside_transactions()
    previous = _restore_for_job(job_task_id)
    if previous is not None:
        return previous
    restores_recover()
    target = Tenant.objects.get(pk=backup.tenant_id)  # its status now, not when it was loaded

    def check() -> None:
        restore_into_check(backup, target=target, asked_for=tenant)

    report = _stepper(progress)
    with _restore_begin(
        backup=backup, target=target, as_new=False, requested_by=requested_by,
        job_task_id=job_task_id, previous_status=target.status, check=check,
        asked_for=tenant or target,
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
            restore_audit(restore, "restore.safety_backup", safety_backup=safety.pk)
            _load_and_migrate(restore, progress)
            report(4, "swapping")
            _swap(restore)
        except BaseException as exc:
            _fail(restore, exc, status_ours=moved)
            raise
    try:
        scratch_drop(trash_name(restore.pk))
    except DatabaseError:
        # The restore is done; the old copy is dropped by the next recovery.
        logger.exception("restore %s: the old schema was not dropped", restore.pk)
    report(STEPS, "done")
    restore_audit(restore, "restore.succeeded", duration_s=restore.duration_s)
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
    outside_transactions()
    previous = _restore_for_job(job_task_id)
    if previous is not None:
        return previous
    restores_recover()

    def check() -> None:
        restore_backup_check(backup)
        restore_as_new_check(slug=slug, domain=domain, name=name)

    report = _stepper(progress)
    with _restore_begin(
        backup=backup, target=backup.tenant, as_new=True, requested_by=requested_by,
        job_task_id=job_task_id, previous_status="", check=check, asked_for=backup.tenant,
        slug=slug,
    ) as restore:  # fmt: skip
        try:
            _load_and_migrate(restore, progress)
            report(4, "creating the tenant")
            _make_tenant(restore, slug=slug, name=name, domain=domain)
        except BaseException as exc:
            _fail(restore, exc, status_ours=False)
            raise
    report(STEPS, "done")
    restore_audit(restore, "restore.succeeded", duration_s=restore.duration_s, new_tenant=slug)
    return restore


@contextmanager
def _restore_begin(
    *,
    backup: Backup,
    target: Tenant,
    as_new: bool,
    requested_by: User | None,
    job_task_id: str,
    previous_status: str,
    check: Callable[[], None],
    asked_for: Tenant,
    slug: str = "",
) -> Iterator[Restore]:
    """`check` (RestoreRefused: nothing changes; the refusal is audited too, against the tenant
    `asked_for`), then the Restore row, made visible only once this process holds its lock:
    the recovery never mistakes a restore that is starting for one that died."""
    with lock_connection() as lock:
        try:
            check()
            with transaction.atomic():
                restore = Restore.objects.create(
                    backup=backup, target=target, as_new=as_new, requested_by=requested_by,
                    job_task_id=job_task_id, previous_status=previous_status,
                )  # fmt: skip
                lock_take(lock, RUN_LOCK_CLASS, restore.pk, wait=True)
                if not as_new and not lock_take(lock, TENANT_LOCK_CLASS, target.pk, wait=False):
                    raise RestoreRefused(f"Another restore of {target.slug} is running.")
        except RestoreRefused as exc:
            audit_record(
                actor=requested_by, action="restore.refused", tenant=asked_for, obj=backup,
                detail={"backup": backup.pk, "reason": str(exc), **({"slug": slug} if slug else {})},
            )  # fmt: skip
            raise
        restore_audit(
            restore, "restore.start", backup=backup.pk, as_new=as_new,
            backup_taken_at=backup.started_at.isoformat(), **({"slug": slug} if slug else {}),
        )  # fmt: skip
        yield restore


def _load_and_migrate(restore: Restore, progress: Progress | None) -> None:
    """The backup into the scratch schema, checked (archive_load), then migrated forward."""
    scratch = scratch_name(restore.pk)
    _stepper(progress)(2, "loading")
    with backup_open(restore.backup) as stream:
        # Checked against the manifest recorded when the backup was made: an archive altered in
        # storage is refused before any of its SQL runs.
        manifest = archive_load(stream, scratch, progress=_sub(progress, 2, "loading"),
                                expected=backup_manifest(restore.backup))  # fmt: skip
    # The archive's own manifest, not only the registry's copy of it: the archive is the truth.
    newer = migrations_unknown(manifest_migrations(manifest.migrations))
    if newer:
        raise RestoreRefused(newer_message(restore.backup, newer))
    _stepper(progress)(3, "migrating")
    restore.migrated_forward = schema_migrate_forward(scratch)
    restore.save(update_fields=["migrated_forward"])
    restore_audit(restore, "restore.loaded", migrated_forward=restore.migrated_forward)
    # Every session ends with a restore: those in the backup are old ones.
    sessions_end_all(schema_name=scratch)


def schema_migrate_forward(schema_name: str) -> list[str]:
    """Run the tenant migrations the schema lacks; returns them ("app.name", in the order they
    ran). The schema need not be a tenant's (django-tenants migrates any schema by name)."""
    before = _applied(schema_name)
    known, _ = code_migrations()
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
        restore_finish(restore, Restore.State.SUCCEEDED)
    restore_audit(restore, "restore.swap", trash=trash)


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
        restore_finish(restore, Restore.State.SUCCEEDED)
        # Beat loads the new tenant's schedules (the status signal writes its change-log row).
        transaction.on_commit(
            lambda: tenant_status_changed.send(
                sender=Tenant,
                tenant=tenant,
                old_status=Tenant.Status.PROVISIONING,
                new_status=Tenant.Status.ACTIVE,
            )
        )
    restore_audit(restore, "restore.as_new", new_tenant=tenant.slug, new_tenant_id=tenant.pk)


def _fail(restore: Restore, exc: BaseException, *, status_ours: bool) -> None:
    """Put everything back as it was, then record the failure. If putting back fails too, the
    row stays running: once this process lets go of its lock, the recovery finishes the job."""
    logger.warning("restore %s failed: %r", restore.pk, exc)
    try:
        restore_undo(restore, status_ours=status_ours)
    except Exception:
        logger.exception("restore %s: could not put things back; left to the recovery", restore.pk)
        return
    restore.error = _error_text(exc)
    restore_finish(restore, Restore.State.FAILED)
    restore_audit(restore, "restore.failed", error=restore.error)


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
