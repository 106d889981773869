"""The sign-in form of the staff admin and of every tenant's portal, throttled the same way
(accounts/throttle.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest

from accounts.throttle import signin_attempt
from saas.http import client_ip


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed sign-in attempts. Please wait a few minutes and try again.",
    }
    #: The throttle's scope: the schema of the domain signed in on ("public": staff admin).
    scope = "public"

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)

    def clean(self) -> dict[str, Any]:
        username = str(self.data.get("username", ""))
        ip = client_ip(self.request) if self.request else ""
        attempt = signin_attempt(scope=self.scope, username=username, ip=ip)
        if not attempt.allowed:
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            attempt.failed()
            raise
        attempt.succeeded()
        return cleaned
