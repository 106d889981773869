"""A tenant schema's DDL for an archive: the provisioning template's when the live schema still
has its shape (the normal path: no pg_dump, so a cost that does not grow with the number of
tenants), else `pg_dump -n` of that one schema (someone changed its DDL by hand).

The shape is compared through a handful of catalog queries keyed on the one schema: relations,
columns in order with types and defaults, indexes, constraints, sequences and who owns them,
triggers, views and functions. The template's shape is measured once per process by replaying
it into a scratch schema inside a transaction that is rolled back.

Both paths give the DDL in two parts, with the schema's name replaced by PLACEHOLDER:
pre-data (types, tables, sequences, defaults) and post-data (constraints, indexes, triggers),
so data is loaded between them, as pg_restore does.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from saas.pg import PgToolFailed, PgToolUnavailable, pg_run
from tenants.models import SchemaTemplate
from tenants.provisioning import (
    TemplateUnavailable,
    identifier_re,
    migration_state_key,
    schema_template_get,
    sql_statements,
)

PLACEHOLDER = "__schema__"
# Statements that belong after the data (pg_dump's post-data section).
_POST_DATA = re.compile(
    r"^(CREATE (UNIQUE )?INDEX|CREATE TRIGGER|CREATE RULE|CREATE POLICY|"
    r"ALTER TABLE (ONLY )?\S+\s+(ADD CONSTRAINT|CLUSTER ON|ENABLE ROW LEVEL|REPLICA IDENTITY)|"
    r"ALTER INDEX)",
    re.IGNORECASE,
)
_DATA = re.compile(r"^(INSERT INTO|SELECT pg_catalog\.setval|COPY )", re.IGNORECASE)


@dataclass(frozen=True)
class SchemaDDL:
    method: str  # Backup.Method: "template" or "pg_dump"
    pre_data: str
    post_data: str
    shape: str  # the live schema's shape digest
    reason: str = ""  # why pg_dump was used


def qualified_re(schema: str) -> re.Pattern[str]:
    """`schema.` or `"schema".` as a qualifier: only references into the schema, never a column
    or a string that happens to hold the same word."""
    return re.compile(rf'(?<![\w$"]){re.escape(schema)}\.|"{re.escape(schema)}"\.')


def _split(statements: list[str]) -> tuple[str, str]:
    pre: list[str] = []
    post: list[str] = []
    for statement in statements:
        head = statement.lstrip()
        if _DATA.match(head):
            continue
        (post if _POST_DATA.match(head) else pre).append(statement)
    return "\n".join(pre) + "\n", "\n".join(post) + "\n"


# --- Shape ---------------------------------------------------------------------------------------
# Each keyed on the relations' oids (indexed catalogs): none reads a catalog whose size grows
# with the number of tenants.
_SHAPE_QUERIES = {
    "columns": """
        SELECT c.relname, a.attnum::int, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull::text, a.attidentity, a.attgenerated,
               coalesce(pg_get_expr(d.adbin, d.adrelid), ''), coalesce(co.collname, '')
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 100
        WHERE a.attrelid = ANY(%(oids)s) AND c.relkind IN ('r','p','v','m','f')
          AND a.attnum > 0 AND NOT a.attisdropped""",
    "indexes": """
        SELECT c.relname, i.relname, pg_get_indexdef(x.indexrelid)
        FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = ANY(%(oids)s)""",
    "constraints": """
        SELECT c.relname, k.conname, k.contype::text, pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        WHERE k.conrelid = ANY(%(oids)s)""",
    "sequences": """
        SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmax,
               s.seqmin, s.seqcache, s.seqcycle::text,
               coalesce((SELECT t.relname || '.' || a.attname || ':' || d.deptype::text
                         FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
                         JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                           AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                         LIMIT 1), '')
        FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid WHERE s.seqrelid = ANY(%(oids)s)""",
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE t.tgrelid = ANY(%(oids)s) AND NOT t.tgisinternal""",
    "views": """
        SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c
        WHERE c.oid = ANY(%(oids)s) AND c.relkind IN ('v', 'm')""",
    # Tenants have no functions of their own; pg_proc holds the built-ins only, whatever the
    # number of tenants.
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(pg_get_functiondef(p.oid))
        FROM pg_proc p WHERE p.pronamespace = %(ns)s AND p.prokind IN ('f', 'p')""",
}


@dataclass(frozen=True)
class Relation:
    oid: int
    name: str
    kind: str  # pg_class.relkind: r table, S sequence, v view, …
    persistence: str
    row_security: bool


def relations_read(conn: psycopg.Connection[Any], schema: str) -> tuple[int, list[Relation]]:
    """The schema's namespace oid and its relations (no indexes). Found through pg_depend's
    index on the referenced object (every object in a schema depends on it: that is how DROP
    SCHEMA … CASCADE finds them), not a scan of pg_class, whose size grows with the tenants."""
    found = conn.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()
    if found is None:
        raise LookupError(f"schema {schema!r} does not exist")
    rows = conn.execute(
        "SELECT c.oid, c.relname, c.relkind::text, c.relpersistence::text, c.relrowsecurity "
        "FROM pg_depend d JOIN pg_class c ON c.oid = d.objid "
        "WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = %s "
        "AND d.classid = 'pg_class'::regclass AND c.relnamespace = d.refobjid "
        "AND c.relkind IN ('r','p','v','m','S','f') ORDER BY c.relname",
        [found[0]],
    ).fetchall()
    return int(found[0]), [Relation(int(r[0]), r[1], r[2], r[3], bool(r[4])) for r in rows]


def shape_digest(
    conn: psycopg.Connection[Any], schema: str, found: tuple[int, list[Relation]] | None = None
) -> str:
    """A digest of everything that makes the schema's DDL what it is, its own name taken out.
    The connection's search_path must be pg_catalog only, so every name comes qualified.
    `found`: relations_read's answer, when the caller has it already."""
    qualifier = qualified_re(schema)
    ns, relations = found or relations_read(conn, schema)
    shape: dict[str, list[list[str]]] = {
        "relations": [[r.name, r.kind, r.persistence, str(r.row_security)] for r in relations]
    }
    params = {"ns": ns, "oids": [r.oid for r in relations]}
    with conn.cursor() as cursor:
        for name, query in _SHAPE_QUERIES.items():
            cursor.execute(query, params)
            shape[name] = sorted(
                [qualifier.sub("S.", str(value)) for value in row] for row in cursor.fetchall()
            )
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


