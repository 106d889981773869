"""The session engine (SESSION_ENGINE = "usersessions.engine"): Django's database store with
our model, which also records the user, client address, user agent and creation time, and
which refuses a session older than the schema's maximum age.

Same queries as Django's store: one SELECT to load, one INSERT or UPDATE to save. The extra
columns ride along in those statements; the policy comes from the already-loaded tenant row.
Only refusing a session costs one more statement (its DELETE).
"""

from __future__ import annotations

import ipaddress
from typing import Any, cast

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.utils import timezone

from usersessions.models import Session
from usersessions.selectors import session_max_age_current

USER_AGENT_MAX = 300


def client_address_clean(value: str | None) -> str | None:
    """A valid IP address or None (a malformed X-Forwarded-For must not fail the save)."""
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


class SessionStore(DbSessionStore):
    # Set per request by usersessions.middleware.SessionMiddleware; stored when a key is issued.
    client_ip: str | None = None
    user_agent: str = ""

    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._row: Session | None = None

    @classmethod
    def get_model_class(cls) -> type[Session]:
        return Session

    # -- loading ---------------------------------------------------------------------------
    def _too_old(self, row: Session) -> bool:
        max_age = session_max_age_current()
        return max_age is not None and row.created_at <= timezone.now() - max_age

    def _get_session_from_db(self) -> Session | None:
        row = super()._get_session_from_db()  # type: ignore[misc]  # private: not in the stubs
        if row is not None and self._too_old(row):
            # Refused and flushed: the user signs in again (the middleware drops the cookie).
            row.delete()
            self._session_key = None
            return None
        self._row = row
        return row

    async def _aget_session_from_db(self) -> Session | None:
        row = await super()._aget_session_from_db()  # type: ignore[misc]  # private: not in the stubs
        if row is not None and self._too_old(row):
            await row.adelete()
            self._session_key = None
            return None
        self._row = row
        return row

    # -- saving ----------------------------------------------------------------------------
    def _with_details(self, obj: Session, data: dict[str, Any]) -> Session:
        try:
            obj.user_id = int(data[SESSION_KEY])
        except (KeyError, TypeError, ValueError):
            obj.user_id = None
        loaded = self._row
        if loaded is not None and loaded.session_key == obj.session_key:
            # An update keeps what was recorded when the key was issued.
            obj.created_at = loaded.created_at
            obj.ip_address = loaded.ip_address
            obj.user_agent = loaded.user_agent
        else:
            # A new key (sign-in cycles it): a new session as far as the policy is concerned.
            obj.created_at = timezone.now()
            obj.ip_address = client_address_clean(self.client_ip)
            obj.user_agent = (self.user_agent or "")[:USER_AGENT_MAX]
        return obj

    def create_model_instance(self, data: dict[str, Any]) -> Session:
        return self._with_details(cast(Session, super().create_model_instance(data)), data)

    async def acreate_model_instance(self, data: dict[str, Any]) -> Session:
        return self._with_details(cast(Session, await super().acreate_model_instance(data)), data)
