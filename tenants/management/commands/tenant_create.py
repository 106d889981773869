from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from tenants.models import Tenant, slug_validate, timezone_validate
from tenants.provisioning import TemplateUnavailable, schema_template_get
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
        slug, email = options["slug"], options["owner_email"]
        self._validate(slug=slug, email=email, timezone_name=options["timezone"])
        fast = not options["migrate"]
        if fast:
            try:
                schema_template_get()  # built, if need be, before the transaction below
            except TemplateUnavailable:
                fast = False
        # Everything was checked above; the owner and the tenant are made together or not at all.
        with transaction.atomic():
            owner = owner_ensure(email=email)[0] if email else None
            result = tenant_provision(
                name=options["name"] or slug.capitalize(), slug=slug, owner=owner,
                timezone_name=options["timezone"], fast=fast,
            )  # fmt: skip
        tenant = result.tenant
        self.stdout.write(
            self.style.SUCCESS(
                f"Created tenant {tenant.slug} (schema {tenant.schema_name}, via {result.path}) "
                f"at {tenant.primary_domain}"
            )
        )

    def _validate(self, *, slug: str, email: str | None, timezone_name: str) -> None:
        """Every check before anything is written."""
        problems: list[str] = []
        checks: list[tuple[Callable[[str], None], str, str]] = [
            (slug_validate, slug, "slug"),
            (timezone_validate, timezone_name, "time zone"),
        ]
        if email is not None:
            checks.append((validate_email, email, "owner email"))
        for check, value, what in checks:
            try:
                check(value)
            except ValidationError as exc:
                problems.append(f"{what}: {' '.join(exc.messages)}")
        if Tenant.objects.filter(slug=slug).exists():
            problems.append(f"slug: a tenant “{slug}” already exists")
        if problems:
            raise CommandError("Nothing was created. " + "; ".join(problems))
