from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """A person. Global (public schema): one person may belong to several tenants.

    What a user may do inside a tenant is their Membership there; `is_staff` means platform staff,
    who work in the admin on the public domain only.
    """

    email = models.EmailField("email address")

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username