_template_shapes: dict[str, str] = {}


def _template_shape(
    conn: psycopg.Connection[Any], template_sql: str, pattern: re.Pattern[str]
) -> str:
    """The template's shape, measured in a scratch schema that is rolled back (once per process
    and migration state)."""
    key = migration_state_key()
    if key not in _template_shapes:
        scratch = f"bkshape_{secrets.token_hex(6)}"
        with conn.transaction(force_rollback=True), conn.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(scratch)))
            cursor.execute(pattern.sub(scratch, template_sql).encode())
            _template_shapes[key] = shape_digest(conn, scratch)
    return _template_shapes[key]


def template_ddl() -> tuple[str, str, re.Pattern[str]]:
    """The current template's SQL, its placeholder and the pattern that finds it. Builds the
    template if there is none yet (outside a transaction); TemplateUnavailable otherwise."""
    template_sql, pattern = schema_template_get()
    placeholder = (
        SchemaTemplate.objects.filter(key=migration_state_key())
        .values_list("placeholder", flat=True)
        .get()
    )
    return template_sql, placeholder, pattern


def schema_ddl(
    conn: psycopg.Connection[Any], schema: str, *, snapshot: str,
    found: tuple[int, list[Relation]] | None = None,
) -> SchemaDDL:  # fmt: skip
    """The DDL of `schema` as seen by `conn`'s transaction (whose exported snapshot is
    `snapshot`, so pg_dump, if it runs, sees the same state)."""
    live = shape_digest(conn, schema, found)
    try:
        template_sql, placeholder, pattern = template_ddl()
        expected = _template_shapes.get(migration_state_key())
        if expected is None:
            # Measured on a connection of its own: `conn` is in the backup's read-only snapshot.
            with psycopg.connect(**conn_params(conn), autocommit=True) as side:
                side.execute("SET search_path TO pg_catalog")
                expected = _template_shape(side, template_sql, pattern)
    except TemplateUnavailable as exc:
        return _pg_dump_ddl(schema, snapshot, live, f"no template: {exc}")
    if live != expected:
        return _pg_dump_ddl(schema, snapshot, live, "the schema differs from its template")
    pre, post = _split(sql_statements(pattern.sub(PLACEHOLDER, template_sql)))
    if placeholder in pre + post:
        raise RuntimeError("template placeholder left in the DDL")
    return SchemaDDL(method="template", pre_data=pre, post_data=post, shape=live)


def conn_params(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    info = conn.info
    return {
        "dbname": info.dbname, "user": info.user, "password": info.password,
        "host": info.host, "port": info.port,
    }  # fmt: skip


def _pg_dump_ddl(schema: str, snapshot: str, shape: str, reason: str) -> SchemaDDL:
    """`pg_dump -n schema --schema-only` in two sections, from the backup's own snapshot."""
    qualifier = qualified_re(schema)
    parts = []
    for section in ("pre-data", "post-data"):
        try:
            dump = pg_run(
                "pg_dump",
                ["--schema", schema, "--schema-only", f"--section={section}",
                 f"--snapshot={snapshot}", "--no-owner", "--no-privileges", "--no-comments"],
            )  # fmt: skip
        except (PgToolUnavailable, PgToolFailed) as exc:
            raise RuntimeError(f"the schema differs from its template and {exc}") from exc
        kept = []
        for statement in sql_statements(dump):
            head = statement.lstrip().upper()
            # Session settings would change the restoring connection; the schema is made by
            # the loader under its new name.
            if head.startswith(("SET ", "SELECT PG_CATALOG.SET_CONFIG", "CREATE SCHEMA")):
                continue
            kept.append(qualifier.sub(f"{PLACEHOLDER}.", statement))
        parts.append("\n".join(kept) + "\n")
    return SchemaDDL(
        method="pg_dump", pre_data=parts[0], post_data=parts[1], shape=shape, reason=reason
    )


__all__ = ["PLACEHOLDER", "SchemaDDL", "identifier_re", "qualified_re", "schema_ddl"]
