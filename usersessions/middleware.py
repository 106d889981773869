"""Django's SessionMiddleware, telling the session store where the request comes from."""

from __future__ import annotations

from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest

from saas.http import client_ip


class SessionMiddleware(DjangoSessionMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        # Recorded only when a key is issued (usersessions.engine): no work per request.
        request.session.client_ip = client_ip(request)  # type: ignore[attr-defined]
        request.session.user_agent = request.META.get("HTTP_USER_AGENT", "")  # type: ignore[attr-defined]
