from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from backoffice.roles import staff_roles_sync
from tenants.services import public_tenant_ensure


class Command(BaseCommand):
    help = (
        "First boot and every deploy, safe to run again: migrate the public schema and every "
        "tenant, then make sure the platform tenant, its domain (BASE_DOMAIN) and the staff "
        "roles exist. Web and beat wait for it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--skip-migrate", action="store_true", help="Only the platform rows and roles."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = int(options["verbosity"])
        if not options["skip_migrate"]:
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
            call_command(
                "migrate_schemas", tenant=True, executor="multiprocessing", interactive=False,
                verbosity=verbosity,
            )  # fmt: skip
        tenant = public_tenant_ensure(domain=settings.BASE_DOMAIN)
        staff_roles_sync()
        self.stdout.write(
            self.style.SUCCESS(
                f"Platform ready: {tenant.name} at {settings.BASE_DOMAIN}, staff roles in place."
            )
        )
