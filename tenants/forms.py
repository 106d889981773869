from __future__ import annotations

import zoneinfo

from django import forms
from django.core.exceptions import ValidationError

from tenants.models import Tenant, slug_validate

TIMEZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


class TenantCreateForm(forms.ModelForm):
    """Create a tenant with its first owner (an existing user, or a new one invited by email)."""

    timezone = forms.ChoiceField(choices=TIMEZONE_CHOICES, initial="UTC")
    owner_email = forms.EmailField(
        help_text="The first owner. An unknown address gets a new account and an email to set "
        "a password."
    )

    class Meta:
        model = Tenant
        fields = ["name", "slug", "timezone"]

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].lower()
        slug_validate(slug)
        if Tenant.objects.filter(slug=slug).exists():
            raise ValidationError("A tenant with this slug already exists.")
        return slug

    def validate_unique(self) -> None:
        # schema_name is derived by the provisioning service, not entered here.
        pass


class TenantChangeForm(forms.ModelForm):
    timezone = forms.ChoiceField(choices=TIMEZONE_CHOICES)

    class Meta:
        model = Tenant
        fields = ["name", "timezone", "session_max_age_days"]
