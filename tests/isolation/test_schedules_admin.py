"""The schedule admin writes in the schema of the tenant whose admin it is, and never reaches
another tenant's schedules — not by name, not by id."""

from __future__ import annotations

import pytest
from django.test import Client
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_tenants.utils import schema_context

from beat.models import ScheduleChange
from tenants.models import Tenant
from tests.helpers import SCHEDULE_ADD as ADD
from tests.helpers import SCHEDULE_LIST as LIST
from tests.helpers import SCHEDULE_TASK as TASK
from tests.helpers import form, names

pytestmark = pytest.mark.django_db


def test_a_crontab_added_for_a_tenant_is_in_its_zone_and_written_there_only(
    operator_client: Client,
) -> None:
    before = {s: names(s) for s in ("globex", "public")}
    changes = ScheduleChange.objects.count()
    response = operator_client.post(ADD, form(catch_up=None))
    assert response.status_code == 302, response.content.decode()[:2000]
    with schema_context("acme"):
        task = PeriodicTask.objects.select_related("crontab", "state").get(name="nightly-usage")
        assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == (
            "0", "6", "mon-fri",
        )  # fmt: skip
        assert str(task.crontab.timezone) == Tenant.objects.get(slug="acme").timezone
        assert task.state.catch_up is False
    assert {s: names(s) for s in ("globex", "public")} == before
    assert ScheduleChange.objects.filter(schema_name="acme").count() >= 1
    assert ScheduleChange.objects.count() > changes


def test_enable_and_disable_change_that_tenant_and_tell_beat(operator_client: Client) -> None:
    assert operator_client.post(ADD, form()).status_code == 302
    with schema_context("globex"):
        every = IntervalSchedule.objects.create(every=1, period="hours")
        PeriodicTask.objects.create(name="nightly-usage", task=TASK, interval=every)
    with schema_context("acme"):
        pk = PeriodicTask.objects.get(name="nightly-usage").pk
    changes = ScheduleChange.objects.filter(schema_name="acme").count()
    response = operator_client.post(LIST, {"action": "disable", "_selected_action": [pk]})
    assert response.status_code == 302
    with schema_context("acme"):
        assert PeriodicTask.objects.get(pk=pk).enabled is False
    with schema_context("globex"):
        assert PeriodicTask.objects.get(name="nightly-usage").enabled is True
    assert ScheduleChange.objects.filter(schema_name="acme").count() == changes + 1
    operator_client.post(LIST, {"action": "enable", "_selected_action": [pk]})
    with schema_context("acme"):
        assert PeriodicTask.objects.get(pk=pk).enabled is True


def test_an_action_on_an_id_of_another_tenants_schedule_touches_only_this_tenants_row(
    operator_client: Client,
) -> None:
    shared, theirs = 9000, 9500  # ids: one both schemas use, one only globex has
    with schema_context("acme"):
        every = IntervalSchedule.objects.create(every=1, period="hours")
        mine = PeriodicTask.objects.create(name="acme-own", task=TASK, interval=every)
        PeriodicTask.objects.filter(pk=mine.pk).update(id=shared)
    with schema_context("globex"):
        every = IntervalSchedule.objects.create(every=1, period="hours")
        for name, pk in (("globex-same-id", shared), ("globex-only", theirs)):
            row = PeriodicTask.objects.create(name=name, task=TASK, interval=every)
            PeriodicTask.objects.filter(pk=row.pk).update(id=pk)
    operator_client.post(LIST, {"action": "disable", "_selected_action": [shared, theirs]})
    with schema_context("acme"):
        assert PeriodicTask.objects.get(pk=shared).enabled is False
        assert not PeriodicTask.objects.filter(pk=theirs).exists()
    with schema_context("globex"):
        assert set(PeriodicTask.objects.filter(name__startswith="globex-").values_list(
            "name", "enabled")) == {("globex-same-id", True), ("globex-only", True)}  # fmt: skip
    page = operator_client.get(f"{LIST}{theirs}/change/")
    assert page.status_code == 302  # "doesn't exist" here: never globex's row
    assert "globex-only" not in operator_client.get(LIST).content.decode()
