"""Counting what a piece of code sends to PostgreSQL and Redis, for bench/beat_scale.py.

SQL: every statement this process sends, on every connection, counted where psycopg executes
it (`Cursor.execute` / `executemany`). That includes what Django's cursor wrappers never see:
the `CONN_HEALTH_CHECKS` probe (`SELECT 1`, or saas/db_backend's `SET search_path`) that runs
on a raw psycopg cursor. Django's `execute_wrapper` count is kept alongside as a cross-check.

Redis: the server's own counters (`INFO stats commandstats`, one INFO before and one after a
window; the first INFO is itself counted by the second, which the calibration confirms) and,
as a cross-check and to spot other clients' traffic on the shared server, the commands this
process sent (redis-py's `send_command` / `pack_commands`).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any


def _kind(sql: str) -> str:
    """A short label for a statement, for the breakdown printed once per scheduler."""
    text = " ".join(sql.split())
    if text.upper().startswith("SET SEARCH_PATH"):
        return "SET search_path"
    if text.upper() == "SELECT 1":
        return "SELECT 1 (health check)"
    tables = re.findall(r'FROM "?([a-z_]+)"?', text)
    verb = text.split(" ", 1)[0].upper()
    return f"{verb} {tables[0] if tables else '?'}"


class SqlCounter:
    def __init__(self) -> None:
        self.active = False
        self.driver = 0
        self.django = 0
        self.kinds: Counter[str] = Counter()
        self._stack = ExitStack()

    def install(self) -> None:
        import psycopg
        from django.db import connections

        counter = self
        execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

        def counted_execute(cur: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            if counter.active:
                counter.driver += 1
                counter.kinds[_kind(query if isinstance(query, str) else str(query))] += 1
            return execute(cur, query, *args, **kwargs)

        def counted_executemany(cur: Any, query: Any, params_seq: Any, **kwargs: Any) -> Any:
            params_seq = list(params_seq)
            if counter.active:
                counter.driver += len(params_seq)
            return executemany(cur, query, params_seq, **kwargs)

        # Monkeypatching: the wrappers take Any where psycopg's (overloaded) methods are precise.
        psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign,assignment]
        psycopg.Cursor.executemany = counted_executemany  # type: ignore[method-assign,assignment]

        def wrapper(
            run: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
        ) -> Any:
            if counter.active:
                counter.django += len(params) if many else 1
            return run(sql, params, many, context)

        for conn in connections.all():
            self._stack.enter_context(conn.execute_wrapper(wrapper))

    def close(self) -> None:
        self._stack.close()

    def reset(self) -> None:
        self.driver = self.django = 0
        self.kinds.clear()


@dataclass
class RedisSnapshot:
    total: int
    calls: dict[str, int]


@dataclass
class RedisDelta:
    """One window: what the server counted (INFO excluded) and what this process sent."""

    server_total: int
    server_calls: dict[str, int]
    sent: int
    sent_names: Counter[str] = field(default_factory=Counter)


class RedisCounter:
    # The INFO that opens a window is counted by the server before the INFO that closes it.
    INFO_OVERHEAD = 1

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.active = False
        self.sent = 0
        self.sent_names: Counter[str] = Counter()

    def install(self) -> None:
        from redis.connection import AbstractConnection

        counter = self
        send_command, pack_commands = (
            AbstractConnection.send_command,
            AbstractConnection.pack_commands,
        )

        def counted_send(conn: Any, *args: Any, **kwargs: Any) -> Any:
            if counter.active:
                counter.sent += 1
                counter.sent_names[str(args[0]).lower()] += 1
            return send_command(conn, *args, **kwargs)

        def counted_pack(conn: Any, commands: Any) -> Any:
            commands = list(commands)
            if counter.active:
                counter.sent += len(commands)
                for command in commands:
                    counter.sent_names[str(command[0]).lower()] += 1
            return pack_commands(conn, commands)

        AbstractConnection.send_command = counted_send  # type: ignore[method-assign,assignment]
        AbstractConnection.pack_commands = counted_pack  # type: ignore[method-assign]

    def snapshot(self) -> RedisSnapshot:
        info = self.client.info("stats", "commandstats")
        calls = {
            key.removeprefix("cmdstat_"): int(value["calls"])
            for key, value in info.items()
            if key.startswith("cmdstat_")
        }
        return RedisSnapshot(total=int(info["total_commands_processed"]), calls=calls)

    @staticmethod
    def delta(
        before: RedisSnapshot, after: RedisSnapshot, sent: int, names: Counter[str]
    ) -> RedisDelta:
        calls = {
            name: after.calls.get(name, 0) - before.calls.get(name, 0)
            for name in set(after.calls) | set(before.calls)
        }
        calls["info"] = calls.get("info", 0) - RedisCounter.INFO_OVERHEAD
        calls = {name: n for name, n in calls.items() if n}
        total = after.total - before.total - RedisCounter.INFO_OVERHEAD
        return RedisDelta(server_total=total, server_calls=calls, sent=sent, sent_names=names)


@dataclass
class Window:
    seconds: float
    sql: int
    sql_django: int
    sql_kinds: Counter[str]
    redis: RedisDelta


@contextmanager
def _active(sql: SqlCounter, rc: RedisCounter) -> Iterator[None]:
    sql.reset()
    rc.sent = 0
    rc.sent_names = Counter()
    sql.active = rc.active = True
    try:
        yield
    finally:
        sql.active = rc.active = False


def measure(fn: Callable[[], Any], sql: SqlCounter, rc: RedisCounter) -> Window:
    """Run fn once, counting its SQL statements and Redis commands and timing it."""
    before = rc.snapshot()
    with _active(sql, rc):
        started = time.perf_counter()
        fn()
        seconds = time.perf_counter() - started
    after = rc.snapshot()
    return Window(
        seconds=seconds,
        sql=sql.driver,
        sql_django=sql.django,
        sql_kinds=Counter(sql.kinds),
        redis=RedisCounter.delta(before, after, rc.sent, Counter(rc.sent_names)),
    )
