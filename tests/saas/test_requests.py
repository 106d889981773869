"""Requests that must never become a server error: NUL bytes anywhere, an outage of PostgreSQL
or Redis, and /healthz on every domain whatever happens."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache.backends.redis import RedisCache
from django.test import Client

from accounts.models import User
from tests.helpers import host_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/admin/t/acme%00/",
        "/admin/jobs/jobrun/?state=failed%00",
        "/admin/t/acme/django_celery_beat/periodictask/?enabled__exact=1%00",
        "/accounts/login/?next=%00",
    ],
)
def test_a_nul_byte_in_a_url_or_query_is_a_400(viewer_client: Client, url: str) -> None:
    assert viewer_client.get(url).status_code == 400


def test_a_nul_byte_in_a_form_is_a_400(viewer_client: Client) -> None:
    response = viewer_client.post("/admin/jobs/jobrun/", {"action": "retry\x00"})
    assert response.status_code == 400


@pytest.mark.parametrize("host", ["localhost", "acme.localhost", "unknown.example.com"])
def test_healthz_answers_its_json_on_every_domain(host: str) -> None:
    response = Client(HTTP_HOST=host).get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


@pytest.mark.parametrize("host", ["localhost", "acme.localhost"])
def test_healthz_is_503_json_when_postgres_is_down(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    from saas import health

    def refuse(*args: Any, **kwargs: Any) -> Any:
        from django.db import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", refuse)
    response = Client(HTTP_HOST=host).get("/healthz")
    assert response.status_code == 503 and response.json()["postgres"] == "OperationalError"


def test_portal_sign_in_with_redis_down_is_a_clear_503(
    monkeypatch: pytest.MonkeyPatch, alice: User
) -> None:
    from accounts import throttle

    monkeypatch.setattr(throttle, "cache", RedisCache("redis://127.0.0.1:1/0", {}))
    client = Client(HTTP_HOST="acme.localhost", raise_request_exception=False)
    response = client.post("/accounts/login/", {"username": "alice", "password": "x"})
    assert response.status_code == 503
    assert "job queue (Redis) cannot be reached" in response.content.decode()


def test_operations_with_redis_down_says_so(operator: User) -> None:
    from tests.helpers import broker_switched

    client = host_client("localhost", operator)
    with broker_switched("redis://127.0.0.1:1/15"):
        page = client.get("/admin/operations/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "unknown (broker unreachable)" in body and "the broker (Redis) is unreachable" in body


@pytest.mark.parametrize("host", ["localhost", "acme.localhost", "unknown.localhost"])
@pytest.mark.parametrize("path", ["/favicon.ico", "/favicon.svg"])
def test_the_favicon_answers_on_every_domain(host: str, path: str) -> None:
    response = Client(HTTP_HOST=host).get(path)
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg") and "max-age" in response["Cache-Control"]
