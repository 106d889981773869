"""Staff roles are built from app labels: every model staff manage in the admin must be covered,
so moving a model to another app cannot silently drop a role's permissions on it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from backoffice.roles import MANAGED_APPS, OPERATORS, READ_ONLY_MODELS, VIEWERS
from backoffice.sites import staff_site, tenant_site

# Staff accounts, roles and permissions: superusers only (not a role's business).
SUPERUSER_ONLY = {"auth"}


def test_every_model_in_either_admin_is_covered_by_the_roles() -> None:
    registered = {model._meta.app_label for model in staff_site._registry} | {
        model._meta.app_label for model in tenant_site._registry
    }
    assert registered - SUPERUSER_ONLY <= set(MANAGED_APPS)


@pytest.mark.django_db
def test_job_history_and_the_schedule_overview_keep_their_permissions() -> None:
    viewers = set(Group.objects.get(name=VIEWERS).permissions.values_list(
        "content_type__app_label", "codename"))  # fmt: skip
    operators = set(Group.objects.get(name=OPERATORS).permissions.values_list(
        "content_type__app_label", "codename"))  # fmt: skip
    assert {("jobs", "view_jobrun"), ("beat", "view_schedulesummary")} <= viewers
    # Operators act on jobs (retry, revoke, terminate need change_jobrun).
    assert {("jobs", "view_jobrun"), ("jobs", "change_jobrun")} <= operators
    assert not {("jobs", "change_jobrun"), ("beat", "change_schedulesummary")} & viewers
    # History stays read-only for operators too.
    for app_label, model in READ_ONLY_MODELS:
        assert (app_label, f"change_{model}") not in operators
