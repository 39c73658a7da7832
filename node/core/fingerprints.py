"""Document fingerprints: SHA-256 (the default) or SM3 (GM/T 0004-2012, GB/T 32905-2016).

The one place that hashes a document's bytes under a chosen algorithm, and that turns a
fingerprint into the 32-byte value the anchoring tree takes as a leaf input
(``docs/receipt.md``, ``docs/standards.md`` "SM3 (GM/T 0004) fingerprints"):

* ``sha256``: the digest is anchored as it is (every receipt issued before SM3 existed, and any
  32-byte value a caller chose: material asset ids, verification record hashes);
* ``sm3``: the digest is anchored under a domain tag,
  ``keccak256(abi.encode(bytes32 SM3_TAG, bytes32 digest))`` with
  ``SM3_TAG = keccak256("credledger.fingerprint.sm3")``. So the algorithm is committed in the leaf
  the contract checks: an SM3 receipt relabelled ``sha256`` (or a SHA-256 one relabelled ``sm3``)
  no longer leads to its root.

SM3 comes from the OpenSSL that Python's ``hashlib`` is linked with (OpenSSL 1.1.1 and 3.x ship
it); :func:`sm3_available` says whether this platform has it, and hashing with SM3 where it does not
raises :class:`FingerprintUnavailable` with what to do.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

from credledger.node.core.errors import InputError
from credledger.node.core.merkle import keccak256

Fingerprint = Literal["sha256", "sm3"]
FINGERPRINTS: tuple[Fingerprint, ...] = ("sha256", "sm3")
DEFAULT_FINGERPRINT: Fingerprint = "sha256"

SM3_DOMAIN = b"credledger.fingerprint.sm3"
SM3_TAG = keccak256(SM3_DOMAIN)
# how each fingerprint's digest becomes the 32-byte value anchored (the leaf's input)
ANCHORED_VALUE_ENCODING: dict[Fingerprint, str] = {
    "sha256": "docHash",
    "sm3": 'keccak256(abi.encode(keccak256("credledger.fingerprint.sm3"), bytes32 docHash))',
}
# the standard each algorithm is defined by (shown in receipts' docs and check lines)
STANDARD: dict[Fingerprint, str] = {
    "sha256": "SHA-256 (FIPS 180-4)",
    "sm3": "SM3 (GM/T 0004-2012, GB/T 32905-2016)",
}


class FingerprintUnavailable(InputError):
    """The platform's hash library lacks the algorithm asked for (SM3 without OpenSSL ≥ 1.1.1)."""

    code = "fingerprint_unavailable"
    http_status = 501


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


def parse_fingerprint(value: Any, field: str = "fingerprint") -> Fingerprint:
    """``"sha256"`` or ``"sm3"`` (case-insensitive, ``sha-256`` accepted); InputError if not."""
    if isinstance(value, str):
        v = value.strip().lower().replace("-", "")
        if v in FINGERPRINTS:
            return v
    allowed = ", ".join(repr(f) for f in FINGERPRINTS)
    raise InputError(f"{field}: must be one of {allowed}, got {value!r}"[:200], field=field)


@cache
def sm3_available() -> bool:
    """Whether ``hashlib`` can compute SM3 here (Python linked with an OpenSSL that has it)."""
    try:
        hashlib.new("sm3")
    except ValueError:
        return False
    return True


def new_hasher(algorithm: Fingerprint) -> _Hasher:
    """A fresh incremental hasher for ``algorithm``."""
    if algorithm == "sha256":
        return hashlib.sha256()
    if algorithm == "sm3":
        if not sm3_available():
            raise FingerprintUnavailable(
                "SM3 is not available on this platform: Python's hashlib is linked with an "
                "OpenSSL without SM3 (it needs OpenSSL 1.1.1 or 3.x built with SM3); use "
                "--fingerprint sha256, or run on a platform whose OpenSSL has SM3",
                algorithm="sm3",
            )
        return hashlib.new("sm3")
    parse_fingerprint(algorithm)  # raises for anything else
    raise AssertionError("unreachable")  # pragma: no cover


def fingerprint_of(data: bytes, algorithm: Fingerprint = DEFAULT_FINGERPRINT) -> bytes:
    """The 32-byte digest of ``data`` under ``algorithm`` (``"sha256"`` or ``"sm3"``)."""
    h = new_hasher(algorithm)
    h.update(data)
    return h.digest()


class FileDigest(bytes):
    """A file's SHA-256 (the bytes themselves: what a route that knows no type uses) with its SM3
    digest beside it (``sm3``; None where the platform has no SM3). One pass over an upload gives
    both, and a licence route picks its type's fingerprint with :meth:`of`."""

    sm3: bytes | None = None

    def of(self, algorithm: str) -> bytes:
        if algorithm != "sm3":
            return bytes(self)
        if self.sm3 is None:
            new_hasher("sm3")  # raises FingerprintUnavailable, saying what to do
        return bytes(self.sm3 or b"")


class FileDigester:
    """Feeds SHA-256 and (where the platform has it) SM3 at once: :meth:`result` is the
    :class:`FileDigest`."""

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._sm3 = hashlib.new("sm3") if sm3_available() else None

    def update(self, data: bytes) -> None:
        self._sha256.update(data)
        if self._sm3 is not None:
            self._sm3.update(data)

    def result(self) -> FileDigest:
        out = FileDigest(self._sha256.digest())
        out.sm3 = self._sm3.digest() if self._sm3 is not None else None
        return out


def file_digest(data: bytes) -> FileDigest:
    """:class:`FileDigest` of ``data``."""
    d = FileDigester()
    d.update(data)
    return d.result()


def pick_digest(digest: bytes | None, algorithm: str) -> bytes | None:
    """The digest of an uploaded file under a licence type's ``algorithm``: a
    :class:`FileDigest` gives its SM3 for ``sm3``; any other value is taken as it is."""
    if isinstance(digest, FileDigest):
        return digest.of(algorithm)
    return digest


def fingerprint_file(
    path: Path, algorithm: Fingerprint = DEFAULT_FINGERPRINT, chunk: int = 1 << 20
) -> bytes:
    """The digest of a file's bytes under ``algorithm``, read in chunks."""
    h = new_hasher(algorithm)
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.digest()


def anchored_value(digest: bytes, algorithm: Fingerprint) -> bytes:
    """The 32-byte value anchored for a document whose fingerprint is ``digest``: the digest itself
    for SHA-256 (unchanged since the first receipt), the SM3-tagged keccak for SM3."""
    if len(digest) != 32:
        raise InputError("a fingerprint is 32 bytes")
    if algorithm == "sha256":
        return bytes(digest)
    if algorithm == "sm3":
        return keccak256(SM3_TAG + bytes(digest))
    parse_fingerprint(algorithm)
    raise AssertionError("unreachable")  # pragma: no cover
