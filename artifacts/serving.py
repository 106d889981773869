"""Serving one artifact: every check, the audit row, then the bytes — streamed by Python,
handed to the web server's sendfile (a whole file on local disk), to nginx (X-Accel-Redirect)
or to S3 (a one-minute presigned URL). The portal, the admin
and the share links all end here, so they cannot differ in what they check or record.

A refusal is a 403 or 404 with a few words and no byte of the file, and it is audited too."""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Callable, Generator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote

from django.conf import settings
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase

from accounts.models import User
from artifacts.access import Action, Role, artifact_allows
from artifacts.links import share_link_use
from artifacts.models import Artifact, DownloadEvent, ShareLink
from artifacts.services import artifact_problem_flag
from artifacts.storage import artifact_storage, bytes_read, key_valid, storage_is_s3, stored_size
from saas.http import client_ip
from tenants.models import Tenant

Outcome = DownloadEvent.Outcome
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Cache headers on every answer, refusals included: nothing here may be kept by a proxy.
NO_STORE = "private, no-store"


@dataclass(frozen=True)
class Asker:
    """Who asks, through which door: a member or staff user with their role, or a share link."""

    via: str  # DownloadEvent.Via
    tenant: Tenant | None  # the tenant whose domain this is (None: the platform admin)
    user: User | None = None
    role: Role = Role.NONE
    link: ShareLink | None = None


@dataclass(frozen=True)
class Plaintext:
    """What a download of a stored file that is not what the user gets (an encrypted backup)
    sends instead: the app that made the file says how to open it, and what it is."""

    open: Callable[[], AbstractContextManager[IO[bytes]]]
    size: int
    sha256: str
    filename: str
    content_type: str


class PlaintextUnavailable(Exception):
    """The plaintext cannot be had (its key was destroyed, …): the download is refused."""


# kind → how to open the plaintext of an artifact of that kind (None: serve the stored bytes).
# Filled by the apps above this one in their ready() (backups: decrypted backups), so serving
# never imports them.
PLAINTEXT_OPENERS: dict[str, Callable[[Artifact], Plaintext | None]] = {}


def plaintext_opener_register(kind: str, opener: Callable[[Artifact], Plaintext | None]) -> None:
    PLAINTEXT_OPENERS[kind] = opener


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback `filename` and the exact name as RFC 8187 `filename*`.
    Quotes, backslashes and control characters never reach the header (no reflected download
    or header splitting, whatever the name holds)."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r'[\x00-\x1f\x7f"\\;%]', "_", ascii_name).strip() or "download"
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


def repr_digest(sha256_hex: str) -> str:
    """RFC 9530 Repr-Digest: the whole representation's sha-256 as a byte sequence (RFC 8941)."""
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256_hex)).decode()}:"


def range_parse(header: str, size: int) -> tuple[int, int] | bool | None:
    """A single byte range as (first, last) inclusive; None to serve the whole file (no header,
    or one we do not serve partially: several ranges, bad syntax); False when unsatisfiable."""
    match = _RANGE_RE.match(header.strip().replace(" ", ""))
    if not header or match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            return False
        return max(0, size - suffix), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None  # invalid: ignored, the whole file
    if start >= size:
        return False
    return start, end


def _refuse(
    request: HttpRequest, asker: Asker, *, status: int, outcome: str, reason: str,
    artifact: Artifact | None = None, requested: str = "",
    extra: dict[str, str] | None = None,
) -> HttpResponse:  # fmt: skip
    _event(request, asker, artifact=artifact, requested=requested, outcome=outcome, reason=reason)
    words = {403: "You may not download this file.", 404: "No such file here.",
             416: "That part of the file does not exist."}  # fmt: skip
    response = HttpResponse(
        f"<!doctype html><title>{status}</title><p>{words.get(status, 'Refused.')}</p>",
        status=status, content_type="text/html; charset=utf-8",
    )  # fmt: skip
    response["Cache-Control"] = NO_STORE
    for name, value in (extra or {}).items():
        response[name] = value
    return response


