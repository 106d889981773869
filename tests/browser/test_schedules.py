"""Schedules in a tenant's admin, in a real browser: the cron's live preview, one clear error
for an impossible cron, and "Run now" landing on the job's page, which follows it live."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask
from django_tenants.utils import schema_context
from playwright.sync_api import Page, expect

from jobs.models import JobRun
from tests.browser.conftest import SCREENSHOTS, Server, Staff, staff_sign_in

ADD = "/admin/t/acme/django_celery_beat/periodictask/add/"
CLEANUP = "usersessions.tasks.sessions_cleanup_task"


def test_a_schedule_is_added_with_the_live_preview_and_a_bad_cron_gets_one_error(
    page: Page, server: Server, operator_staff: Staff
) -> None:
    staff_sign_in(page, server, operator_staff)
    page.goto(server.url(ADD))
    page.get_by_label("Name").fill("beat-browser-nightly")
    page.locator("select[name=task]").select_option(CLEANUP)
    cron = page.locator("#id_cron")
    cron.fill("30 2 * * *")
    preview = page.locator("#cron-preview")
    expect(preview).to_contain_text("Next runs")
    expect(preview.locator("li")).to_have_count(5)
    expect(preview.locator("li").first).to_contain_text("02:30")  # in the tenant's zone
    # an impossible cron: one clear error, on the field, not two contradictory ones
    cron.fill("99 * * * *")
    page.get_by_role("button", name="Save", exact=True).click()
    errors = page.locator(".errorlist li, .errornote, [role=alert]")
    expect(page.get_by_text("99", exact=False).first).to_be_visible()
    texts = [t.strip() for t in errors.all_inner_texts() if t.strip()]
    assert not any("One of clocked" in t for t in texts), texts
    assert not any("Choose a schedule" in t for t in texts), texts
    field_errors = page.locator(".errorlist li").all_inner_texts()
    assert len(field_errors) == 1, field_errors
    # fixed, it saves
    page.locator("#id_cron").fill("30 2 * * *")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()
    with schema_context("acme"):
        task = PeriodicTask.objects.get(name="beat-browser-nightly")
        assert task.crontab is not None and task.crontab.hour == "2"


@pytest.mark.usefixtures("celery_worker")
def test_run_now_lands_on_the_job_page_which_follows_it_to_the_end(
    page: Page, server: Server, operator_staff: Staff
) -> None:
    with schema_context("acme"):
        task = PeriodicTask.objects.filter(task=CLEANUP).first()
        assert task is not None  # a default schedule of every tenant
    staff_sign_in(page, server, operator_staff)
    page.goto(server.url(f"/admin/t/acme/django_celery_beat/periodictask/{task.pk}/change/"))
    expect(page.get_by_text("Recent runs")).to_be_visible()
    page.get_by_role("link", name="Run now").click()
    dialog = page.locator("#dialog")
    expect(dialog.get_by_text("Run this schedule now?")).to_be_visible()
    dialog.get_by_role("button", name="Run now").click()
    page.wait_for_url("**/admin/jobs/jobrun/*/change/")
    run = JobRun.objects.get(pk=int(page.url.rstrip("/").split("/")[-2]))
    assert run.periodic_task_name == task.name and run.tenant_slug == "acme"
    # the page follows the job by itself (it reloads while the job is not final)
    expect(page.get_by_text("Succeeded").first).to_be_visible(timeout=20_000)
    page.screenshot(path=str(SCREENSHOTS / "jobrun-page.png"), full_page=True)
    # and the schedule lists it among its recent runs
    page.goto(server.url(f"/admin/t/acme/django_celery_beat/periodictask/{task.pk}/change/"))
    expect(page.get_by_role("link", name="Succeeded")).to_be_visible()
