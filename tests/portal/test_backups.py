"""Owners ask for a backup now from Downloads (rate-limited per tenant and day, audited) and
see their tenant's backups there; members see neither; nobody asks for another tenant."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from backoffice.models import AuditEntry
from jobs.models import JobRun
from tenants.context import connection_tenant_set
from tenants.models import Tenant
from tests.helpers import artifact_make, portal_client

pytestmark = pytest.mark.django_db
ASK = "/downloads/backup/"


def _post(client: Client) -> Any:
    response = client.post(ASK, follow=True)
    connection_tenant_set(None)
    return response


def _jobs(slug: str) -> list[JobRun]:
    return list(JobRun.objects.filter(task_name="backups.tasks.backup_create_task",
                                      tenant_slug=slug))  # fmt: skip


def test_an_owner_asks_for_a_backup_and_sees_the_tenants_backups(
    acme: Tenant, globex: Tenant, alice: User, artifacts_root: Any
) -> None:
    artifact_make(acme, b"acme archive", kind="backup", title="Acme nightly backup",
                  filename="acme.tar.zst")  # fmt: skip
    artifact_make(globex, b"globex archive", kind="backup", title="Globex nightly backup",
                  filename="globex.tar.zst")  # fmt: skip
    client = portal_client(acme, alice)
    page = client.get("/downloads/?kind=backup").content.decode()
    connection_tenant_set(None)
    assert 'action="/downloads/backup/"' in page
    assert "Acme nightly backup" in page and "Globex nightly backup" not in page
    done = _post(client)
    assert done.redirect_chain[-1][0] == "/downloads/"
    assert "Your backup is being made" in done.content.decode()
    [run] = _jobs("acme")
    assert run.kwargs == {"kind": "manual", "requested_by_id": alice.pk}
    entry = AuditEntry.objects.get(action="backup.run")
    assert (entry.tenant_slug, entry.detail["via"]) == ("acme", "portal")


def test_a_member_sees_neither_backups_nor_the_button_and_is_refused(
    acme: Tenant, carol: User, artifacts_root: Any
) -> None:
    artifact_make(acme, b"acme archive", kind="backup", title="Acme nightly backup",
                  filename="acme.tar.zst")  # fmt: skip
    client = portal_client(acme, carol)
    page = client.get("/downloads/").content.decode()
    assert "Back up now" not in page and "Acme nightly backup" not in page
    assert _post(client).status_code == 403
    assert _jobs("acme") == []


def test_an_owner_of_acme_cannot_ask_on_globexs_domain(globex: Tenant, alice: User) -> None:
    response = portal_client(globex, alice).post(ASK)
    connection_tenant_set(None)
    assert response.status_code in (302, 403) and _jobs("globex") == []


def test_backups_asked_for_are_limited_per_tenant_and_day(
    acme: Tenant, alice: User, settings: Any
) -> None:
    settings.BACKUP_REQUESTS_PER_DAY = 2
    client = portal_client(acme, alice)
    _post(client)
    _post(client)
    over = _post(client)
    assert "asked for 2 backups today" in over.content.decode()
    assert len(_jobs("acme")) == 2
