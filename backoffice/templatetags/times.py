"""{% load times %}: {{ value|when }} (exact, labelled, relative on hover) and {{ value|ago }}
(relative, exact on hover), by the rule of backoffice.times. Values may be datetimes or ISO
strings (heartbeats, attempts kept as JSON)."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.safestring import SafeString

from backoffice.times import ago_html, time_html

register = template.Library()


@register.filter
def when(value: dt.datetime | str | None) -> SafeString | str:
    return time_html(value)


@register.filter
def ago(value: dt.datetime | str | None) -> SafeString | str:
    return ago_html(value)
