"""The task decorators are typed: mypy checks `delay_for` and `task_enqueue` calls against the
task's own signature (a wrong call fails `make lint`, not a worker at run time)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

PROBE = """
from jobs.api import task_enqueue
from tenants.models import Tenant
from usersessions.tasks import sessions_cleanup_task
from console.tasks import tenant_tables_count_task


def probe(tenant: Tenant) -> None:
    sessions_cleanup_task.delay_for(tenant)
    sessions_cleanup_task.delay_for(tenant, 5)
    tenant_tables_count_task.delay_for("acme")
    task_enqueue(len, tenant=tenant)
    task_enqueue(sessions_cleanup_task, tenant="acme")
"""


def test_wrong_calls_are_type_errors_and_a_right_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)  # the project's mypy configuration and imports
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    out, _err, status = api.run(
        [str(probe), "--config-file", str(root / "pyproject.toml"), "--cache-dir", str(tmp_path)]
    )
    errors = [line.split(": error: ", 1)[1] for line in out.splitlines() if ": error: " in line]
    assert status == 1
    assert errors == [
        'Too many arguments for "delay_for" of "TenantTask"  [call-arg]',
        'Argument 1 to "delay_for" of "TenantTask" has incompatible type "str"; expected '
        '"Tenant"  [arg-type]',
        'Argument 1 to "task_enqueue" has incompatible type "Callable[[Sized], int]"; expected '
        '"TrackedTask[Any, Any]"  [arg-type]',
        'Argument "tenant" to "task_enqueue" has incompatible type "str"; expected '
        '"Tenant | None"  [arg-type]',
    ]
