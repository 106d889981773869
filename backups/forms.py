"""Forms of the backup pages: the new tenant a backup is restored as."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

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
