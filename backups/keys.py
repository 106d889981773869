"""Backup keys: one age X25519 identity per tenant, kept in public (TenantKey) only wrapped by
the platform key (settings.BACKUP_PLATFORM_KEY, itself an age identity), so a broken tenant
schema never makes its backups unreadable, and destroying a tenant's key makes every backup
encrypted to it unreadable (crypto-shredding).

Fail closed: once a platform key is configured, or once a tenant has a key, a backup is never
written in cleartext; anything wrong with the keys is a KeyProblem with a clear message, and no
backup.

The wrapped identity is an armored age file encrypted to the platform key, so by hand:
    age -d -i platform.key wrapped.txt > tenant.key && age -d -i tenant.key backup.tar.zst.age
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backups import age
from backups.models import TenantKey
from tenants.models import Tenant


class KeyProblem(RuntimeError):
    """The keys do not allow an encrypted backup (or reading one); the message says why."""


def platform_identity() -> str | None:
    """The configured platform key, checked; None when encryption is off."""
    configured = settings.BACKUP_PLATFORM_KEY.strip()
    if not configured:
        return None
    try:
        age.identity_recipient(configured)
    except age.AgeError as exc:
        raise KeyProblem(
            f"BACKUP_PLATFORM_KEY is not a valid age identity (AGE-SECRET-KEY-1…): {exc}"
        ) from exc
    return configured


def platform_fingerprint(identity: str) -> str:
    return age.key_fingerprint(age.identity_recipient(identity))


def _unwrap(key: TenantKey, platform: str) -> str:
    if key.is_destroyed or not key.wrapped_identity:
        raise KeyProblem(f"the backup key of {key.tenant.slug} was destroyed")
    if key.wrapped_by != platform_fingerprint(platform):
        raise KeyProblem(
            f"the backup key of {key.tenant.slug} was wrapped by another platform key "
            f"({key.wrapped_by}); set the BACKUP_PLATFORM_KEY it was made with"
        )
    try:
        identity = age.decrypt_small(age.unarmor(key.wrapped_identity), platform).decode()
    except (age.AgeError, UnicodeDecodeError) as exc:
        raise KeyProblem(f"the backup key of {key.tenant.slug} cannot be unwrapped: {exc}") from exc
    if age.identity_recipient(identity) != key.recipient:
        raise KeyProblem(f"the backup key of {key.tenant.slug} does not match its recipient")
    return identity


def backup_recipient(tenant: Tenant) -> str | None:
    """Whom this tenant's next backup is encrypted to; None: cleartext (no platform key and the
    tenant never had a key). Makes the tenant's key on first use. KeyProblem otherwise."""
    platform = platform_identity()
    key = TenantKey.objects.filter(tenant=tenant).select_related("tenant").first()
    if platform is None:
        if key is not None:
            raise KeyProblem(
                f"{tenant.slug}'s backups are encrypted but BACKUP_PLATFORM_KEY is not set: "
                "no backup is written in cleartext"
            )
        return None
    if key is None:
        key = tenant_key_create(tenant, platform)
    _unwrap(key, platform)  # proves the backup will be readable before we write it
    return key.recipient


def tenant_key_create(tenant: Tenant, platform: str) -> TenantKey:
    identity = age.identity_generate()
    wrapped = age.armor(age.encrypt_small(identity.encode(), age.identity_recipient(platform)))
    with transaction.atomic():
        key, _ = TenantKey.objects.select_for_update().get_or_create(
            tenant=tenant,
            defaults={
                "recipient": age.identity_recipient(identity),
                "wrapped_identity": wrapped,
                "wrapped_by": platform_fingerprint(platform),
            },
        )
    return key


def tenant_identity(tenant: Tenant) -> str:
    """The tenant's identity, to decrypt its backups. KeyProblem when it cannot be had."""
    platform = platform_identity()
    key = TenantKey.objects.filter(tenant=tenant).select_related("tenant").first()
    if key is None:
        raise KeyProblem(f"{tenant.slug} has no backup key")
    if platform is None:
        raise KeyProblem("BACKUP_PLATFORM_KEY is not set: encrypted backups cannot be read")
    return _unwrap(key, platform)


def tenant_key_destroy(tenant: Tenant) -> bool:
    """Crypto-shredding: forget the tenant's identity; every backup encrypted to it becomes
    unreadable, wherever its bytes are. Returns whether a live key was destroyed."""
    return bool(
        TenantKey.objects.filter(tenant=tenant, destroyed_at__isnull=True).update(
            wrapped_identity="", destroyed_at=timezone.now()
        )
    )
