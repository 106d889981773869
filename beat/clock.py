"""Beat's "now". Tests replace `clock` to drive ticks through time zones and DST nights; every
module of beat reads the time through `now()`, which looks `clock` up at call time, so a
replaced clock is seen everywhere."""

from __future__ import annotations

import datetime as dt


def clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def now() -> dt.datetime:
    return clock()
