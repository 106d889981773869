"""The time-zone picker: canonical IANA zones only, grouped by region, with a filter box.

`zoneinfo.available_timezones()` also lists pseudo-zones (`Factory`, `localtime`,
`posixrules`), `Etc/*` offsets and legacy aliases (`US/Eastern`, `GMT+0`, `Japan`). The zones
people choose from are those of IANA's `zone.tab`: one or more per country, named
Region/City (Europe/Oslo included, though tzdata now links it to Europe/Berlin), plus UTC.
"""

from __future__ import annotations

import functools
import importlib.resources
import zoneinfo
from pathlib import Path
from typing import Any

from django import forms
from unfold.widgets import INPUT_CLASSES as THEME_INPUT_CLASSES

UTC = "UTC"
SYSTEM_ZONE_TAB = Path("/usr/share/zoneinfo/zone.tab")


def _zone_tab() -> str:
    # The tzdata package (a locked dependency) first: the same data as zoneinfo reads.
    try:
        return importlib.resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        return SYSTEM_ZONE_TAB.read_text() if SYSTEM_ZONE_TAB.exists() else ""


@functools.cache
def timezones_canonical() -> tuple[str, ...]:
    """UTC and every zone of zone.tab that zoneinfo knows, sorted."""
    known = zoneinfo.available_timezones()
    names = {
        line.split("\t")[2]
        for line in _zone_tab().splitlines()
        if line and not line.startswith("#") and len(line.split("\t")) >= 3
    }
    if not names:  # no zone.tab anywhere: Region/City names only
        names = {n for n in known if "/" in n and n.split("/")[0] not in ("Etc", "SystemV")
                 and n[0].isupper() and not n.split("/")[0].isupper()}  # fmt: skip
    return (UTC, *sorted(names & known))


def timezone_choices(current: str | None = None) -> list[tuple[str, Any]]:
    """Grouped for <optgroup>: UTC, then one group per region (Africa, America, …); a current
    value outside the list (a legacy name stored earlier) is kept under "Other"."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in timezones_canonical()[1:]:
        region, _, place = name.partition("/")
        groups.setdefault(region, []).append((name, place.replace("_", " ")))
    choices: list[tuple[str, Any]] = [(UTC, UTC)]
    choices += [(region, groups[region]) for region in sorted(groups)]
    if current and current not in timezones_canonical():
        choices.append(("Other", [(current, current)]))
    return choices


INPUT_CLASSES = " ".join(THEME_INPUT_CLASSES)


class TimezonePicker(forms.Select):
    """A grouped select (works as it is without JavaScript) that tenants/tzpicker.js gives a
    filter box."""

    class Media:
        js = ["tenants/tzpicker.js"]

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        # The admin theme's input classes (harmless elsewhere); the filter box copies them.
        super().__init__({"data-tz-picker": "1", "class": INPUT_CLASSES, **(attrs or {})})


class TimezoneField(forms.ChoiceField):
    widget = TimezonePicker

    def __init__(self, *, current: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "Type part of a city or region to filter the list.")
        super().__init__(choices=timezone_choices(current), **kwargs)

    def keep(self, current: str | None) -> None:
        """Offer `current` too (an instance's stored zone outside the list)."""
        self.choices = timezone_choices(current)