def download_refuse(
    request: HttpRequest, asker: Asker, *, status: int, reason: str, requested: str = ""
) -> HttpResponse:
    """A refusal decided before an artifact is known (middleware, a bad link): audited too."""
    outcome = Outcome.FORBIDDEN if status == 403 else Outcome.NOT_FOUND
    return _refuse(request, asker, status=status, outcome=outcome, reason=reason,
                   requested=requested)  # fmt: skip


def _event(
    request: HttpRequest, asker: Asker, *, outcome: str, artifact: Artifact | None = None,
    requested: str = "", reason: str = "", span: tuple[int, int] | None = None,
) -> DownloadEvent:  # fmt: skip
    user = asker.user if asker.user is not None and asker.user.is_authenticated else None
    return DownloadEvent.objects.create(
        tenant=asker.tenant if asker.tenant is not None and not asker.tenant.is_public else None,
        artifact=artifact, requested=requested[:100], user=user,
        username=user.get_username() if user else "", share_link=asker.link, via=asker.via,
        ip_address=client_ip(request) or None,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        range_start=span[0] if span else None, range_end=span[1] if span else None,
        outcome=outcome, reason=reason[:200],
    )  # fmt: skip


def artifact_download(
    request: HttpRequest, asker: Asker, *, artifact: Artifact | None, requested: str = ""
) -> HttpResponseBase:
    """The one way an artifact's bytes leave the platform. `artifact` is what the door found
    for the request, already limited to the domain's tenant (None: nothing found)."""
    if artifact is None:
        return _refuse(request, asker, status=404, outcome=Outcome.NOT_FOUND,
                       reason="no such artifact", requested=requested)  # fmt: skip
    refuse: dict[str, Any] = {"artifact": artifact, "requested": requested}
    if (
        asker.tenant is not None
        and not asker.tenant.is_public
        and (artifact.tenant_id != asker.tenant.pk)
    ):
        return _refuse(request, asker, status=404, outcome=Outcome.NOT_FOUND,
                       reason="another tenant's artifact", **refuse)  # fmt: skip
    if asker.link is None and not artifact_allows(asker.role, Action.DOWNLOAD, artifact):
        return _refuse(request, asker, status=403, outcome=Outcome.FORBIDDEN,
                       reason=f"{asker.role.value} may not download {artifact.audience}-only files"
                       if artifact.audience == Artifact.Audience.OWNERS
                       else f"{asker.role.value} may not download", **refuse)  # fmt: skip
    if artifact.is_deleted or artifact.is_expired():
        return _refuse(request, asker, status=404, outcome=Outcome.NOT_FOUND,
                       reason="deleted" if artifact.is_deleted else "expired", **refuse)  # fmt: skip
    if not key_valid(artifact.storage_key, tenant_id=artifact.tenant_id):
        artifact_problem_flag(artifact=artifact, problem="storage key is not a valid key")
        return _refuse(request, asker, status=404, outcome=Outcome.UNAVAILABLE,
                       reason="invalid storage key", **refuse)  # fmt: skip
    # Before the first byte: the file is there and has the registry's size.
    size = stored_size(artifact.storage_key)
    if size != artifact.size:
        problem = "file missing" if size is None else f"file is {size} bytes, not {artifact.size}"
        artifact_problem_flag(artifact=artifact, problem=problem)
        return _refuse(request, asker, status=404, outcome=Outcome.UNAVAILABLE, reason=problem,
                       **refuse)  # fmt: skip
    opener = PLAINTEXT_OPENERS.get(artifact.kind)
    try:
        plain = opener(artifact) if opener is not None else None
    except PlaintextUnavailable as exc:
        return _refuse(request, asker, status=404, outcome=Outcome.UNAVAILABLE,
                       reason=str(exc), **refuse)  # fmt: skip
    # Decrypted on the way: always the whole file, streamed by Python (no sendfile, nginx or
    # presigned URL could decrypt), so no Range.
    span = None if plain is not None else _span(request, artifact)
    if span is False:
        return _refuse(request, asker, status=416, outcome=Outcome.RANGE_NOT_SATISFIABLE,
                       reason=request.META.get("HTTP_RANGE", "")[:100],
                       extra={"Content-Range": f"bytes */{artifact.size}"}, **refuse)  # fmt: skip
    partial = span is not None
    first, last = span if isinstance(span, tuple) else (0, artifact.size - 1)
    if asker.link is not None and not share_link_use(link=asker.link, counts=first == 0):
        return _refuse(request, asker, status=403, outcome=Outcome.FORBIDDEN,
                       reason="link used up", **refuse)  # fmt: skip
    if plain is not None:
        return _deliver_plain(request, asker, artifact, plain)
    return _deliver(request, asker, artifact, first, last, partial)


