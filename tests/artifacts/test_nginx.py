"""X-Accel-Redirect end to end: Debian's nginx (scripts/suite_tools.py; `make test` installs it where
missing) in front of the app, with the shipped snippet deploy/nginx/artifacts.conf. The app
checks and audits; nginx sends the bytes, Range included."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artifacts.models import DownloadEvent
from artifacts.serving import repr_digest
from scripts.suite_tools import tool_path
from tenants.models import Membership, Tenant
from tests.helpers import artifact_make, free_port, live_server, make_user, session_make

ROOT = Path(__file__).resolve().parents[2]
SNIPPET = ROOT / "deploy" / "nginx" / "artifacts.conf"
BODY = b"0123456789abcdef" * 4096  # 64 KB


@pytest.fixture
def app_port(live_db: None) -> Iterator[int]:
    with live_server() as port:
        yield port


@pytest.fixture
def nginx(app_port: int, artifacts_root: Path, settings: Any, tmp_path: Path) -> Iterator[int]:
    settings.ARTIFACTS_X_ACCEL_LOCATION = "/_artifacts/"
    artifacts_root.mkdir(parents=True, exist_ok=True)
    snippet = SNIPPET.read_text().replace("/srv/saas/var/artifacts/", f"{artifacts_root}/")
    (tmp_path / "artifacts.conf").write_text(snippet)
    port = free_port()
    temp = " ".join(f"{name}_temp_path {tmp_path}/{name};"
                    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    # master_process off: one process as the user running the tests (no privilege drop).
    (tmp_path / "nginx.conf").write_text(f"""
daemon off; master_process off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;
events {{}}
http {{
  access_log off; {temp}
  server {{
    listen 127.0.0.1:{port};
    include {tmp_path}/artifacts.conf;
    location / {{ proxy_pass http://127.0.0.1:{app_port}; proxy_set_header Host $host; }}
  }}
}}
""")
    process = subprocess.Popen([tool_path("nginx"), "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                               stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {process.stderr.read()!r}") from None  # type: ignore[union-attr]
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _get(port: int, path: str, host: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     headers={"Host": host, **headers})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_nginx_sends_the_file_after_the_app_said_yes(nginx: int) -> None:
    acme = Tenant.objects.get(slug="acme")
    alice = make_user("live-alice")
    Membership.objects.create(user=alice, tenant=acme, role=Membership.Role.OWNER)
    artifact = artifact_make(acme, BODY, filename="résumé.pdf")
    cookie = f"sessionid={session_make('acme', alice)}"
    path = f"/downloads/file/{artifact.pk}"

    status, headers, body = _get(nginx, path, "acme.localhost", Cookie=cookie)
    assert status == 200 and body == BODY
    assert "X-Accel-Redirect" not in headers
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"resume.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    )
    assert headers["Cache-Control"] == "private, no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Repr-Digest"] == repr_digest(artifact.sha256)

    status, headers, body = _get(nginx, path, "acme.localhost", Cookie=cookie,
                                 Range="bytes=100-199")  # fmt: skip
    assert status == 206 and body == BODY[100:200]
    assert headers["Content-Range"] == f"bytes 100-199/{len(BODY)}"

    # The internal location is not reachable from outside, and a refusal sends nothing.
    status, _, body = _get(nginx, f"/_artifacts/{artifact.storage_key}", "acme.localhost")
    assert status == 404 and BODY[:32] not in body
    status, _, body = _get(nginx, path, "globex.localhost", Cookie=cookie)
    assert status == 403 and BODY[:32] not in body

    outcomes = list(DownloadEvent.objects.order_by("id").values_list("outcome", "range_start"))
    assert outcomes == [("handed_off", 0), ("handed_off", 100), ("forbidden", None)]
