"""Schedules validated like code input: what the form refuses, and stored rows that break the
rules shown as invalid instead of an error page."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_tenants.utils import schema_context

from tenants.models import Tenant
from tests.helpers import SCHEDULE_ADD as ADD
from tests.helpers import SCHEDULE_LIST as LIST
from tests.helpers import form, names
from tests.worker_tasks import record_schema

pytestmark = pytest.mark.django_db
MEGABYTE = "x" * 1_000_000


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cron": "0 0 31 2 *"}, "never occurs in the next 5 years"),
        (
            {"headers": '{"task": "backoffice.tasks.jobruns_prune_task"}'},
            "“task” is a message header",
        ),
        ({"headers": '{"origin": "me"}'}, "“origin” is a message header"),
        ({"headers": '{"note": "x"}'}, "custom headers start with “x-”"),
        ({"headers": json.dumps({"x-big": MEGABYTE})}, "at most 1024 bytes"),
        ({"kwargs": json.dumps({"blob": MEGABYTE})}, "at most 16,384 (as JSON)"),
        ({"description": MEGABYTE}, "At most 2,000 characters"),
        ({"queue": "nobody-reads-this"}, "No worker reads “nobody-reads-this”"),
    ],
)
def test_the_form_refuses_what_beat_could_not_run(
    operator_client: Client, overrides: dict[str, str], message: str
) -> None:
    response = operator_client.post(ADD, form(**overrides))
    assert response.status_code == 200, "the form was accepted"
    assert message in response.content.decode()
    assert "nightly-usage" not in names("acme")


def test_allowed_headers_are_kept(operator_client: Client) -> None:
    assert operator_client.post(ADD, form(headers='{"x-origin": "import"}')).status_code == 302
    with schema_context("acme"):
        assert json.loads(PeriodicTask.objects.get(name="nightly-usage").headers) == {
            "x-origin": "import"
        }


def test_a_stored_crontab_that_never_occurs_shows_as_invalid(viewer_client: Client) -> None:
    with schema_context("acme"):
        crontab = CrontabSchedule.objects.create(
            minute="0", hour="0", day_of_month="31", month_of_year="2", day_of_week="*"
        )
        row = PeriodicTask.objects.create(name="never", task=form()["task"], crontab=crontab)
    listing = viewer_client.get(LIST)
    assert listing.status_code == 200
    assert "Invalid: “0 0 31 2 *” never occurs" in listing.content.decode()
    page = viewer_client.get(f"{LIST}{row.pk}/change/")
    assert page.status_code == 200 and "never occurs" in page.content.decode()
    preview = viewer_client.get(f"{LIST}preview/", {"cron": "0 0 31 2 *"})
    assert preview.status_code == 400 and "never occurs" in preview.json()["error"]


def test_headers_may_not_override_celerys_own() -> None:
    with pytest.raises(ValueError, match=r"headers may not set \['task'\]"):
        record_schema.apply_async(
            (0,), tenant=Tenant.objects.get(slug="acme"),
            headers={"task": "backoffice.tasks.jobruns_prune_task"},
        )  # fmt: skip
