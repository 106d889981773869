from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from tenants.models import Tenant, slug_validate
from tenants.timezones import INPUT_CLASSES, TimezoneField


class TenantCreateForm(forms.ModelForm):
    """Create a tenant with its first owner (an existing user, or a new one invited by email)."""

    timezone = TimezoneField(initial="UTC")
    owner_email = forms.EmailField(
        widget=forms.EmailInput(attrs={"class": INPUT_CLASSES}),
        help_text="The first owner. An unknown address gets a new account and an email to set "
        "a password.",
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
    timezone = TimezoneField()

    class Meta:
        model = Tenant
        fields = ["name", "timezone", "session_max_age_days", "storage_quota_mb"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A zone stored before the picker offered canonical zones only stays choosable.
        field = self.fields["timezone"]
        assert isinstance(field, TimezoneField)
        field.keep(self.instance.timezone)