def _deliver_plain(
    request: HttpRequest, asker: Asker, artifact: Artifact, plain: Plaintext
) -> HttpResponseBase:
    """The plaintext, streamed as it is decrypted. Its size and sha256 are the plaintext's
    (recorded when it was made), so Content-Length, Repr-Digest and the ETag describe what is
    sent; Range is not offered (Accept-Ranges: none): a resumed download starts again."""
    event = _event(request, asker, artifact=artifact, outcome=Outcome.INCOMPLETE,
                   reason="decrypted", span=(0, plain.size - 1) if plain.size else None)  # fmt: skip
    stream = _PlainStream(artifact, plain, event.pk)
    response = StreamingHttpResponse(stream, status=200, content_type=plain.content_type)
    response["Content-Disposition"] = content_disposition(plain.filename)
    response["Cache-Control"] = NO_STORE
    response["X-Content-Type-Options"] = "nosniff"
    response["Repr-Digest"] = repr_digest(plain.sha256)
    response["ETag"] = f'"{plain.sha256}"'
    response["Accept-Ranges"] = "none"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Length"] = str(plain.size)
    return response


def _span(request: HttpRequest, artifact: Artifact) -> tuple[int, int] | bool | None:
    header = request.META.get("HTTP_RANGE", "")
    if not header:
        return None
    if_range = request.META.get("HTTP_IF_RANGE")
    if if_range is not None and if_range.strip() != f'"{artifact.sha256}"':
        return None  # the file changed since the client's copy: all of it
    return range_parse(header, artifact.size)


def _headers(response: HttpResponseBase, artifact: Artifact) -> None:
    response["Content-Disposition"] = content_disposition(artifact.filename)
    response["Cache-Control"] = NO_STORE
    response["X-Content-Type-Options"] = "nosniff"
    response["Repr-Digest"] = repr_digest(artifact.sha256)
    response["ETag"] = f'"{artifact.sha256}"'
    response["Accept-Ranges"] = "bytes"
    # Opened in a tab anyway (a PDF), it can run nothing and load nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"


def _deliver(
    request: HttpRequest, asker: Asker, artifact: Artifact, first: int, last: int, partial: bool
) -> HttpResponseBase:
    storage = artifact_storage()
    span = (first, last) if artifact.size else None
    if storage_is_s3(storage):
        _event(request, asker, artifact=artifact, outcome=Outcome.HANDED_OFF, span=span,
               reason="presigned URL")  # fmt: skip
        url = storage.url(  # type: ignore[call-arg]
            artifact.storage_key,
            parameters={
                "ResponseContentDisposition": content_disposition(artifact.filename),
                "ResponseContentType": artifact.content_type,
                "ResponseCacheControl": NO_STORE,
            },
            expire=60,
        )
        redirect = HttpResponseRedirect(url)
        redirect["Cache-Control"] = NO_STORE
        return redirect
    location = settings.ARTIFACTS_X_ACCEL_LOCATION
    if location:
        _event(request, asker, artifact=artifact, outcome=Outcome.HANDED_OFF, span=span,
               reason="X-Accel-Redirect")  # fmt: skip
        # nginx serves the file and the request's Range itself, keeping these headers.
        response = HttpResponse(content_type=artifact.content_type)
        _headers(response, artifact)
        response["X-Accel-Redirect"] = f"{location.rstrip('/')}/{quote(artifact.storage_key)}"
        return response
    if settings.ARTIFACTS_SENDFILE and not partial and artifact.size:
        local = _local_path(storage, artifact.storage_key)
        if local is not None:
            _event(request, asker, artifact=artifact, outcome=Outcome.HANDED_OFF, span=span,
                   reason="sendfile")  # fmt: skip
            handed = FileResponse(open(local, "rb"), content_type=artifact.content_type)  # noqa: SIM115 (closed by the response)
            _headers(handed, artifact)
            handed["Content-Length"] = str(artifact.size)
            return handed
    event = _event(request, asker, artifact=artifact, outcome=Outcome.INCOMPLETE, span=span)
    stream = _Stream(artifact, event.pk, first, last, verify=first == 0 and not partial)
    streaming = StreamingHttpResponse(
        stream, status=206 if partial else 200, content_type=artifact.content_type
    )
    _headers(streaming, artifact)
    streaming["Content-Length"] = str(last - first + 1 if artifact.size else 0)
    if partial:
        streaming["Content-Range"] = f"bytes {first}-{last}/{artifact.size}"
    return streaming


