"""Migration helpers for moving a model from one app to another without renaming anything
behind Django's back: the model's ContentType row is relabelled (so its permissions, and the
staff roles holding them, follow the model) and the staff audit log's object labels follow too.
Used by the migrations that took JobRun out of backoffice and the schedule change log and
overview out of tenants and backoffice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import migrations


def model_relabel(old_app: str, new_app: str, model_name: str) -> migrations.RunPython:
    """A RunPython that moves `old_app.model_name`'s content type and audit labels to
    `new_app` (and back on reverse)."""

    def move(old: str, new: str) -> Callable[[Any, Any], None]:
        def run(apps: Any, schema_editor: Any) -> None:
            ContentType = apps.get_model("contenttypes", "ContentType")
            model = model_name.lower()
            if not ContentType.objects.filter(app_label=new, model=model).exists():
                ContentType.objects.filter(app_label=old, model=model).update(app_label=new)
            AuditEntry = apps.get_model("backoffice", "AuditEntry")
            AuditEntry.objects.filter(object_type=f"{old}.{model_name}").update(
                object_type=f"{new}.{model_name}"
            )

        return run

    return migrations.RunPython(move(old_app, new_app), move(new_app, old_app))
