"""Restores and tenant isolation: restoring acme (in place, or as a new tenant) leaves globex
byte-identical — the same schema objects, rows, sequences, sessions and status — and a restore
job for globex cannot be pointed at acme's backup."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from accounts.models import User
from backoffice.models import AuditEntry
from backups.models import Backup
from backups.restore import backup_restore, backup_restore_as_new
from backups.restore_checks import RestoreRefused
from backups.services import backup_create
from backups.tasks import backup_restore_task
from tenants.context import connection_tenant_set
from tenants.models import Membership, Tenant
from tests.helpers import (
    make_user,
    markers_everywhere,
    restores_clean,
    schema_fingerprint,
    session_keys,
    session_make,
    wait_for_state,
)


@pytest.fixture
def restore_db(live_db: None, artifacts_root: Path) -> Iterator[None]:
    yield
    restores_clean()


def _acme_backup() -> Backup:
    backup = backup_create(Tenant.objects.get(slug="acme"), kind=Backup.Kind.MANUAL)
    connection_tenant_set(None)
    return backup


@pytest.mark.usefixtures("restore_db")
def test_restoring_acme_leaves_globex_byte_identical() -> None:
    globex = Tenant.objects.get(slug="globex")
    bob: User = make_user("live-bob")
    Membership.objects.create(user=bob, tenant=globex)
    globex_session = session_make("globex", bob)
    backup = _acme_backup()
    globex_before = schema_fingerprint("globex")

    backup_restore(backup)
    backup_restore_as_new(backup, slug="acme-copy")

    assert schema_fingerprint("globex") == globex_before
    assert session_keys("globex") == {globex_session}
    assert Tenant.objects.get(pk=globex.pk).status == Tenant.Status.ACTIVE
    assert not Backup.objects.filter(tenant=globex).exists()  # the safety backup is acme's


@pytest.mark.usefixtures("restore_db", "celery_worker")
def test_a_restore_for_globex_cannot_take_acmes_backup() -> None:
    globex = Tenant.objects.get(slug="globex")
    backup = _acme_backup()
    before = schema_fingerprint("acme"), schema_fingerprint("globex")

    with pytest.raises(RestoreRefused, match="a backup of acme, not of globex"):
        backup_restore(backup, tenant=globex)
    assert AuditEntry.objects.filter(action="restore.refused", tenant_slug="globex").exists()
    # The job too: sent for globex with acme's backup id, it fails with those words.
    result = backup_restore_task.apply_async(
        kwargs={"backup_id": backup.pk}, tenant=globex, queue="backups"
    )
    run = wait_for_state(result.id, "failed")
    assert "not of globex" in run.error_message

    assert (schema_fingerprint("acme"), schema_fingerprint("globex")) == before
    assert markers_everywhere() == {"public": 0, "acme": 0, "globex": 0}
    assert set(
        Tenant.objects.filter(slug__in=["acme", "globex"]).values_list("status", flat=True)
    ) == {"active"}
