"""Where the bytes live: STORAGES["artifacts"], reached only through here. Keys are made from
the tenant's immutable id and random bytes; nothing a user typed ever becomes part of a path."""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Iterable, Iterator
from typing import IO, cast

from django.core.files.storage import Storage, storages
from django.utils import timezone

from artifacts.models import KEY_RE

CHUNK = 256 * 1024


def artifact_storage() -> Storage:
    return storages["artifacts"]


def storage_is_s3(storage: Storage | None = None) -> bool:
    # By capability, not import: the S3 backend is only imported when configured.
    storage = storage or artifact_storage()
    return type(storage).__module__.startswith("storages.backends.s3")


def key_make(*, tenant_id: int, kind: str, extension: str = "") -> str:
    now = timezone.now()
    ext = f".{extension}" if extension else ""
    key = f"{tenant_id}/{kind}/{now:%Y}/{now:%m}/{secrets.token_hex(16)}{ext}"
    if not key_valid(key, tenant_id=tenant_id):
        raise ValueError(f"not a valid artifact key: {key!r}")
    return key


def key_valid(key: str, *, tenant_id: int) -> bool:
    """The key has our shape and belongs to this tenant (checked before every read)."""
    match = KEY_RE.match(key)
    return match is not None and int(match["tenant"]) == tenant_id


class QuotaExceeded(Exception):
    """Writing this file would take the tenant past its storage quota."""


class HashingReader(io.RawIOBase):
    """A read-only, forward-only file over an iterator of bytes (or another file) that hashes
    and counts what passes through, so a file is stored in one pass without being held in
    memory. Reading past `limit` bytes raises QuotaExceeded: the write stops there."""

    def __init__(self, source: Iterable[bytes] | IO[bytes], *, limit: int | None = None) -> None:
        if isinstance(source, Iterable) and not hasattr(source, "read"):
            self._chunks: Iterator[bytes] = iter(source)
        else:
            reader = cast(IO[bytes], source)
            self._chunks = iter(lambda: reader.read(CHUNK), b"")
        self._pending = b""
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.limit = limit

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.size

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = len(buffer)
        while len(self._pending) < want:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._pending += chunk
        data, self._pending = self._pending[:want], self._pending[want:]
        self.sha256.update(data)
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            raise QuotaExceeded("the file would pass the tenant's storage quota")
        buffer[: len(data)] = data
        return len(data)


def bytes_read(key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The stored bytes from `start` to `end` (inclusive), in chunks."""
    with artifact_storage().open(key, "rb") as handle:
        if start:
            handle.seek(start)
        remaining = None if end is None else end - start + 1
        while remaining is None or remaining > 0:
            chunk = handle.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


def stored_size(key: str) -> int | None:
    """The stored file's size, or None when it is missing."""
    storage = artifact_storage()
    try:
        return int(storage.size(key))
    except (FileNotFoundError, OSError):
        return None
    except Exception as exc:
        # On S3 a missing key is botocore's ClientError with a 404 (imported only there).
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if storage_is_s3(storage) and code in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
