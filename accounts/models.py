from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower

from accounts.signals import password_changed


class User(AbstractUser):
    """A person. Global (public schema): one person may belong to several tenants.

    What a user may do inside a tenant is their Membership there; `is_staff` means platform staff,
    who work in the admin on the public domain only.
    """

    email = models.EmailField("email address")  # required here (AbstractUser's is optional)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Django keeps the new raw password in `_password` from set_password() until this save
        # (it calls the password validators' password_changed() on it); check_password()'s
        # hash upgrades clear it first, so they do not count as a change.
        changed = getattr(self, "_password", None) is not None and not self._state.adding
        super().save(*args, **kwargs)
        if changed:
            password_changed.send(sender=type(self), user=self)
