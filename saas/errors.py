"""The 500 handler of both URLconfs: an outage of PostgreSQL or Redis is a 503 with a page that
says what is down, not a server error. Django calls it inside the failed request's exception
handling, so `sys.exc_info()` is the cause. The page is rendered without the request context:
with the database or Redis away, neither the session nor the user can be read."""

from __future__ import annotations

import sys

import redis
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from kombu.exceptions import OperationalError as KombuOperationalError

# The errors that mean a service is away (and may come back), in one place: the 503 pages
# here, the task framework's retries and requeues, beat's failed sends.
DATABASE_DOWN: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
QUEUE_DOWN: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    KombuOperationalError,
    ConnectionError,  # a refused or reset socket, before kombu wraps it
)
SERVICE_DOWN = DATABASE_DOWN + QUEUE_DOWN


def server_error(request: HttpRequest) -> HttpResponse:
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_DOWN):
        what = "database"
    elif isinstance(exc, QUEUE_DOWN):
        what = "queue"
    else:
        return HttpResponse(render_to_string("500.html"), status=500)
    response = HttpResponse(render_to_string("503.html", {"what": what}), status=503)
    response["Retry-After"] = "30"
    return response
