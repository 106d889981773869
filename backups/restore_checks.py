"""What a restore refuses before anything changes, with words for people (backups.restore)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from functools import cache

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator
from django.db.migrations.loader import MigrationLoader

from backups.models import Backup
from tenants.models import Domain, Tenant, schema_name_for, slug_validate

# Tenants we restore into; the restore puts them back to this status afterwards. An archived
# tenant is reactivated first (its admin is read-only, its schedules do not run).
RESTORABLE = (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED)


class RestoreRefused(ValueError):
    """The restore cannot be made; nothing was changed. The message is for people."""


def restore_into_check(
    backup: Backup, *, target: Tenant | None = None, asked_for: Tenant | None = None
) -> None:
    """What the admin checks before it sends a restore into the backup's own tenant, and the
    job again before it starts: a backup that can be restored, of the tenant asked for
    (`asked_for`: the job's tenant), into a tenant in a status we restore (`target`: the
    backup's tenant as it is now). RestoreRefused otherwise."""
    target = target or Tenant.objects.get(pk=backup.tenant_id)
    if asked_for is not None and asked_for.pk != target.pk:
        raise RestoreRefused(
            f"Backup {backup.pk} is a backup of {target.slug}, not of {asked_for.slug}: "
            "restore it as a new tenant instead."
        )
    restore_backup_check(backup)
    if target.status not in RESTORABLE:
        raise RestoreRefused(
            f"{target.slug} is {target.get_status_display().lower()}: only an active or "
            "suspended tenant is restored."
        )


def restore_as_new_check(*, slug: str, domain: str | None = None, name: str | None = None) -> None:
    """What the admin checks before it sends the job, and the job again before it starts:
    a valid, free slug (and schema name), a valid free domain, a name that fits.
    RestoreRefused otherwise."""
    try:
        slug_validate(slug)
        if domain:
            DomainNameValidator(message=f"“{domain}” is not a domain name.")(domain)
    except ValidationError as exc:
        raise RestoreRefused(" ".join(exc.messages)) from exc
    if name is not None and not 0 < len(name.strip()) <= Tenant._meta.get_field("name").max_length:
        raise RestoreRefused("Give the new tenant a name of at most 200 characters.")
    if (
        Tenant.objects.filter(slug=slug).exists()
        or Tenant.objects.filter(schema_name=schema_name_for(slug)).exists()
    ):
        raise RestoreRefused(f"A tenant “{slug}” exists already: choose another slug.")
    wanted = {f"{slug}.{settings.BASE_DOMAIN}", *([domain] if domain else [])}
    taken = Domain.objects.filter(domain__in=wanted).values_list("domain", flat=True).first()
    if taken:
        raise RestoreRefused(f"The domain {taken} belongs to another tenant.")


def restore_backup_check(backup: Backup) -> None:
    if backup.state != Backup.State.SUCCEEDED:
        raise RestoreRefused(
            f"Backup {backup.pk} {backup.get_state_display().lower()}: only a backup that "
            "succeeded can be restored."
        )
    if backup.artifact is None or backup.artifact.is_deleted:
        raise RestoreRefused(f"Backup {backup.pk}'s archive is no longer stored.")
    newer = migrations_unknown(manifest_migrations(backup.manifest.get("migrations") or []))
    if newer:
        raise RestoreRefused(newer_message(backup, newer))


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
    known, labels = code_migrations()
    return sorted(
        f"{app}.{name}" for app, name in applied if app in labels and (app, name) not in known
    )


def newer_message(backup: Backup, newer: list[str]) -> str:
    shown = ", ".join(newer[:5]) + (f" and {len(newer) - 5} more" if len(newer) > 5 else "")
    return (
        f"Backup {backup.pk} was taken by a newer version of the platform: its schema has "
        f"migrations this version does not know ({shown}). Restore it with that version or "
        "later; nothing was changed."
    )


@cache
def code_migrations() -> tuple[frozenset[tuple[str, str]], frozenset[str]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    labels = frozenset(config.label for config in apps.get_app_configs())
    return frozenset(loader.disk_migrations), labels
