"""A throwaway database per benchmark, on the same server as the development database."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper

ROOT = Path(__file__).resolve().parent.parent


def _server_execute(statement: sql.Composed) -> None:
    base = urlsplit(os.environ["DATABASE_URL"])
    with psycopg.connect(
        host=base.hostname, port=base.port or 5432, user=base.username or "postgres",
        password=base.password or None, dbname="postgres", autocommit=True,
    ) as conn:  # fmt: skip
        conn.execute(statement)


def bench_database_create(name: str) -> str:
    """Create (or recreate) database `name` and point DATABASE_URL at it; returns the URL."""
    sys.path.insert(0, str(ROOT))
    from saas.env import load_dotenv

    load_dotenv(ROOT / ".dev" / "env")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/saas")
    bench_database_drop(name)
    _server_execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}").geturl()
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings")
    return url


def bench_database_drop(name: str) -> None:
    _server_execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def pg_major() -> int:
    """The major version of the PostgreSQL server Django's default connection talks to (its
    backend, django-tenants', is a PostgreSQL DatabaseWrapper)."""
    from django.db import connection

    return cast("PostgresDatabaseWrapper", connection).pg_version // 10000
