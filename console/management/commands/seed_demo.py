from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from artifacts.models import Artifact
from artifacts.services import artifact_write
from backoffice.roles import OPERATORS, VIEWERS, staff_roles_sync
from backups.models import Backup
from backups.services import backup_create, backup_verify
from tenants.models import Membership, Tenant, tenant_url
from tenants.services import membership_set, public_tenant_ensure, tenant_provision

DEMO_PASSWORD = "demo-pass-123"
STAFF = [
    # username, group, superuser
    ("admin", None, True),
    ("operator", OPERATORS, False),
    ("viewer", VIEWERS, False),
]
TENANTS = [
    # slug, name, timezone, member username
    ("acme", "Acme Corp", "Europe/Paris", "alice"),
    ("globex", "Globex", "America/New_York", "bob"),
]


class Command(BaseCommand):
    help = "Create the demo platform (idempotent): public domain, staff users, acme and globex."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo creates users with known passwords; DEBUG only.")
        public_tenant_ensure(domain=settings.BASE_DOMAIN)
        staff_roles_sync()
        for username, group, superuser in STAFF:
            user = self._user(username, is_staff=True, is_superuser=superuser)
            if group:
                user.groups.add(Group.objects.get(name=group))
        for slug, name, tz, member in TENANTS:
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is None:
                tenant = tenant_provision(name=name, slug=slug, timezone_name=tz).tenant
            membership_set(tenant=tenant, user=self._user(member), role=Membership.Role.OWNER)
            self._artifacts(tenant)
            self._backup(tenant)
        self._print_summary()

    def _backup(self, tenant: Tenant) -> None:
        """A verified backup to look at, download and restore (once: the nightly schedule makes
        the next ones)."""
        if Backup.objects.filter(tenant=tenant).exists():
            return
        backup = backup_create(tenant, kind=Backup.Kind.MANUAL)
        if backup.state == Backup.State.SUCCEEDED:
            backup_verify(backup)
        else:
            self.stderr.write(f"demo backup of {tenant.slug} failed: {backup.error}")

    def _artifacts(self, tenant: Tenant) -> None:
        """Something to see on the Downloads page: a report for members and an export for
        owners (once: a tenant that has artifacts gets none more)."""
        if Artifact.objects.filter(tenant=tenant).exists():
            return
        rows = "".join(f"{day},{(day * 37) % 101}\n" for day in range(1, 31))
        artifact_write(
            tenant=tenant, kind=Artifact.Kind.REPORT, title=f"{tenant.name} usage, last 30 days",
            filename=f"{tenant.slug}-usage-été.csv", content=[b"day,jobs\n", rows.encode()],
        )  # fmt: skip
        artifact_write(
            tenant=tenant, kind=Artifact.Kind.EXPORT, title=f"{tenant.name} members export",
            filename=f"{tenant.slug}-members.csv",
            content=[b"email,role\n", f"owner@{tenant.slug}.example,owner\n".encode()],
        )  # fmt: skip

    def _user(self, username: str, **flags: bool) -> User:
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com", **flags}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user

    def _print_summary(self) -> None:
        port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
        lines = [
            "",
            "Demo platform ready. Every password below is " + DEMO_PASSWORD,
            f"  Staff admin   http://{settings.BASE_DOMAIN}{port}/admin/",
            "                admin (superuser), operator (Operators), viewer (Viewers)",
        ]
        for slug, _name, _tz, member in TENANTS:
            tenant = Tenant.objects.get(slug=slug)
            lines.append(f"  {slug:<13} {tenant_url(tenant)}   member: {member}")
        lines.append(f"  Health        http://{settings.BASE_DOMAIN}{port}/healthz")
        lines.append("  Import files  dataport/samples/ (a tenant's admin: Import and export)")
        self.stdout.write("\n".join(lines) + "\n")
