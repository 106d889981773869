"""The tenant-scoped admin (/admin/t/<slug>/) reads and writes one tenant's schema only.

Covers the traps in docs/architecture.md: lazy querysets rendered after the view, the staff
user and permissions resolved in public, the audit trail in public with the tenant named,
ContentType ids, and the staff session staying in public.
"""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_tenants.utils import schema_context

from accounts.models import User
from backoffice.models import AuditEntry
from tenants.context import connection_schema
from tenants.models import Tenant
from tests.helpers import host_client

pytestmark = pytest.mark.django_db


def _task(schema: str, name: str) -> PeriodicTask:
    with schema_context(schema):
        every = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
        return PeriodicTask.objects.create(name=name, task="demo.task", interval=every)


def _task_names(schema: str) -> set[str]:
    with schema_context(schema):
        return set(PeriodicTask.objects.values_list("name", flat=True))


def test_the_changelist_shows_only_that_tenants_rows(operator_client: Client) -> None:
    _task("acme", "acme-nightly")
    _task("globex", "globex-nightly")
    _task("public", "platform-prune")

    body = operator_client.get("/admin/t/acme/django_celery_beat/periodictask/").content.decode()
    # The changelist is a TemplateResponse: it renders after the view returned, so these rows
    # prove the rendering happened inside acme's schema.
    assert "acme-nightly" in body
    assert "globex-nightly" not in body and "platform-prune" not in body
    assert "Acting inside tenant" in body and "Acme Corp" in body


