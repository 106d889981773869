"""Helpers shared by the real-worker tests (not tests themselves)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client

from accounts.models import User
from backoffice.models import JobRun
from tests.conftest import PASSWORD

WAIT = 20


def markers_everywhere() -> dict[str, int]:
    """How many marker rows (IntervalSchedule, period "days") each schema holds."""
    counts = {}
    with connection.cursor() as cursor:
        for schema in ("public", "acme", "globex"):
            cursor.execute(
                f"SELECT count(*) FROM {schema}.django_celery_beat_intervalschedule "
                "WHERE period='days'"
            )
            counts[schema] = cursor.fetchone()[0]
    return counts


def wait_for_state(task_id: str, *states: str) -> JobRun:
    deadline = time.monotonic() + WAIT
    run = None
    while time.monotonic() < deadline:
        run = JobRun.objects.filter(task_id=task_id).first()
        if run is not None and run.state in states:
            return run
        time.sleep(0.05)
    detail = run and (run.state, run.error_type, run.error_message)
    raise AssertionError(f"JobRun {task_id} never reached {states}: {detail}")


# --- Sessions ------------------------------------------------------------------------------------
def session_make(
    schema: str,
    user: Any = None,
    *,
    age: timedelta = timedelta(0),
    expires_in: timedelta = timedelta(days=1),
    user_agent: str = "test-agent",
    ip: str = "203.0.113.9",
) -> str:
    """A session in `schema`, made through the real store: signed in as `user` (a cookie with
    this key is signed in on that schema's domain), created `age` ago, expiring `expires_in`
    from now (negative: expired). Returns its key."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from usersessions.engine import SessionStore
    from usersessions.models import Session

    with schema_context(schema):
        store = SessionStore()
        store.client_ip, store.user_agent = ip, user_agent
        if user is not None:
            store[SESSION_KEY] = str(user.pk)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        else:
            store["visits"] = 1
        store.create()
        now = timezone.now()
        Session.objects.filter(pk=store.session_key).update(
            created_at=now - age, expire_date=now + expires_in
        )
    return store.session_key


def session_keys(schema: str, **filters: Any) -> set[str]:
    from django_tenants.utils import schema_context

    from usersessions.models import Session

    with schema_context(schema):
        return set(Session.objects.filter(**filters).values_list("session_key", flat=True))


def staff_client(username: str, group: str) -> Client:
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client
