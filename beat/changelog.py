"""The schedule change log: how a change in one schema reaches beat.

`schedules_changed()` is the one function that writes the log; every path that changes a
schedule calls it (the receivers of django-celery-beat's model signals, a tenant's status
change, beat disabling an expired entry). Beat reads the log once per tick through
`ChangeFloor`, a pure state machine (no database: tests drive it with plain ids and times).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.utils import timezone

from beat.models import ScheduleChange

# How long beat waits for a change-log row whose id was taken by a transaction not yet committed.
CHANGE_WINDOW = dt.timedelta(minutes=5)


def schedules_changed(schema_name: str) -> None:
    """Tell beat that a schema's schedules changed: it reloads that schema on its next tick.
    ScheduleChange lives in public only, so the row lands there whatever the search path; it
    is written in the caller's transaction, so a rolled-back change tells beat nothing."""
    ScheduleChange.objects.create(schema_name=schema_name)


def schedule_changes_prune(*, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Delete change-log rows beat no longer reads (it reads ids above its floor, which trails
    the newest rows by minutes at most; a restarting beat loads everything anyway)."""
    deleted, _ = ScheduleChange.objects.filter(at__lt=timezone.now() - older_than).delete()
    return deleted


class ChangeFloor:
    """Which change-log ids beat has applied.

    Each tick reads the ids above `floor`: the highest id below which every id has been seen.
    An id is taken at insert but visible at commit, so a change made in a long transaction (a
    tenant's provisioning) can appear after higher ids. A missing id holds the floor (its
    successors are re-read, and skipped once seen) until it appears or `window_s` has passed
    (a rolled-back insert never appears). Times are monotonic seconds, passed in.
    """

    def __init__(self, window_s: float = CHANGE_WINDOW.total_seconds()) -> None:
        self.window_s = window_s
        self.floor = 0
        self.seen: set[int] = set()  # ids above the floor already applied
        self.gaps: dict[int, float] = {}  # missing id -> when first noticed

    def start(self, recent: Iterable[int], latest: int | None, now: float) -> None:
        """Before a full load: the ids of the last window (`recent`) are covered by the load;
        missing ones among them may still commit, so the floor starts below them."""
        recent = set(recent)
        self.floor = min(recent) - 1 if recent else (latest or 0)
        self.seen = recent
        self.gaps = {}
        self.advance(now)

    def apply(self, rows: Iterable[tuple[int, str]], now: float) -> list[str]:
        """Rows read above the floor: the schemas of those not applied yet, in id order."""
        rows = list(rows)
        schemas = [schema for pk, schema in rows if pk not in self.seen]
        if rows:
            self.seen.update(pk for pk, _ in rows)
            self.advance(now)
        return schemas

    def advance(self, now: float) -> None:
        top = max(self.seen, default=self.floor)
        following = self.floor + 1
        while following <= top:
            if following in self.seen:
                self.seen.discard(following)
                self.gaps.pop(following, None)  # a late commit: no longer missing
            elif now - self.gaps.setdefault(following, now) <= self.window_s:
                break  # may still commit: hold the floor here
            else:
                del self.gaps[following]  # rolled back (or older than the window): give up
            self.floor = following
            following += 1
        for pk in range(following, top + 1):
            if pk not in self.seen:
                self.gaps.setdefault(pk, now)