def test_an_object_of_another_tenant_is_not_reachable_by_id(operator_client: Client) -> None:
    # The same id in both schemas: acme's admin must show acme's row under it, never globex's.
    shared_id = 900_001
    for schema, name in (("globex", "globex-secret"), ("acme", "acme-own")):
        with schema_context(schema):
            every = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
            PeriodicTask.objects.create(pk=shared_id, name=name, task="demo.task", interval=every)
    response = operator_client.get(
        f"/admin/t/acme/django_celery_beat/periodictask/{shared_id}/change/"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'value="acme-own"' in body
    assert "globex-secret" not in body

    # An id only globex has: acme's admin answers "does not exist" and stays in acme.
    only_theirs = _task("globex", "globex-only")
    with schema_context("acme"):
        assert not PeriodicTask.objects.filter(pk=only_theirs.pk).exists()
    response = operator_client.get(
        f"/admin/t/acme/django_celery_beat/periodictask/{only_theirs.pk}/change/", follow=True
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert response.redirect_chain[-1][0].startswith("/admin/t/acme/")
    assert "doesn’t exist" in body and "globex-only" not in body


def test_a_write_lands_in_that_tenant_only(operator_client: Client, operator: User) -> None:
    before = {s: _task_names(s) for s in ("globex", "public")}
    with schema_context("acme"):
        every = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    response = operator_client.post(
        "/admin/t/acme/django_celery_beat/periodictask/add/",
        {
            "name": "acme-report", "task": "tenants.tasks.tenant_tables_count_task", "enabled": "on",
            "interval": every.pk, "args": "[]", "kwargs": "{}", "description": "",
            "priority": "", "queue": "", "exchange": "", "routing_key": "", "headers": "{}",
            "expire_seconds": "", "start_time_0": "", "start_time_1": "",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"].startswith("/admin/t/acme/")
    assert "acme-report" in _task_names("acme")
    assert {s: _task_names(s) for s in ("globex", "public")} == before

    entry = AuditEntry.objects.get(action="add", object_repr__startswith="acme-report")
    assert (entry.tenant.slug, entry.actor) == ("acme", operator)  # type: ignore[union-attr]


def test_viewer_looks_but_cannot_write(viewer_client: Client, viewer: User) -> None:
    task = _task("acme", "acme-readonly")
    page = viewer_client.get(f"/admin/t/acme/django_celery_beat/periodictask/{task.pk}/change/")
    assert page.status_code == 200 and "acme-readonly" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()

    response = viewer_client.post(
        f"/admin/t/acme/django_celery_beat/periodictask/{task.pk}/change/", {"name": "pwned"}
    )
    assert response.status_code == 403
    assert _task_names("acme") >= {"acme-readonly"} and "pwned" not in _task_names("acme")
    denied = AuditEntry.objects.get(action="denied", actor=viewer)
    assert denied.tenant_slug == "acme" and denied.detail["method"] == "POST"


def test_entering_a_tenant_admin_is_audited_once_per_switch(operator_client: Client) -> None:
    operator_client.get("/admin/t/acme/")
    operator_client.get("/admin/t/acme/django_celery_beat/")
    operator_client.get("/admin/t/globex/")
    entries = list(AuditEntry.objects.filter(action="tenant_admin.enter").order_by("id"))
    assert [e.tenant_slug for e in entries] == ["acme", "globex"]


def test_the_staff_session_stays_in_public(operator_client: Client) -> None:
    operator_client.get("/admin/t/acme/")
    key = operator_client.cookies["sessionid"].value
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM acme.usersessions_session")
        assert cursor.fetchone() == (0,)
        cursor.execute(
            "SELECT count(*) FROM public.usersessions_session WHERE session_key = %s", [key]
        )
        assert cursor.fetchone() == (1,)
    # Still signed in after a round-trip through the tenant scope.
    assert operator_client.get("/admin/").status_code == 200


def test_content_types_are_one_id_space(operator_client: Client) -> None:
    # Only public has django_content_type: a tenant schema cannot shadow it with other ids,
    # so the per-process ContentType cache is right whichever schema filled it.
    public_id = ContentType.objects.get_for_model(PeriodicTask).pk
    with schema_context("acme"):
        ContentType.objects.clear_cache()
        assert ContentType.objects.get_for_model(PeriodicTask).pk == public_id
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('acme.django_content_type')")
            assert cursor.fetchone() == (None,)
    body = operator_client.get(
        "/admin/t/acme/django_celery_beat/periodictask/add/"
    ).content.decode()
    assert "Acting inside tenant" in body


def test_unknown_or_public_slug_is_404(operator_client: Client) -> None:
    assert operator_client.get("/admin/t/nosuch/").status_code == 404
    assert operator_client.get("/admin/t/public/").status_code == 404


def test_the_scope_is_left_after_the_request(operator_client: Client) -> None:
    _task("acme", "acme-nightly")
    response = operator_client.get("/admin/t/acme/django_celery_beat/periodictask/")
    assert response.status_code == 200
    assert "acme-nightly" in response.content.decode()  # the request did run inside acme
    assert connection_schema() == "public"
    with connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        assert cursor.fetchone()[0].split(",")[0].strip() == "public"


def test_anonymous_is_sent_to_the_platform_login(acme: Tenant) -> None:
    response = host_client("localhost").get(
        "/admin/t/acme/django_celery_beat/periodictask/", follow=True
    )
    final_url = response.redirect_chain[-1][0]
    assert final_url.startswith("/admin/login/?next=")
    assert "%2Fadmin%2Ft%2Facme%2Fdjango_celery_beat%2Fperiodictask%2F" in final_url


def test_no_tenant_admin_on_a_tenant_domain(operator: User, acme: Tenant) -> None:
    client = host_client("acme.localhost")
    assert client.get("/admin/").status_code == 404
    assert client.get("/admin/t/globex/").status_code == 404


def test_the_audit_entry_names_the_tenant_and_the_address(operator_client: Client) -> None:
    operator_client.get("/admin/t/globex/")
    entry = AuditEntry.objects.get(action="tenant_admin.enter")
    assert entry.tenant_slug == "globex" and entry.ip_address == "127.0.0.1"


def test_signing_out_from_a_tenant_admin_ends_the_staff_session(operator_client: Client) -> None:
    operator_client.get("/admin/t/acme/")
    key = operator_client.cookies["sessionid"].value
    response = operator_client.post("/admin/t/acme/logout/")
    assert response.status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM public.usersessions_session WHERE session_key = %s", [key]
        )
        assert cursor.fetchone() == (0,)
        cursor.execute("SELECT count(*) FROM acme.usersessions_session")
        assert cursor.fetchone() == (0,)
    assert operator_client.get("/admin/").status_code == 302


def test_an_archived_tenants_admin_is_read_only(operator_client: Client, acme: Tenant) -> None:
    task = _task("acme", "acme-archived")
    Tenant.objects.filter(pk=acme.pk).update(status="archived")
    url = f"/admin/t/acme/django_celery_beat/periodictask/{task.pk}/change/"
    assert operator_client.get(url).status_code == 200
    assert operator_client.post(url, {"name": "changed"}).status_code == 403
    assert "acme-archived" in _task_names("acme")
    assert AuditEntry.objects.filter(action="denied", tenant_slug="acme").exists()


def test_history_shows_this_tenants_entries_for_an_id_that_repeats_across_schemas(
    operator_client: Client,
) -> None:
    from django.contrib.admin.models import LogEntry

    mine, theirs = _task("acme", "acme-hist"), _task("globex", "globex-hist")
    with schema_context("globex"):  # each schema numbers its own rows: give both the same id
        PeriodicTask.objects.filter(pk=theirs.pk).update(id=mine.pk)
        theirs = PeriodicTask.objects.get(pk=mine.pk)
    for slug, task in (("acme", mine), ("globex", theirs)):
        form = {
            "name": f"{slug}-renamed", "task": "tenants.tasks.tenant_tables_count_task", "enabled": "on",
            "interval": task.interval_id, "args": "[]", "kwargs": "{}", "headers": "{}",
            "description": "", "priority": "", "queue": "", "exchange": "", "routing_key": "",
            "expire_seconds": "", "start_time_0": "", "start_time_1": "", "regtask": "",
        }  # fmt: skip
        url = f"/admin/t/{slug}/django_celery_beat/periodictask/{task.pk}/change/"
        assert operator_client.post(url, form).status_code == 302
    body = operator_client.get(
        f"/admin/t/acme/django_celery_beat/periodictask/{mine.pk}/history/"
    ).content.decode()
    assert body.count("<td>change</td>") == 1
    assert not LogEntry.objects.exists()  # the audit log replaces Django's LogEntry
