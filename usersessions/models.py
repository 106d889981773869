from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils import timezone


class Session(AbstractBaseSession):
    """One signed-in (or anonymous) browser session, in the schema of the domain it belongs to:
    a tenant's schema for its portal, public for staff.

    `user_id` is a plain column, not a foreign key: users live in public, and a constraint from
    a tenant schema into public would tie every tenant's DDL (and restores) to the public one.
    `created_at` is when this key was issued — at sign-in, since Django issues a new key then —
    and is what the maximum session age counts from. The client address and user agent are
    those of that moment.
    """

    created_at = models.DateTimeField("created", default=timezone.now)
    user_id = models.BigIntegerField(null=True, blank=True)
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta(AbstractBaseSession.Meta):
        # expire_date (indexed by AbstractBaseSession) and created_at serve the cleanup job;
        # user_id serves "every session of this user".
        indexes = [
            models.Index(fields=["created_at"], name="usersessions_created"),
            models.Index(fields=["user_id"], name="usersessions_user"),
        ]

    def __str__(self) -> str:
        # Not the key (Django's default): this shows up in admin pages and logs.
        return f"session {self.ref[:12]}"

    @property
    def ref(self) -> str:
        """An id for this session that is safe to put in a page or a form: the key itself is a
        credential (whoever holds it is signed in)."""
        return hashlib.sha256(self.session_key.encode()).hexdigest()[:24]

    @classmethod
    def get_session_store_class(cls) -> Any:
        from usersessions.engine import SessionStore

        return SessionStore
