"""Deleting many sessions without long statements: the batching behind `sessions_cleanup` and
`sessions_end_all` (usersessions/services.py).

Two ways through a table, each statement a short transaction of its own (in autocommit; inside
a caller's `atomic()` they join it):
- key batches: `DELETE … WHERE ctid = ANY(ARRAY(SELECT ctid … WHERE <condition> LIMIT n
  FOR UPDATE SKIP LOCKED))`, driven by an index on the condition's column. Cheap while the
  backlog is small, which is the daily case; rows a request is saving right now are skipped.
- a block sweep: `DELETE … WHERE ctid >= '(lo,0)' AND ctid < '(hi,0)' AND <condition>`, a TID
  range scan (PostgreSQL 14+) over a slice of the heap. Reading the table in order, it costs
  about what one unbounded DELETE costs, but in slices; each slice is sized from the previous
  one's time so a statement stays near `Batching.target_statement_s` on any machine.
Key batches come first; once they have deleted more rows than an eighth of the table's pages
(a large backlog, where a row-by-row path through the index costs more than reading the heap),
the rest is swept. bench/sessions.py measures this against Django's one-statement DELETE.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

from jobs.api import Progress
from usersessions.models import Session


@dataclass(frozen=True)
class Batching:
    key_batch: int = 5_000
    #: Switch from key batches to a sweep after this many rows (None: an eighth of the pages).
    sweep_after_rows: int | None = None
    first_blocks: int = 256
    min_blocks: int = 16
    max_blocks: int = 65_536
    target_statement_s: float = 0.2


DEFAULT_BATCHING = Batching()


@dataclass
class DeleteStats:
    deleted: int = 0
    statements: int = 0
    max_statement_s: float = 0.0
    swept: bool = False


def session_table(schema_name: str) -> str:
    """The session table of a schema, schema-qualified: these statements never depend on the
    connection's search path."""
    quote = connection.ops.quote_name
    return f"{quote(schema_name)}.{quote(Session._meta.db_table)}"


class BatchedDelete:
    """Deletes the rows of one schema's session table that match `condition` (SQL over the
    table's columns, with %s parameters)."""

    def __init__(
        self,
        *,
        schema_name: str,
        condition: str,
        params: Sequence[Any],
        batching: Batching,
        progress: Progress | None = None,
    ) -> None:
        self.table = session_table(schema_name)
        self.condition = condition
        self.params = list(params)
        self.batching = batching
        self.progress = progress
        self.stats = DeleteStats()
        self._last_elapsed = 0.0

    def run(self) -> DeleteStats:
        pages = self._pages()
        threshold = self.batching.sweep_after_rows
        if threshold is None:
            threshold = max(self.batching.key_batch, pages // 8)
        if not self._by_keys(threshold):
            self.stats.swept = True
            self._by_blocks(pages)
        return self.stats

    def _execute(self, sql: str, params: Sequence[Any]) -> int:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            count = cursor.rowcount
        elapsed = time.perf_counter() - started
        self.stats.statements += 1
        self.stats.deleted += count
        self.stats.max_statement_s = max(self.stats.max_statement_s, elapsed)
        self._last_elapsed = elapsed
        return count

    def _pages(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int",
                [self.table],
            )
            return int(cursor.fetchone()[0])

    def _report(self, done: int, total: int | None) -> None:
        """Key batches report no total (the message says the count); the sweep reports pages
        of the table."""
        if self.progress is None:
            return
        deleted = self.stats.deleted
        if total is None:
            self.progress(done, None, f"{deleted} sessions deleted" if deleted else
                          "No expired sessions")  # fmt: skip
        else:
            self.progress(done, total, f"pages of the table swept, {deleted} sessions deleted")

    def _by_keys(self, threshold: int) -> bool:
        """Key batches until one comes back short (done: True) or `threshold` rows have gone
        (a large backlog: False, sweep the rest)."""
        size = self.batching.key_batch
        # The condition again outside: a row updated after it was picked (a session extended)
        # is deleted only if it still matches.
        sql = (
            f"DELETE FROM {self.table} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {self.table} WHERE ({self.condition}) "
            f"LIMIT %s FOR UPDATE SKIP LOCKED)) AND ({self.condition})"
        )
        deleted = 0
        while True:
            count = self._execute(sql, [*self.params, size, *self.params])
            deleted += count
            self._report(deleted, None)
            if count < size:
                return True
            if deleted >= threshold:
                return False

    def _by_blocks(self, pages: int) -> None:
        """One pass over the heap as it was when the sweep started (rows added since are new,
        not candidates), in slices sized to take about `target_statement_s` each."""
        b = self.batching
        sql = (
            f"DELETE FROM {self.table} WHERE ctid >= %s::tid AND ctid < %s::tid "
            f"AND ({self.condition})"
        )
        blocks, low = b.first_blocks, 0
        while low < pages:
            high = min(low + blocks, pages)
            self._execute(sql, [f"({low},0)", f"({high},0)", *self.params])
            low = high
            self._report(low, pages)
            # Aim the next slice at the target time; grow at most twofold per step.
            scale = min(2.0, b.target_statement_s / max(self._last_elapsed, 1e-4))
            blocks = int(min(b.max_blocks, max(b.min_blocks, blocks * scale)))
