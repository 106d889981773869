"""The audit log in words: what an action code and an object type mean to the people reading
the log (the audit list, the dashboard's recent activity). Codes stay as they are stored; an
unknown one is still shown readably."""

from __future__ import annotations

import re

from django.apps import apps

ACTIONS = {
    "add": "Added",
    "change": "Changed",
    "delete": "Deleted",
    "denied": "Was refused (403)",
    "tenant_admin.enter": "Entered the tenant's admin",
    "tenant.active": "Reactivated the tenant",
    "tenant.suspended": "Suspended the tenant",
    "tenant.archived": "Archived the tenant",
    "schedule.enable": "Enabled a schedule",
    "schedule.disable": "Disabled a schedule",
    "schedule.run_now": "Ran a schedule now",
    "sessions.end": "Ended sessions",
    "job.retry": "Retried a job",
    "job.revoke": "Revoked a job",
    "job.terminate": "Terminated a job",
    "job.refused": "A job was refused (no valid tenant)",
    "signin.lockout": "Sign-in locked after failures",
    "2fa.enrol": "Enrolled an authenticator",
    "2fa.reset": "Reset a person's authenticator",
    "restore.refused": "A restore was refused (nothing changed)",
    "restore.start": "Started a restore",
    "restore.safety_backup": "Took the safety backup before a restore",
    "restore.loaded": "Loaded a backup into a scratch schema",
    "restore.swap": "Swapped the restored schema in",
    "restore.as_new": "Made a new tenant from a backup",
    "restore.succeeded": "Finished a restore",
    "restore.failed": "A restore failed (the tenant left as it was)",
    "restore.recovered": "Put back an interrupted restore",
    "alert.open": "Alert opened",
    "alert.resolved": "Alert resolved",
}
PREFIXES = {"job.start:": "Started a job: ", "alert.": "Alert "}


def _words(code: str) -> str:
    """ "usersessions.tasks.sessions_cleanup_task" → "sessions cleanup"; "tenant_admin" →
    "tenant admin"."""
    last = code.rsplit(".", 1)[-1].removesuffix("_task")
    return last.replace("_", " ").replace("-", " ").strip()


def action_words(code: str) -> str:
    if code in ACTIONS:
        return ACTIONS[code]
    for prefix, words in PREFIXES.items():
        if code.startswith(prefix):
            return words + _words(code[len(prefix) :])
    readable = " ".join(_words(part) for part in code.split(".") if part)
    return readable.capitalize() or code


def object_type_words(label: str) -> str:
    """ "django_celery_beat.PeriodicTask" → "periodic task" (the model's verbose name)."""
    if not label:
        return ""
    try:
        return str(apps.get_model(label)._meta.verbose_name)
    except (LookupError, ValueError):
        model = label.rsplit(".", 1)[-1]
        return re.sub(r"(?<!^)(?=[A-Z])", " ", model).lower()
