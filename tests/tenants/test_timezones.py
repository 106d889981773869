"""The time-zone picker: canonical IANA zones grouped by region, no pseudo-zones or legacy
aliases, a filter box, and a tenant's stored legacy zone kept choosable."""

from __future__ import annotations

import pytest
from django.test import Client

from tenants.models import Tenant
from tenants.timezones import timezone_choices, timezones_canonical


def test_only_canonical_zones_are_offered() -> None:
    zones = set(timezones_canonical())
    assert {"UTC", "Europe/Paris", "Europe/Oslo", "America/New_York", "Asia/Tokyo"} <= zones
    for pseudo in ("Factory", "localtime", "posixrules", "Etc/GMT+1", "Etc/UTC", "US/Eastern",
                   "GMT+0", "Japan", "EST5EDT", "Universal"):  # fmt: skip
        assert pseudo not in zones
    assert 300 < len(zones) < 500  # not the ~600 of available_timezones()


def test_zones_are_grouped_by_region_utc_first() -> None:
    choices = timezone_choices()
    assert choices[0] == ("UTC", "UTC")
    groups = dict(choices[1:])
    assert ("Europe/Paris", "Paris") in groups["Europe"]
    assert ("America/New_York", "New York") in groups["America"]
    assert "Other" not in groups


@pytest.mark.django_db
def test_the_tenant_forms_use_the_grouped_picker(operator_client: Client) -> None:
    page = operator_client.get("/admin/tenants/tenant/add/").content.decode()
    assert '<optgroup label="Europe">' in page and 'data-tz-picker="1"' in page
    assert "tenants/tzpicker.js" in page
    assert '<option value="UTC" selected>UTC</option>' in page
    for pseudo in ("Factory", "localtime", "US/Eastern", "GMT+0"):
        assert f'value="{pseudo}"' not in page
    acme = Tenant.objects.get(slug="acme")
    Tenant.objects.filter(pk=acme.pk).update(timezone="US/Eastern")  # stored before the picker
    page = operator_client.get(f"/admin/tenants/tenant/{acme.pk}/change/").content.decode()
    assert '<optgroup label="Other">' in page
    assert '<option value="US/Eastern" selected>US/Eastern</option>' in page
