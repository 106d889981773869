"""Middleware that runs before anything reads the database or the tenant.

- `/healthz` is answered here, before django-tenants resolves the Host header: it must answer on
  every domain, with its JSON, while PostgreSQL is down or before the platform's first boot
  created any domain. So is the favicon (`/favicon.ico`, which browsers ask every domain for,
  and `/favicon.svg`, which pages link): one small SVG, no database, no tenant.
- A NUL byte in the path, the query or a form field is a 400: PostgreSQL refuses NUL in text,
  so it would otherwise surface as a 500 wherever the value is used.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote_to_bytes

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from saas.health import healthz

HEALTH_PATH = "/healthz"
FAVICON_PATHS = ("/favicon.ico", "/favicon.svg")
FAVICON = (Path(__file__).resolve().parent / "static" / "favicon.svg").read_bytes()


def favicon(request: HttpRequest) -> HttpResponse:
    # Browsers take an SVG answer at /favicon.ico too; a day of caching.
    response = HttpResponse(FAVICON, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


class HealthMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == HEALTH_PATH:
            return healthz(request)
        if request.path_info in FAVICON_PATHS:
            return favicon(request)
        return self.get_response(request)


class NulByteMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            return HttpResponseBadRequest(
                "The request contains a NUL character, which is never valid here.",
                content_type="text/plain",
            )
        return self.get_response(request)


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path_info:
        return True
    if b"\x00" in unquote_to_bytes(request.META.get("QUERY_STRING", "")):
        return True
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        for key, values in request.POST.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return True
    return False