def _local_path(storage: Any, key: str) -> str | None:
    """The file's path when the storage is a local directory (sendfile needs a real file)."""
    try:
        return str(storage.path(key))
    except NotImplementedError:  # object storage has no paths
        return None


class _Stream:
    """The bytes, counted (and for a whole file hashed) as they go; at the end (the server
    closes the response, also when the client went away) the audit row gets the bytes sent and
    the outcome, and a checksum that differs from the registry's is flagged to staff."""

    def __init__(self, artifact: Artifact, event_id: int, first: int, last: int, verify: bool):
        self.artifact, self.event_id = artifact, event_id
        self.expected = last - first + 1 if artifact.size else 0
        self.chunks = (
            bytes_read(artifact.storage_key, start=first, end=last) if self.expected else iter(())
        )
        self.digest = hashlib.sha256() if verify else None
        self.sent = 0
        self.closed = False

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> bytes:
        chunk = next(self.chunks)
        self.sent += len(chunk)
        if self.digest is not None:
            self.digest.update(chunk)
        return chunk

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()
        outcome, reason = Outcome.SENT, ""
        if self.sent != self.expected:
            outcome = Outcome.INCOMPLETE
        elif self.digest is not None and self.digest.hexdigest() != self.artifact.sha256:
            outcome, reason = Outcome.CHECKSUM_MISMATCH, "sha256 of the bytes sent differs"
            artifact_problem_flag(artifact=self.artifact, problem="checksum mismatch while serving")
        DownloadEvent.objects.filter(pk=self.event_id).update(
            bytes_sent=self.sent, outcome=outcome, reason=reason
        )


class _PlainStream:
    """Like _Stream, for a decrypted download: the plaintext is hashed as it goes and checked
    against the recorded digest at the end; the audit row gets the bytes sent and the outcome.
    A failure to decrypt midway ends the response short (the client sees a cut download) and
    is recorded."""

    def __init__(self, artifact: Artifact, plain: Plaintext, event_id: int) -> None:
        self.artifact, self.plain, self.event_id = artifact, plain, event_id
        self.digest = hashlib.sha256()
        self.sent = 0
        self.closed = False
        self.failure = ""
        self.chunks = self._read()

    def _read(self) -> Generator[bytes, None, None]:
        try:
            with self.plain.open() as source:
                while chunk := source.read(256 * 1024):
                    yield chunk
        except Exception as exc:  # recorded below; the response just ends
            self.failure = f"{type(exc).__name__}: {exc}"[:200]

    def __iter__(self) -> _PlainStream:
        return self

    def __next__(self) -> bytes:
        chunk = next(self.chunks)
        self.sent += len(chunk)
        self.digest.update(chunk)
        return chunk

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.chunks.close()
        outcome, reason = Outcome.SENT, "decrypted"
        if self.failure:
            outcome, reason = Outcome.INCOMPLETE, self.failure
            artifact_problem_flag(artifact=self.artifact, problem=f"cannot decrypt: {self.failure}")
        elif self.sent != self.plain.size:
            outcome = Outcome.INCOMPLETE
        elif self.digest.hexdigest() != self.plain.sha256:
            outcome, reason = Outcome.CHECKSUM_MISMATCH, "sha256 of the decrypted bytes differs"
            artifact_problem_flag(
                artifact=self.artifact, problem="checksum mismatch while decrypting"
            )
        DownloadEvent.objects.filter(pk=self.event_id).update(
            bytes_sent=self.sent, outcome=outcome, reason=reason
        )
