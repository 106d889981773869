"""Reads: the session-age policy in force, and which sessions count as active."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from tenants.context import connection_schema, connection_tenant
from tenants.models import Tenant
from usersessions.models import Session


def _days(days: int | None) -> timedelta | None:
    return timedelta(days=days) if days else None


def session_max_age(*, schema_name: str) -> timedelta | None:
    """The maximum absolute session age in a schema (None: no limit beyond normal expiry):
    the tenant's policy, or STAFF_SESSION_MAX_AGE_DAYS for the public schema. Read from the
    tenant row, so a job sees a change made a second ago."""
    if schema_name == settings.PUBLIC_SCHEMA_NAME:
        return _days(settings.STAFF_SESSION_MAX_AGE_DAYS)
    days = (
        Tenant.objects.filter(schema_name=schema_name)
        .values_list("session_max_age_days", flat=True)
        .first()
    )
    return _days(days)


def session_max_age_current() -> timedelta | None:
    """The policy for the schema the connection is in, without a query: in a request,
    `connection_tenant()` is the Tenant row the tenant middleware just loaded. Outside a request
    (a `schema_context`, where the tenant is a stand-in without the field) there is no limit;
    the cleanup job enforces the policy there."""
    if connection_schema() == settings.PUBLIC_SCHEMA_NAME:
        return _days(settings.STAFF_SESSION_MAX_AGE_DAYS)
    return _days(getattr(connection_tenant(), "session_max_age_days", None))


def session_active_q(*, now: datetime, max_age: timedelta | None) -> Q:
    """Sessions a request would accept: not expired and, under a policy, young enough."""
    active = Q(expire_date__gt=now)
    if max_age is not None:
        active &= Q(created_at__gt=now - max_age)
    return active


def session_counts(*, max_age: timedelta | None) -> dict[str, int]:
    """Active sessions, and those past expiry or the policy that cleanup has not deleted yet,
    in the connection's schema. One query."""
    active = session_active_q(now=timezone.now(), max_age=max_age)
    return Session.objects.aggregate(
        active=Count("pk", filter=active), expired=Count("pk", filter=~active)
    )


def user_sessions_active(*, user_id: int, max_age: timedelta | None) -> QuerySet[Session]:
    """A user's active sessions in the connection's schema, newest first."""
    active = session_active_q(now=timezone.now(), max_age=max_age)
    return Session.objects.filter(active, user_id=user_id).order_by("-created_at")
