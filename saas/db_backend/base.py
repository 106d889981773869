"""django-tenants' PostgreSQL backend, with the schema switch folded into the health check.

With CONN_HEALTH_CHECKS, Django checks a reused connection with `SELECT 1` before the first
query of every request and every Celery task. django-tenants then sends `SET search_path` as a
second round trip whenever the schema changed. Here the health check *is* that `SET` when one is
pending: it proves the connection works just as well, and a tenant task or request costs no
round trip more than a plain one (measured in bench/task_overhead.py).
"""

from __future__ import annotations

from typing import Any

from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper
from django_tenants.utils import quote_schema_name
from psycopg import Cursor

# Set in Celery worker processes (jobs.apps, on worker start): their connections commit with
# `synchronous_commit = off` (JOBS_WORKER_SYNCHRONOUS_COMMIT). Why that is safe, and what it
# buys: docs/architecture.md, "Delivery".
worker_commit_mode: str | None = None


class DatabaseWrapper(TenantDatabaseWrapper):
    search_path_set_schemas: list[str] | None

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        if worker_commit_mode is not None:
            # A connection option, so it costs no round trip (SET per statement cost more
            # than the flushes it saved).
            options = params.get("options", "")
            params["options"] = f"{options} -c synchronous_commit={worker_commit_mode}".strip()
        return params

    def execute_raw(
        self, sql: str, params: list[Any], *, prepare: bool, carry_search_path: bool
    ) -> int:
        """Run one statement on the open connection, server-side bound (so it can be prepared),
        and return its row count; its table must be named with its schema. With
        `carry_search_path`, a `SET search_path` still pending (a tenant task just switched)
        goes in the same round trip, as a pipeline; without, it stays pending for the next ORM
        query. Having proved the connection works, the statement stands for this unit of work's
        health check. Raises psycopg's errors: the caller wraps them (a lost connection is
        retried by jobs.bookkeeping)."""
        assert self.connection is not None
        paths = None
        if (
            carry_search_path
            and self.search_path_set_schemas is None
            and self.schema_name
            and not self._setting_search_path
        ):
            paths = self._get_cursor_search_paths()  # validates every name
        cursor = Cursor(self.connection)
        try:
            if paths is None:
                cursor.execute(sql, params, prepare=prepare)
            else:
                with self.connection.pipeline():
                    self.connection.execute(
                        "SET search_path = " + ",".join(quote_schema_name(p) for p in paths)
                    )
                    cursor.execute(sql, params, prepare=prepare)
                self.search_path_set_schemas = paths
            self.health_check_done = True
            return cursor.rowcount
        finally:
            cursor.close()

    def is_usable(self) -> bool:
        if self.connection is None:
            return False
        if (
            self.search_path_set_schemas is not None
            or not self.schema_name
            or self._setting_search_path
        ):
            return super().is_usable()
        paths = self._get_cursor_search_paths()  # validates every name
        try:
            self.connection.execute(
                "SET search_path = " + ",".join(quote_schema_name(p) for p in paths)
            )
        except self.Database.Error:
            return False
        self.search_path_set_schemas = paths
        return True
