"""The age file format (https://age-encryption.org/v1), X25519 recipients only, streamed.

Why our own few lines rather than a binding: a backup is produced as a stream of chunks (the
archive is made while PostgreSQL sends the rows) and downloaded as one, so we need a push-style
encryptor and a pull-style decryptor that hold one 64 KiB chunk at a time; the Python bindings
of age read and write whole files. The primitives are `cryptography`'s (X25519, HKDF-SHA256,
ChaCha20-Poly1305, HMAC-SHA256); the format is checked against the real `age` program in
tests/backups/test_crypto.py, both ways, so a person can always decrypt with `age -d -i key`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

VERSION_LINE = b"age-encryption.org/v1"
CHUNK = 64 * 1024  # plaintext bytes per payload chunk, fixed by the format
TAG = 16
_X25519_INFO = b"age-encryption.org/v1/X25519"
_ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
_ARMOR_END = "-----END AGE ENCRYPTED FILE-----"


class AgeError(ValueError):
    """Not an age file for this identity, or damaged: nothing of it may be trusted."""


# --- Bech32 (BIP 173), how age writes keys ------------------------------------------------------
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values: list[int]) -> int:
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if ((top >> i) & 1) else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc, bits, out, maxv = 0, 0, [], (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad and bits:
        out.append((acc << (to_bits - bits)) & maxv)
    elif not pad and (bits >= from_bits or ((acc << (to_bits - bits)) & maxv)):
        raise AgeError("invalid padding in a key")
    return out


def bech32_encode(hrp: str, data: bytes) -> str:
    values = _convert_bits(data, 8, 5, True)
    polymod = _polymod([*_hrp_expand(hrp), *values, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[v] for v in values + checksum)


def bech32_decode(text: str, hrp: str) -> bytes:
    if text.lower() != text and text.upper() != text:
        raise AgeError("a key is mixed case")
    text = text.lower()
    head, sep, rest = text.rpartition("1")
    if not sep or head != hrp or len(rest) < 6 or any(c not in _CHARSET for c in rest):
        raise AgeError(f"not an age key of type {hrp!r}")
    values = [_CHARSET.index(c) for c in rest]
    if _polymod(_hrp_expand(head) + values) != 1:
        raise AgeError("a key's checksum is wrong (mistyped or cut)")
    return bytes(_convert_bits(values[:-6], 5, 8, False))


# --- Keys ----------------------------------------------------------------------------------------
def identity_generate() -> str:
    """A new X25519 identity, written as age-keygen writes it (AGE-SECRET-KEY-1…)."""
    raw = X25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return bech32_encode("age-secret-key-", raw).upper()


def _identity_key(identity: str) -> X25519PrivateKey:
    raw = bech32_decode(identity.strip(), "age-secret-key-")
    if len(raw) != 32:
        raise AgeError("an age identity holds 32 bytes")
    return X25519PrivateKey.from_private_bytes(raw)


def identity_recipient(identity: str) -> str:
    """The public half (age1…) of an identity; AgeError if it is not a valid identity."""
    public = _identity_key(identity).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return bech32_encode("age", public)


def recipient_check(recipient: str) -> bytes:
    raw = bech32_decode(recipient.strip(), "age")
    if len(raw) != 32:
        raise AgeError("an age recipient holds 32 bytes")
    return raw


def key_fingerprint(recipient: str) -> str:
    """A short, stable name for a key (its recipient's sha256), safe to store and show."""
    return hashlib.sha256(recipient.strip().encode()).hexdigest()[:16]


# --- The format ------------------------------------------------------------------------------
def _b64(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def _unb64(text: bytes) -> bytes:
    if b"=" in text or b"\r" in text:
        raise AgeError("bad base64 in the header")
    try:
        return base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except ValueError as exc:
        raise AgeError("bad base64 in the header") from exc


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class Encryptor:
    """Push plaintext in with `update`, take ciphertext out; `finish` once at the end. Holds at
    most one chunk: a full chunk is only written once more data shows it is not the last."""

    def __init__(self, recipient: str) -> None:
        their_public = recipient_check(recipient)
        file_key = os.urandom(16)
        ephemeral = X25519PrivateKey.generate()
        share = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(their_public))
        wrap_key = _hkdf(shared, share + their_public, _X25519_INFO)
        body = ChaCha20Poly1305(wrap_key).encrypt(b"\x00" * 12, file_key, None)
        header = VERSION_LINE + b"\n-> X25519 " + _b64(share) + b"\n" + _b64(body) + b"\n---"
        mac = hmac.new(_hkdf(file_key, b"", b"header"), header, hashlib.sha256).digest()
        nonce = os.urandom(16)
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        self._pending = header + b" " + _b64(mac) + b"\n" + nonce
        self._buffer = bytearray()
        self._counter = 0

    def _seal(self, chunk: bytes, last: bool) -> bytes:
        sealed = self._aead.encrypt(_nonce(self._counter, last), chunk, None)
        self._counter += 1
        return sealed

    def update(self, data: bytes | memoryview) -> bytes:
        self._buffer += data
        out = [self._pending]
        self._pending = b""
        # Keep the last (possibly full) chunk back: only `finish` may mark a chunk last.
        while len(self._buffer) > CHUNK:
            out.append(self._seal(bytes(self._buffer[:CHUNK]), last=False))
            del self._buffer[:CHUNK]
        return b"".join(out)

    def finish(self) -> bytes:
        out = self._pending + self._seal(bytes(self._buffer), last=True)
        self._pending, self._buffer = b"", bytearray()
        return out


def _header_read(source: IO[bytes]) -> tuple[list[tuple[list[bytes], bytes]], bytes, bytes]:
    """The stanzas (arguments, body), the bytes the MAC covers, and the MAC."""
    covered = bytearray()

    def line() -> bytes:
        text = source.readline(1024)
        if not text.endswith(b"\n"):
            raise AgeError("not an age file (or cut short in its header)")
        return text[:-1]

    if line() != VERSION_LINE:
        raise AgeError("not an age v1 file")
    covered += VERSION_LINE + b"\n"
    stanzas: list[tuple[list[bytes], bytes]] = []
    current = line()
    while current.startswith(b"-> "):
        covered += current + b"\n"
        arguments = current[3:].split(b" ")
        body = bytearray()
        while True:
            body_line = line()
            covered += body_line + b"\n"
            if len(body_line) > 64:
                raise AgeError("a header line is too long")
            body += _unb64(body_line)
            if len(body_line) < 64:
                break
        stanzas.append((arguments, bytes(body)))
        current = line()
    if not current.startswith(b"--- "):
        raise AgeError("malformed age header")
    covered += b"---"
    return stanzas, bytes(covered), _unb64(current[4:])


class Decryptor(io.RawIOBase):
    """A readable stream of the plaintext of an age file, decrypted one chunk at a time. Every
    chunk is authenticated before any of it is returned; a damaged, cut or extended file raises
    AgeError at the first bad chunk."""

    def __init__(self, source: IO[bytes], identity: str) -> None:
        self._source = source
        key = _identity_key(identity)
        our_public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        stanzas, covered, mac = _header_read(source)
        file_key = None
        for arguments, body in stanzas:
            if arguments[0] != b"X25519" or len(arguments) != 2 or len(body) != 32:
                continue
            share = _unb64(arguments[1])
            if len(share) != 32:
                raise AgeError("malformed X25519 stanza")
            shared = key.exchange(X25519PublicKey.from_public_bytes(share))
            wrap_key = _hkdf(shared, share + our_public, _X25519_INFO)
            try:
                file_key = ChaCha20Poly1305(wrap_key).decrypt(b"\x00" * 12, body, None)
                break
            except InvalidTag:
                continue
        if file_key is None:
            raise AgeError("this file was not encrypted to this key")
        expected = hmac.new(_hkdf(file_key, b"", b"header"), covered, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, mac):
            raise AgeError("the age header was altered")
        nonce = source.read(16)
        if len(nonce) != 16:
            raise AgeError("age file cut short")
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        self._counter = 0
        self._next = source.read(CHUNK + TAG)
        self._plain = b""
        self._done = False

    def _advance(self) -> None:
        sealed = self._next
        self._next = self._source.read(CHUNK + TAG)
        last = not self._next
        if len(sealed) < TAG or (not last and len(sealed) != CHUNK + TAG):
            raise AgeError("age file cut short or damaged")
        try:
            self._plain = self._aead.decrypt(_nonce(self._counter, last), sealed, None)
        except InvalidTag as exc:
            raise AgeError(f"age payload chunk {self._counter} is damaged") from exc
        if last and not self._plain and self._counter:
            raise AgeError("age file ends with an empty chunk")
        self._counter += 1
        self._done = last

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._plain and not self._done:
            self._advance()
        take = min(len(buffer), len(self._plain))
        buffer[:take] = self._plain[:take]
        self._plain = self._plain[take:]
        return take

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()


def armor(data: bytes) -> str:
    """age's ASCII armor (PEM-like), for a small file kept in a text column."""
    text = base64.b64encode(data).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "\n".join([_ARMOR_BEGIN, *lines, _ARMOR_END]) + "\n"


def unarmor(text: str) -> bytes:
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 2 or lines[0] != _ARMOR_BEGIN or lines[-1] != _ARMOR_END:
        raise AgeError("not an armored age file")
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError as exc:
        raise AgeError("bad base64 in an armored age file") from exc


def encrypt_small(data: bytes, recipient: str) -> bytes:
    encryptor = Encryptor(recipient)
    return encryptor.update(data) + encryptor.finish()


def decrypt_small(data: bytes, identity: str) -> bytes:
    return Decryptor(io.BytesIO(data), identity).read()
