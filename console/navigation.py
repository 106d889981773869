"""The admin's sidebar (django-unfold's SIDEBAR setting): one list for the platform admin,
one for the tenant-scoped admin, whose links are built for the tenant being worked on.

Settings name these by dotted path (saas/settings.py UNFOLD, UNFOLD_TENANT); the links are
callables so they are reversed per request, inside the right URLconf.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse


def _link(name: str) -> Any:
    def build(request: HttpRequest) -> str:
        try:
            return reverse(name)
        except NoReverseMatch:  # a page this site does not have (yet): the index instead
            return reverse(name.split(":")[0] + ":index")

    return build


def _may_view(app_label: str, model: str) -> Any:
    def check(request: HttpRequest) -> bool:
        return bool(request.user.has_perm(f"{app_label}.view_{model}"))

    return check


def _item(title: str, icon: str, name: str, perm: tuple[str, str] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"title": title, "icon": icon, "link": _link(name)}
    if perm is not None:
        item["permission"] = _may_view(*perm)
    return item


def platform_sidebar(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "title": "Platform",
            "items": [
                _item("Dashboard", "dashboard", "admin:index"),
                _item("Operations", "monitor_heart", "admin:operations"),
                _item(
                    "Tenants", "apartment", "admin:tenants_tenant_changelist", ("tenants", "tenant")
                ),
            ],
        },
        {
            "title": "Jobs and schedules",
            "items": [
                _item("Jobs", "history", "admin:jobs_jobrun_changelist", ("jobs", "jobrun")),
                _item(
                    "Schedules (all tenants)",
                    "event_repeat",
                    "admin:beat_schedulesummary_changelist",
                    ("beat", "schedulesummary"),
                ),
                _item(
                    "Platform schedules",
                    "schedule",
                    "admin:django_celery_beat_periodictask_changelist",
                    ("django_celery_beat", "periodictask"),
                ),
            ],
        },
        {
            "title": "Backups",
            "items": [
                _item(
                    "Backups overview",
                    "health_and_safety",
                    "admin:backups_backupoverview_changelist",
                    ("backups", "backup"),
                ),
                _item(
                    "All backups",
                    "backup",
                    "admin:backups_backup_changelist",
                    ("backups", "backup"),
                ),
                _item(
                    "Restores",
                    "settings_backup_restore",
                    "admin:backups_restore_changelist",
                    ("backups", "restore"),
                ),
            ],
        },
        {
            "title": "Files and downloads",
            "items": [
                _item(
                    "Files",
                    "folder",
                    "admin:artifacts_artifact_changelist",
                    ("artifacts", "artifact"),
                ),
                _item(
                    "Share links",
                    "link",
                    "admin:artifacts_sharelink_changelist",
                    ("artifacts", "sharelink"),
                ),
                _item(
                    "Downloads",
                    "download",
                    "admin:artifacts_downloadevent_changelist",
                    ("artifacts", "downloadevent"),
                ),
            ],
        },
        {
            "title": "People and security",
            "items": [
                _item("Users", "person", "admin:accounts_user_changelist", ("accounts", "user")),
                _item("Staff roles", "badge", "admin:auth_group_changelist", ("auth", "group")),
                _item(
                    "Staff sessions",
                    "devices",
                    "admin:usersessions_session_changelist",
                    ("usersessions", "session"),
                ),
                _item(
                    "Audit log",
                    "policy",
                    "admin:backoffice_auditentry_changelist",
                    ("backoffice", "auditentry"),
                ),
            ],
        },
    ]


def tenant_sidebar(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "title": "This tenant",
            "items": [
                _item("Dashboard", "dashboard", "tenant_admin:index"),
                _item(
                    "Schedules",
                    "schedule",
                    "tenant_admin:django_celery_beat_periodictask_changelist",
                    ("django_celery_beat", "periodictask"),
                ),
                _item(
                    "Sessions",
                    "devices",
                    "tenant_admin:usersessions_session_changelist",
                    ("usersessions", "session"),
                ),
                _item(
                    "Import and export",
                    "swap_vert",
                    "tenant_admin:dataport_transfer",
                    ("dataport", "importrun"),
                ),
            ],
        },
        {
            "title": "Platform",
            "items": [
                {"title": "Back to the platform admin", "icon": "arrow_back", "link": "/admin/"},
            ],
        },
    ]
