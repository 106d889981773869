"""The time rule of both admins (saas.timefmt writes the words): inside a tenant's admin, the
tenant's zone; on the platform, UTC; each labelled. A relative time carries the exact one in
its title (shown on hover), and an exact one carries the relative one."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from saas.timefmt import PLATFORM_ZONE, ago_text, time_parse, time_text
from tenants.context import connection_tenant

NOTHING = "—"


def zone_current() -> str:
    """The zone of the admin being shown: the request runs inside its tenant's schema."""
    tenant = connection_tenant()
    if tenant is None or tenant.schema_name == settings.PUBLIC_SCHEMA_NAME:
        return PLATFORM_ZONE
    return str(getattr(tenant, "timezone", PLATFORM_ZONE))


def time_html(
    value: dt.datetime | str | None, *, seconds: bool = True, zone: str | None = None
) -> SafeString | str:
    """The exact time, labelled, with the relative one on hover; "—" for none."""
    return _time_tag(value, seconds=seconds, zone=zone, relative_first=False)


def ago_html(
    value: dt.datetime | str | None, *, seconds: bool = True, zone: str | None = None
) -> SafeString | str:
    """ "3 min ago", with the exact time, labelled, on hover; "—" for none."""
    return _time_tag(value, seconds=seconds, zone=zone, relative_first=True)


def _time_tag(
    value: dt.datetime | str | None, *, seconds: bool, zone: str | None, relative_first: bool
) -> SafeString | str:
    when = time_parse(value)
    if when is None:
        return NOTHING
    exact = time_text(when, zone or zone_current(), seconds=seconds)
    relative = ago_text(when, timezone.now())
    shown, hover = (relative, exact) if relative_first else (exact, relative)
    return format_html('<time datetime="{}" title="{}">{}</time>', when.isoformat(), hover, shown)
