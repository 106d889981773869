"""The baseline of bench/downloads.py: Django with no apps, no middleware and no checks, one
view returning a FileResponse of the same file (settings, URLconf and view in one module;
bench/downloads_bare_wsgi.py is the WSGI entry gunicorn loads)."""

from __future__ import annotations

import os

from django.http import FileResponse, HttpRequest
from django.urls import path

SECRET_KEY = "bench-only-bare-file-response"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.downloads_bare"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
USE_TZ = True
FILES = {
    "big": os.environ.get("BENCH_FILE_BIG", ""),
    "small": os.environ.get("BENCH_FILE_SMALL", ""),
}


def bare(request: HttpRequest, name: str) -> FileResponse:
    return FileResponse(open(FILES[name], "rb"), as_attachment=True, filename=f"{name}.bin")


urlpatterns = [path("bare/<str:name>", bare)]
