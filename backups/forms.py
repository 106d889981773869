"""Forms of the backup pages: the new tenant a backup is restored as."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from backups.restore_checks import RestoreRefused, restore_as_new_check
from tenants.models import Tenant, slug_validate


class RestoreAsNewForm(forms.Form):
    slug = forms.CharField(
        max_length=40,
        help_text="The new tenant's slug: its schema and its domain (<slug>.<base domain>) "
        "follow from it. Lowercase letters, digits and hyphens.",
    )
    name = forms.CharField(max_length=200)

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].strip().lower()
        slug_validate(slug)
        if Tenant.objects.filter(slug=slug).exists():
            raise ValidationError("A tenant with this slug already exists.")
        return slug

    def clean(self) -> dict[str, object]:
        # The job checks the same again before it starts (backups.restore_checks): a schema or
        # domain taken since, a name too long.
        data = super().clean() or {}
        if "slug" in data and "name" in data:
            try:
                restore_as_new_check(slug=str(data["slug"]), name=str(data["name"]))
            except RestoreRefused as exc:
                raise ValidationError(str(exc)) from exc
        return data
