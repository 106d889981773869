"""Rows every new tenant starts with, written inside its schema during provisioning.

Each maker is idempotent (creates only what is missing) so the same list re-applies defaults to
existing tenants without overwriting a staff edit.
"""

from __future__ import annotations

from collections.abc import Callable

from django_celery_beat.models import CrontabSchedule

from tenants.models import Tenant

DefaultMaker = Callable[[Tenant], None]


def nightly_crontab_ensure(tenant: Tenant) -> None:
    # The maintenance window that per-tenant jobs (session expiry, backups) are scheduled in,
    # expressed in the tenant's own time zone.
    CrontabSchedule.objects.get_or_create(
        minute="0", hour="3", day_of_week="*", day_of_month="*", month_of_year="*",
        timezone=tenant.timezone,
    )  # fmt: skip


TENANT_DEFAULTS: list[DefaultMaker] = [nightly_crontab_ensure]
