"""Staff roles as Django groups: Operators act, Viewers only look. Superusers are both.

Kept in code and re-applied after every migration of the public schema, so a new model's
permissions reach the roles without a manual step.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from tenants.context import connection_in_public

OPERATORS = "Operators"
VIEWERS = "Viewers"

# Apps whose models staff manage. Operators may add/change/delete them; viewers may view.
# Labels, not imports: a model moved between apps keeps its permissions only if its new label
# is here (tests/backoffice/test_roles.py checks every admin-registered model is covered).
MANAGED_APPS = (
    "tenants", "accounts", "django_celery_beat", "backoffice", "jobs", "beat", "reports", "backups",
    "usersessions", "artifacts", "dataport",
)  # fmt: skip
# Rows that are history: nobody edits them through the admin, operators included.
READ_ONLY_MODELS = {
    ("backoffice", "auditentry"), ("tenants", "schematemplate"), ("artifacts", "downloadevent"),
}  # fmt: skip
# Permissions beyond view_ that Viewers hold: exporting a tenant's data is reading it.
VIEWER_EXTRA = {("dataport", "export_data")}


def staff_roles_sync() -> None:
    perms = Permission.objects.filter(content_type__app_label__in=MANAGED_APPS).select_related(
        "content_type"
    )
    operator_perms, viewer_perms = [], []
    for perm in perms:
        key = (perm.content_type.app_label, perm.content_type.model)
        is_view = perm.codename.startswith("view_") or (key[0], perm.codename) in VIEWER_EXTRA
        if is_view:
            viewer_perms.append(perm)
        if is_view or key not in READ_ONLY_MODELS:
            operator_perms.append(perm)
    Group.objects.get_or_create(name=OPERATORS)[0].permissions.set(operator_perms)
    Group.objects.get_or_create(name=VIEWERS)[0].permissions.set(viewer_perms)


@receiver(post_migrate)
def _roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    # After the last app's post_migrate: every app's permissions exist by then (Django creates
    # them app by app, in INSTALLED_APPS order). Only the public schema has auth tables; tenant
    # migrations emit post_migrate too.
    if sender is list(apps.get_app_configs())[-1] and connection_in_public():
        staff_roles_sync()
