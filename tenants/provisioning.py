"""Creating a tenant schema: a fast path that replays a captured template, migrations otherwise.

Running every migration for each new tenant costs a third of a second or more and grows with the
project; django-tenants' clone function is slower still. Instead, once per migration state we
migrate a scratch schema, capture it with `pg_dump --inserts` (DDL *and* the rows migrations
wrote, with sequence positions), store that SQL in public, and replay it under the new name in
the caller's transaction.

Why a placeholder name rather than a text replace of "the template schema": pg_dump qualifies
every object (tables, sequences inside `nextval('<schema>.seq'::regclass)` defaults, identity
sequences, foreign keys), so the dumped schema gets a name that cannot occur anywhere else
(`tpl_<hash>`), and only whole identifiers equal to it are replaced. A schema built this way is
compared with a migrated one in tests/test_provisioning.py.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from functools import cache
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader

from saas.pg import PgToolFailed, PgToolUnavailable, pg_run, server_major, server_version
from tenants.context import connection_tenant_set
from tenants.models import SchemaTemplate

logger = logging.getLogger(__name__)

_BUILD_LOCK_ID = 7_340_001  # pg_advisory_lock key: one template build at a time


class TemplateUnavailable(RuntimeError):
    """The fast path cannot be used here (no matching pg_dump, dump failed); use migrations."""


def tenant_app_labels() -> list[str]:
    labels = []
    for app_name in settings.TENANT_APPS:
        for config in apps.get_app_configs():
            if config.name == app_name:
                labels.append(config.label)
    return labels


@cache
def migration_state_key() -> str:
    """A hash of every tenant-app migration: names and file contents. A new migration, or an
    edited one, gives a new key and so a fresh template."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    digest = hashlib.sha256()
    labels = set(tenant_app_labels())
    for app_label, name in sorted(key for key in loader.disk_migrations if key[0] in labels):
        migration = loader.disk_migrations[(app_label, name)]
        source = Path(__import__(migration.__module__, fromlist=["_"]).__file__ or "")
        digest.update(f"{app_label}.{name}\n".encode())
        digest.update(source.read_bytes() if source.is_file() else b"")
    return digest.hexdigest()


def _dump_schema(schema: str) -> str:
    try:
        return pg_run(
            "pg_dump",
            ["--schema", schema, "--inserts", "--no-owner", "--no-privileges", "--no-comments"],
        )
    except (PgToolUnavailable, PgToolFailed) as exc:
        raise TemplateUnavailable(str(exc)) from exc


def _clean_dump(dump: str, placeholder: str) -> str:
    """Keep only statements that build objects inside the schema.

    Dropped: session settings (`SET …`, `set_config('search_path', …)` would change the caller's
    connection) and `CREATE SCHEMA`, which the replay issues itself under the new name.
    """
    kept = []
    for statement in sql_statements(dump):
        head = statement.lstrip().upper()
        if head.startswith(("SET ", "SELECT PG_CATALOG.SET_CONFIG")):
            continue
        if head.startswith("CREATE SCHEMA"):
            continue
        kept.append(statement)
    sql = "\n".join(kept)
    if re.search(r"\bpublic\.", sql):
        # The template must be self-contained; a reference into public would be shared by
        # every tenant and is a bug in a migration.
        raise TemplateUnavailable("tenant template refers to the public schema")
    if placeholder not in sql:
        raise TemplateUnavailable("pg_dump output does not mention the template schema")
    return sql


def sql_statements(dump: str) -> list[str]:
    """Split pg_dump output into statements: drop comment lines, end each at a `;` line end.
    pg_dump writes one statement per line or ends multi-line ones with `;` at line end; string
    literals with a newline before `;` only occur in data this project's migrations do not write."""
    statements: list[str] = []
    current: list[str] = []
    for line in dump.splitlines():
        if not current and (not line.strip() or line.startswith("--")):
            continue
        if not current and line.startswith("\\"):
            # psql meta-commands (recent pg_dump wraps its output in \restrict … \unrestrict)
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            statements.append("\n".join(current))
            current = []
    if current:
        statements.append("\n".join(current))
    return statements


def identifier_re(name: str) -> re.Pattern[str]:
    return re.compile(rf'(?<![\w$"]){re.escape(name)}(?![\w$])|"{re.escape(name)}"')


def schema_template_build(key: str) -> SchemaTemplate:
    """Migrate a scratch schema, capture it, store the SQL. Serialised by an advisory lock."""
    placeholder = f"tpl_{key[:20]}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [_BUILD_LOCK_ID])
    try:
        existing = SchemaTemplate.objects.filter(key=key).first()
        if existing:
            return existing
        started = time.perf_counter()
        schema_drop(placeholder)
        schema_migrate(placeholder)
        try:
            sql = _clean_dump(_dump_schema(placeholder), placeholder)
        finally:
            schema_drop(placeholder)
        template = SchemaTemplate.objects.create(
            key=key,
            sql=sql,
            placeholder=placeholder,
            server_version=server_version(),
            build_seconds=time.perf_counter() - started,
        )
        logger.info("built tenant schema template %s in %.2fs", key[:12], template.build_seconds)
        return template
    finally:
        connection_tenant_set(None)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_BUILD_LOCK_ID])


_template_cache: dict[str, tuple[str, re.Pattern[str]]] = {}


def schema_template_get() -> tuple[str, re.Pattern[str]]:
    """The SQL of the current template and the pattern of its placeholder (cached per process)."""
    key = migration_state_key()
    cached = _template_cache.get(key)
    if cached is None:
        template = SchemaTemplate.objects.filter(key=key).first()
        if template is None:
            if connection.in_atomic_block:
                # pg_dump reads through its own connection and would not see a scratch schema
                # made inside this uncommitted transaction.
                raise TemplateUnavailable("template must be built outside a transaction")
            template = schema_template_build(key)
        if template.server_version // 10000 != server_major():
            raise TemplateUnavailable("template was captured from another PostgreSQL major version")
        cached = (template.sql, identifier_re(template.placeholder))
        _template_cache[key] = cached
    return cached


def schema_create_from_template(schema_name: str) -> None:
    sql, placeholder_re = schema_template_get()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema_name}"')
        cursor.execute(placeholder_re.sub(schema_name, sql))


def schema_migrate(schema_name: str) -> None:
    """The slow, always-correct path: create the schema and run every tenant migration."""
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema_name}"')
    try:
        call_command(
            "migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=0
        )
    finally:
        connection_tenant_set(None)


def schema_create(schema_name: str, *, fast: bool = True) -> str:
    """Create a tenant schema; returns "template" or "migrations" (the path taken)."""
    if fast:
        try:
            schema_create_from_template(schema_name)
            return "template"
        except TemplateUnavailable as exc:
            logger.warning("tenant template unavailable (%s); running migrations instead", exc)
    schema_migrate(schema_name)
    return "migrations"


def schema_drop(schema_name: str) -> None:
    if schema_name == settings.PUBLIC_SCHEMA_NAME:
        raise ValueError("refusing to drop the public schema")
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')
