"""What a schedule's pages show: the real values to viewers, one clear error for a bad cron,
and no standalone schedule-part pages in a tenant's admin."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.helpers import SCHEDULE_ADD as ADD
from tests.helpers import SCHEDULE_LIST as LIST
from tests.helpers import cron_task, form, names

pytestmark = pytest.mark.django_db


# A read-only value on the admin's page: the field's label, then its value's box.
READONLY = r'>\s*{label}\s*</label>.*?<div class="readonly[^"]*">(.*?)</div>'


def test_a_viewer_sees_the_cron_and_catch_up_of_a_schedule(viewer_client: Client) -> None:
    from django.utils import timezone

    task = cron_task("acme", "office-hours", "*/15 8-18 * * mon-fri", "Europe/Paris",
                     timezone.now(), catch_up=True)  # fmt: skip
    page = viewer_client.get(f"{LIST}{task.pk}/change/").content.decode()
    cron = re.search(READONLY.format(label="Crontab"), page, re.S)
    catch_up = re.search(READONLY.format(label="Catch up missed runs"), page, re.S)
    assert cron is not None and catch_up is not None
    assert "*/15 8-18 * * mon-fri" in cron.group(1) and "Europe/Paris" in cron.group(1)
    assert catch_up.group(1).strip().startswith("Yes")
    assert "None" not in cron.group(1) + catch_up.group(1)


def test_a_viewer_sees_catch_up_off_as_no(viewer_client: Client) -> None:
    from django.utils import timezone

    task = cron_task("acme", "no-catch-up", "0 3 * * *", "Europe/Paris", timezone.now(),
                     catch_up=False)  # fmt: skip
    page = viewer_client.get(f"{LIST}{task.pk}/change/").content.decode()
    catch_up = re.search(READONLY.format(label="Catch up missed runs"), page, re.S)
    assert catch_up is not None and catch_up.group(1).strip().startswith("No")
    assert "None" not in catch_up.group(1)


def test_an_impossible_minute_gives_one_error_on_the_cron_field(operator_client: Client) -> None:
    response = operator_client.post(ADD, form(cron="99 * * * *"))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("Minute “99” is not valid") == 1
    assert "Choose a schedule" not in page
    assert "must be set" not in page  # django-celery-beat's own "One of clocked, …"
    assert response.context["adminform"].form.errors.keys() == {"cron"}
    assert "nightly-usage" not in names("acme")


@pytest.mark.parametrize("model", ["crontabschedule", "intervalschedule", "clockedschedule",
                                   "solarschedule"])  # fmt: skip
def test_a_tenants_admin_has_no_pages_for_the_parts_of_a_schedule(
    operator_client: Client, model: str
) -> None:
    assert operator_client.get(f"/admin/t/acme/django_celery_beat/{model}/add/").status_code == 404
    assert operator_client.get(f"/admin/t/acme/django_celery_beat/{model}/").status_code == 404
    for page in (operator_client.get("/admin/t/acme/"), operator_client.get(ADD)):
        assert f"/django_celery_beat/{model}/" not in page.content.decode()
    # The platform keeps them (its own crontabs, intervals, …).
    assert operator_client.get(f"/admin/django_celery_beat/{model}/").status_code == 200


def test_a_name_taken_is_still_refused(operator_client: Client) -> None:
    assert operator_client.post(ADD, form()).status_code == 302
    response = operator_client.post(ADD, form())
    assert response.status_code == 200
    assert "Periodic task with this Name already exists" in response.content.decode()
