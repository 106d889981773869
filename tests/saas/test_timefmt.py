"""The one way a time is written (saas.timefmt): on one clock, labelled, seconds for jobs,
relative times in the largest whole unit."""

from __future__ import annotations

import datetime as dt

from saas.timefmt import ago_text, time_parse, time_text

WHEN = dt.datetime(2026, 1, 14, 13, 3, 12, tzinfo=dt.UTC)


def test_it_writes_the_time_on_the_zones_clock_with_its_label() -> None:
    assert time_text(WHEN, "UTC") == "2026-01-14 13:03:12 UTC"
    assert time_text(WHEN, "Europe/Paris") == "2026-01-14 14:03:12 CET"
    assert time_text(WHEN, "Europe/Paris", seconds=False) == "2026-01-14 14:03 CET"


def test_a_zone_whose_abbreviation_is_an_offset_is_named() -> None:
    assert time_text(WHEN, "Europe/Istanbul") == "2026-01-14 16:03:12 Europe/Istanbul"


def test_relative_times_use_the_largest_whole_unit() -> None:
    assert ago_text(WHEN, WHEN + dt.timedelta(seconds=2)) == "just now"
    assert ago_text(WHEN, WHEN + dt.timedelta(seconds=42)) == "42 s ago"
    assert ago_text(WHEN, WHEN + dt.timedelta(minutes=3, seconds=20)) == "3 min ago"
    assert ago_text(WHEN, WHEN + dt.timedelta(hours=5)) == "5 h ago"
    assert ago_text(WHEN, WHEN + dt.timedelta(days=1, hours=2)) == "1 day ago"
    assert ago_text(WHEN, WHEN - dt.timedelta(minutes=10)) == "in 10 min"


def test_iso_strings_are_read_and_nonsense_is_none() -> None:
    assert time_parse("2026-01-14T13:03:12.5+00:00") == WHEN.replace(microsecond=500000)
    assert time_parse("2026-01-14T13:03:12") == WHEN  # naive: UTC
    assert time_parse("yesterday") is None and time_parse(None) is None and time_parse("") is None
