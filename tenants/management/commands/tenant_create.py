from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.services import owner_ensure, tenant_provision


class Command(BaseCommand):
    help = "Create a tenant: its row, domain <slug>.<BASE_DOMAIN>, first owner, schema, defaults."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Immutable short name; the subdomain and schema name.")
        parser.add_argument("--name", help="Display name (default: the slug, capitalised).")
        parser.add_argument("--owner-email", help="First owner; created if no user has it.")
        parser.add_argument("--timezone", default="UTC", help="IANA time zone, e.g. Europe/Paris.")
        parser.add_argument(
            "--migrate",
            action="store_true",
            help="Run migrations instead of the template fast path.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        owner = None
        if options["owner_email"]:
            owner, _ = owner_ensure(email=options["owner_email"])
        try:
            result = tenant_provision(
                name=options["name"] or options["slug"].capitalize(),
                slug=options["slug"],
                owner=owner,
                timezone_name=options["timezone"],
                fast=not options["migrate"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        tenant = result.tenant
        self.stdout.write(
            self.style.SUCCESS(
                f"Created tenant {tenant.slug} (schema {tenant.schema_name}, via {result.path}) "
                f"at {tenant.primary_domain}"
            )
        )
