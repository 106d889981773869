"""The staff admin in a real browser: the dashboard and its charts, creating a tenant, a
tenant's page in tabs, suspending with confirmation, and what a Viewer may not do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from backoffice.models import AuditEntry
from console.queue_history import queue_depths_sample
from jobs.models import JobRun
from tenants.models import Tenant
from tenants.provisioning import schema_drop
from tests.browser.conftest import SCREENSHOTS, Server, Staff, staff_sign_in


@pytest.fixture
def some_jobs() -> None:
    now = timezone.now()
    acme = Tenant.objects.get(slug="acme")
    JobRun.objects.bulk_create(
        JobRun(task_id=f"browser-{n}", task_name="usersessions.tasks.sessions_cleanup_task",
               tenant=acme, tenant_slug="acme", schema_name="acme", summary=f"Job {n}",
               state="failed" if n % 5 == 0 else "succeeded",
               queued_at=now - timedelta(hours=n), finished_at=now - timedelta(hours=n))
        for n in range(1, 60)
    )  # fmt: skip
    queue_depths_sample()


@pytest.fixture
def new_tenant_cleanup() -> Iterator[None]:
    yield
    for tenant in Tenant.objects.filter(slug="initech"):
        tenant.delete()
        schema_drop(tenant.schema_name)


def charts_drawn(page: Page) -> int:
    return int(page.evaluate(
        "() => [...document.querySelectorAll('canvas.chart')]"
        ".filter((c) => window.Chart && Chart.getChart(c)).length"
    ))  # fmt: skip


@pytest.mark.usefixtures("some_jobs")
def test_the_dashboard_renders_its_cards_and_charts(
    page: Page, server: Server, operator_staff: Staff
) -> None:
    staff_sign_in(page, server, operator_staff)
    expect(
        page.locator("#content").get_by_role("heading", name="Platform dashboard")
    ).to_be_visible()
    expect(page.get_by_text("Jobs per hour, last 7 days")).to_be_visible()
    page.wait_for_function("() => window.Chart !== undefined")
    assert charts_drawn(page) == 2  # jobs per hour, queue depth history
    # a figure is a link to its list
    page.get_by_role("link", name="Tenants active").click()
    expect(page).to_have_url(server.url("/admin/tenants/tenant/?status__exact=active"))
    expect(page.get_by_role("link", name="Acme Corp").first).to_be_visible()


def test_the_dashboard_in_dark_mode_and_on_a_narrow_screen(
    page: Page, server: Server, operator_staff: Staff
) -> None:
    staff_sign_in(page, server, operator_staff)
    page.emulate_media(color_scheme="dark")
    page.evaluate("() => localStorage.setItem('adminTheme', JSON.stringify('dark'))")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(
        page.locator("#content").get_by_role("heading", name="Platform dashboard")
    ).to_be_visible()
    assert page.evaluate("() => document.documentElement.classList.contains('dark')")
    # nothing wider than the screen: the cards stack
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width} px wide on a 390 px screen"


@pytest.mark.usefixtures("new_tenant_cleanup")
def test_an_operator_creates_a_tenant(page: Page, server: Server, operator_staff: Staff) -> None:
    staff_sign_in(page, server, operator_staff)
    page.goto(server.url("/admin/tenants/tenant/add/"))
    page.get_by_label("Name").fill("Initech")
    page.get_by_label("Slug").fill("initech")
    page.locator("select[name=timezone]").select_option("Europe/Berlin")
    page.get_by_label("Owner email").fill("owner@initech.example")
    page.screenshot(path=str(SCREENSHOTS / "tenant-add-form.png"), full_page=True)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()
    tenant = Tenant.objects.get(slug="initech")
    assert tenant.status == "active" and tenant.timezone == "Europe/Berlin"


@pytest.mark.usefixtures("some_jobs")
def test_a_tenants_page_has_tabs(page: Page, server: Server, operator_staff: Staff) -> None:
    acme = Tenant.objects.get(slug="acme")
    staff_sign_in(page, server, operator_staff)
    page.goto(server.url(f"/admin/tenants/tenant/{acme.pk}/change/"))
    for tab in ("General", "Members", "Domains", "Schedules", "Jobs"):
        expect(page.get_by_role("link", name=tab, exact=True).first).to_be_visible()
    expect(page.get_by_text("active, 0 expired")).to_be_visible()  # sessions, on the overview
    page.get_by_role("link", name="Jobs", exact=True).first.click()
    expect(page.get_by_text("Job 1", exact=True)).to_be_visible()


def test_suspend_asks_for_confirmation_first(
    page: Page, server: Server, operator_staff: Staff
) -> None:
    acme = Tenant.objects.get(slug="acme")
    staff_sign_in(page, server, operator_staff)
    page.goto(server.url(f"/admin/tenants/tenant/{acme.pk}/change/"))
    page.get_by_role("link", name="Suspend").click()
    expect(page.get_by_role("heading", name="Suspend 1 tenant?")).to_be_visible()
    expect(page.get_by_text("Every member is signed out")).to_be_visible()
    acme.refresh_from_db()
    assert acme.status == "active"
    page.get_by_role("button", name="Suspend").click()
    expect(page.get_by_text("1 tenant(s) now suspended.")).to_be_visible()
    acme.refresh_from_db()
    assert acme.status == "suspended"


@pytest.mark.usefixtures("some_jobs")
def test_a_viewer_sees_values_but_no_buttons(
    page: Page, server: Server, viewer_staff: Staff
) -> None:
    acme = Tenant.objects.get(slug="acme")
    staff_sign_in(page, server, viewer_staff)
    page.goto(server.url(f"/admin/tenants/tenant/{acme.pk}/change/"))
    expect(page.get_by_text("Acme Corp").first).to_be_visible()
    expect(page.get_by_text("Europe/Paris").first).to_be_visible()
    for button in ("Save", "Save and continue editing", "Suspend", "Archive", "Delete"):
        expect(page.get_by_role("button", name=button, exact=True)).to_have_count(0)
        expect(page.get_by_role("link", name=button, exact=True)).to_have_count(0)
    page.goto(server.url("/admin/tenants/tenant/"))
    expect(page.get_by_role("link", name="Acme Corp")).to_be_visible()
    expect(page.get_by_role("link", name="Add tenant")).to_have_count(0)


@pytest.mark.usefixtures("some_jobs")
@pytest.mark.parametrize(
    "path", ["/admin/jobs/jobrun/", "/admin/backoffice/auditentry/", "/admin/tenants/tenant/"]
)
def test_lists_show_every_column_at_1400_px(
    page: Page, server: Server, operator_staff: Staff, path: str
) -> None:
    for n in range(3):  # long descriptions, the case that once pushed columns out of view
        AuditEntry.objects.create(
            actor_username="live-olga", action="schedule.run_now", tenant_slug="acme",
            object_type="django_celery_beat.PeriodicTask",
            object_repr=f"sessions-cleanup-daily: 15 3 * * * (m/h/dM/MY/d) Europe/Paris #{n}",
        )  # fmt: skip
    staff_sign_in(page, server, operator_staff)
    page.goto(server.url(path))
    headers = page.locator("#result_list thead th")
    expect(headers.first).to_be_visible()
    right_edges = [box["x"] + box["width"] for box in
                   (h.bounding_box() for h in headers.all()) if box]  # fmt: skip
    assert right_edges and max(right_edges) <= 1400, f"a column ends at {max(right_edges)} px"


@pytest.mark.usefixtures("celery_worker", "some_jobs")
def test_operations_shows_the_live_worker_with_its_queues(
    page: Page, server: Server, operator_staff: Staff
) -> None:
    staff_sign_in(page, server, operator_staff)
    page.goto(server.url("/admin/operations/"))
    expect(page.locator("#content").get_by_role("heading", name="Operations")).to_be_visible()
    expect(page.get_by_role("cell", name="long, short")).to_be_visible()  # its queues
    expect(page.get_by_text("Job 5").first).to_be_visible()  # a failing job, linked
