"""The audit log in words: the audit list and the dashboard's recent activity say what staff
did, not the stored codes; an unknown code still reads."""

from __future__ import annotations

import pytest
from django.test import Client

from backoffice.audit_words import action_words, object_type_words
from backoffice.models import AuditEntry

CODES = {
    "tenant_admin.enter": "Entered the tenant's admin",
    "job.start:usersessions.tasks.sessions_cleanup_task": "Started a job: sessions cleanup",
    "schedule.run_now": "Ran a schedule now",
    "backups.restore_start": "Backups restore start",  # unknown: readable anyway
}


def test_codes_and_object_types_read_as_words() -> None:
    for code, words in CODES.items():
        assert action_words(code) == words
    assert object_type_words("django_celery_beat.PeriodicTask") == "periodic task"
    assert object_type_words("tenants.Tenant") == "tenant"
    assert object_type_words("gone.ScheduleGroup") == "schedule group"  # a model no longer here


@pytest.mark.django_db
def test_the_audit_list_and_recent_activity_show_words(operator_client: Client) -> None:
    for code in CODES:
        AuditEntry.objects.create(actor_username="olga", action=code, tenant_slug="acme",
                                  object_type="django_celery_beat.PeriodicTask",
                                  object_repr="nightly")  # fmt: skip
    listing = operator_client.get("/admin/backoffice/auditentry/").content.decode()
    dashboard = operator_client.get("/admin/").content.decode()
    for body in (listing, dashboard):
        for code, words in CODES.items():
            assert words.replace("'", "&#x27;") in body
            assert f">{code}<" not in body and f" {code}" not in body
        assert "periodic task" in body and "django_celery_beat.PeriodicTask<" not in body
