"""How a time is written, everywhere people read one: one rule, no Django, no tenant.

- a time is shown on one clock, labelled: "2026-03-14 14:03:12 CET" (the zone's abbreviation,
  or its name where the abbreviation is only an offset such as "+03");
- job times carry seconds; schedule times (whole minutes) may leave them out;
- a relative time ("3 min ago", "in 2 h") goes with the exact time, which the page shows on
  hover (backoffice.times writes the HTML).

Which clock is the caller's choice: backoffice.times picks the tenant's zone inside a tenant and
UTC on the platform.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

PLATFORM_ZONE = "UTC"


def time_parse(value: dt.datetime | str | None) -> dt.datetime | None:
    """A datetime, or one written as ISO 8601 (heartbeats, attempts stored as JSON); None for
    nothing or what is not a time. A naive time is taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def zone_label(when: dt.datetime) -> str:
    """ "CET", "UTC"; the zone's name where its abbreviation is a bare offset ("+03")."""
    label = when.tzname() or ""
    if label.isalpha():
        return label
    return str(getattr(when.tzinfo, "key", None) or label)


def time_text(when: dt.datetime, zone: str, *, seconds: bool = True) -> str:
    """The exact time on `zone`'s clock, labelled."""
    local = when.astimezone(zoneinfo.ZoneInfo(zone))
    clock = f"{local:%Y-%m-%d %H:%M:%S}" if seconds else f"{local:%Y-%m-%d %H:%M}"
    return f"{clock} {zone_label(local)}"


def ago_text(when: dt.datetime, now: dt.datetime) -> str:
    """ "just now", "3 min ago", "in 2 h", "5 days ago": the largest whole unit."""
    delta = (now - when).total_seconds()
    future, span = delta < 0, abs(delta)
    if span < 5:
        return "just now"
    for size, unit in ((86400, "days"), (3600, "h"), (60, "min"), (1, "s")):
        if span >= size:
            count = int(span // size)
            words = f"{count} {'day' if unit == 'days' and count == 1 else unit}"
            return f"in {words}" if future else f"{words} ago"
    return "just now"  # not reached
