from __future__ import annotations

import re
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
# Slugs that would shadow a platform host name or a PostgreSQL schema we rely on.
RESERVED_SLUGS = frozenset(
    {
        "public", "www", "admin", "api", "app", "static", "media", "mail", "smtp", "ftp",
        "healthz", "status", "staff", "support", "help", "docs", "information-schema",
        "information_schema", "template", "tpl", "root", "postgres",
    }
)  # fmt: skip
RESERVED_PREFIXES = ("pg-", "pg_", "tpl-")


def slug_validate(slug: str) -> None:
    if not SLUG_RE.match(slug):
        raise ValidationError(
            "Use 3-40 lowercase letters, digits and hyphens, starting with a letter.",
            code="invalid_slug",
        )
    if slug in RESERVED_SLUGS or slug.startswith(RESERVED_PREFIXES):
        raise ValidationError(f"“{slug}” is reserved.", code="reserved_slug")


def schema_name_for(slug: str) -> str:
    """The schema of a tenant: its slug with hyphens as underscores (both are immutable)."""
    return slug.replace("-", "_")


def timezone_validate(name: str) -> None:
    if name not in zoneinfo.available_timezones():
        raise ValidationError(f"“{name}” is not a known time zone.", code="invalid_timezone")


BRAND_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_BRAND_COLOR = "#1f4e79"


def brand_color_validate(value: str) -> None:
    if not BRAND_COLOR_RE.match(value):
        raise ValidationError("Use a colour as #rrggbb.", code="invalid_brand_color")


class Tenant(TenantMixin):
    """A customer organisation; its data lives in the PostgreSQL schema `schema_name`.

    The public schema has a Tenant row too (schema "public"): django-tenants routes the platform
    domain through it. Real tenants are made by `tenants.services.tenant_provision` only.
    """

    class Status(models.TextChoices):
        PROVISIONING = "provisioning", "Provisioning"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        ARCHIVED = "archived", "Archived"
        # Being restored from a backup (backups.restore): its tasks are deferred, its beat
        # entries pause and its portal shows a maintenance page until the swap is done.
        RESTORING = "restoring", "Restoring"
        # Offboarded: the schema is dropped; the row stays while its backups are kept
        # (BACKUP_DELETED_TENANT_KEEP_DAYS), then its backup key is destroyed.
        DELETED = "deleted", "Deleted"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=40, unique=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PROVISIONING, db_index=True
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[timezone_validate])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Enforced on every request (usersessions.engine) and by the tenant's session cleanup job.
    session_max_age_days = models.PositiveSmallIntegerField(
        "maximum session age (days)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Sessions older than this are ended, active or not, and the user signs in "
        "again. Empty: no limit beyond the normal expiry.",
    )
    # Read by artifacts.quota: the files the platform keeps for this tenant (reports, backups,
    # exports) may not pass it; a job that would fails with a clear error and staff are told.
    storage_quota_mb = models.PositiveIntegerField(
        "storage quota (MB)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Files kept for this tenant (reports, backups, exports). Empty: the platform "
        "default (ARTIFACTS_QUOTA_MB).",
    )

    # The header colour of the tenant's reports (and whatever else carries its brand).
    brand_color = models.CharField(
        "brand colour", max_length=7, default=DEFAULT_BRAND_COLOR,
        validators=[brand_color_validate], help_text="As #rrggbb.",
    )  # fmt: skip

    # Schemas are created and dropped by our services, never as a side effect of save()/delete().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]

    _loaded_identity: tuple[str, str] | None = None

    def __str__(self) -> str:
        return self.name

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any) -> Tenant:
        instance = super().from_db(db, field_names, values)
        instance._loaded_identity = (
            instance.__dict__.get("slug"),
            instance.__dict__.get("schema_name"),
        )
        return instance

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Slug and schema name are the tenant's identity (task headers, backups, URLs): a change
        # would silently point them at another schema, so it is refused outright.
        if self._loaded_identity is not None and self._loaded_identity != (
            self.slug,
            self.schema_name,
        ):
            raise ValueError("A tenant's slug and schema name cannot change once created.")
        super().save(*args, **kwargs)
        self._loaded_identity = (self.slug, self.schema_name)

    @property
    def is_public(self) -> bool:
        return self.schema_name == settings.PUBLIC_SCHEMA_NAME

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def primary_domain(self) -> str:
        return f"{self.slug}.{settings.BASE_DOMAIN}"


def tenant_url(tenant: Tenant, path: str = "/") -> str:
    """Absolute URL on the tenant's own domain (links in emails and in the admin)."""
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return f"{settings.SITE_SCHEME}://{tenant.primary_domain}{port}{path}"


class Domain(DomainMixin):
    class Meta:
        ordering = ["-is_primary", "domain"]

    def __str__(self) -> str:
        return self.domain


class Membership(models.Model):
    """A user's place in a tenant. Only members may sign in on the tenant's domain."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by the portal's sign-in on this tenant's domain. Not User.last_login, which is global:
    # shown to this tenant's owners, it would tell them when someone signed in elsewhere.
    last_signin_at = models.DateTimeField("last sign-in", null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="tenants_membership_unique")
        ]
        ordering = ["tenant__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.role})"


class SchemaTemplate(models.Model):
    """The DDL and seed rows of a fully migrated tenant schema, captured once per migration state.

    `key` is a hash of the tenant apps' migration graph: adding a migration changes the key, and
    the next provisioning captures a fresh template (tenants/provisioning.py).
    """

    key = models.CharField(max_length=64, unique=True)
    sql = models.TextField()
    placeholder = models.CharField(max_length=63)
    server_version = models.IntegerField()
    build_seconds = models.FloatField()
    built_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"template {self.key[:12]}"
