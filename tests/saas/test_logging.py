"""Logging: an expected 403 is one line in the log, not a traceback; real errors keep theirs."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from django.test import Client

from tests.helpers import SCHEDULE_ADD, form


@pytest.fixture
def console_log() -> Iterator[io.StringIO]:
    """What the configured console handler writes (LOGGING in saas/settings.py)."""
    handler = next(h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler)
    out = io.StringIO()
    previous = handler.setStream(out)
    try:
        yield out
    finally:
        handler.setStream(previous)


@pytest.mark.django_db
def test_a_refused_request_is_logged_as_one_line(
    viewer_client: Client, console_log: io.StringIO
) -> None:
    assert viewer_client.post(SCHEDULE_ADD, form()).status_code == 403
    lines = [line for line in console_log.getvalue().splitlines() if line.strip()]
    forbidden = [line for line in lines if "Forbidden" in line]
    assert len(forbidden) == 1 and SCHEDULE_ADD in forbidden[0]
    assert "Traceback" not in console_log.getvalue()


def test_other_errors_keep_their_traceback(console_log: io.StringIO) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("django.request").error("Internal Server Error: /x", exc_info=True,
                                                  extra={"status_code": 500})  # fmt: skip
    assert "Traceback" in console_log.getvalue() and "ValueError: boom" in console_log.getvalue()
