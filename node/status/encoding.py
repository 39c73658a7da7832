"""The two list encodings, both ways.

W3C Bitstring Status List v1.0 (``encodedList``): one bit per index, index 0 the left-most
(most significant) bit of byte 0, GZIP-compressed, base64url without padding, with the multibase
prefix ``u``. At least 131,072 bits.

IETF Token Status List (``status_list.lst``): ``bits`` (1, 2, 4 or 8) per index, index 0 in the
least significant bits of byte 0, ZLIB (RFC 1950, DEFLATE)-compressed, base64url without padding.
Status values: 0 VALID, 1 INVALID, 2 SUSPENDED (3 is left to applications).
"""

from __future__ import annotations

import base64
import gzip
import io
import zlib
from collections.abc import Iterable, Mapping

from credledger.node.core.errors import InputError

VALID, INVALID, SUSPENDED = 0, 1, 2
# deterministic output: the same chain state gives the same bytes on every node
_GZIP_MTIME = 0
_MAX_DECODED = 64 * 1024 * 1024  # refuse a list that inflates past 64 MiB (a zip bomb)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as e:
        raise InputError("not base64url") from e


# --- W3C Bitstring Status List ------------------------------------------------------------------


def bitstring(size: int, set_bits: Iterable[int]) -> bytes:
    """``size`` bits (a multiple of 8), those in ``set_bits`` set, index 0 left-most."""
    buf = bytearray(size // 8)
    for i in set_bits:
        buf[i >> 3] |= 0x80 >> (i & 7)
    return bytes(buf)


def encode_bitstring(raw: bytes) -> str:
    """``encodedList``: multibase base64url (``u``) of the GZIP-compressed bitstring."""
    return "u" + b64url(gzip.compress(raw, compresslevel=9, mtime=_GZIP_MTIME))


def decode_bitstring(encoded: str) -> bytes:
    if not encoded.startswith("u"):
        raise InputError("encodedList must be multibase base64url (prefix 'u')")
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(unb64url(encoded[1:]))) as f:
            raw = f.read(_MAX_DECODED + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError("encodedList is not GZIP") from e
    if len(raw) > _MAX_DECODED:
        raise InputError("encodedList inflates past 64 MiB")
    return raw


def bit(raw: bytes, index: int) -> int:
    if not 0 <= index < len(raw) * 8:
        raise InputError(f"status index {index} outside the list of {len(raw) * 8}")
    return (raw[index >> 3] >> (7 - (index & 7))) & 1


# --- IETF Token Status List ---------------------------------------------------------------------


def token_list(size: int, statuses: Mapping[int, int], bits: int = 2) -> bytes:
    """``size`` statuses of ``bits`` each, the non-zero ones from ``statuses`` (index -> value),
    index 0 in the least significant bits of byte 0."""
    if bits not in (1, 2, 4, 8):
        raise InputError("bits must be 1, 2, 4 or 8")
    per_byte = 8 // bits
    buf = bytearray(-(-size // per_byte))
    mask = (1 << bits) - 1
    for i, value in statuses.items():
        if value & ~mask:
            raise InputError(f"status {value} does not fit in {bits} bits")
        shift = (i % per_byte) * bits
        byte = i // per_byte
        buf[byte] = (buf[byte] & ~(mask << shift)) | (value << shift)
    return bytes(buf)


def encode_token_list(raw: bytes) -> str:
    """``lst``: base64url of the ZLIB-compressed byte array."""
    return b64url(zlib.compress(raw, 9))


def decode_token_list(lst: str) -> bytes:
    d = zlib.decompressobj()
    try:
        raw = d.decompress(unb64url(lst), _MAX_DECODED + 1)
    except zlib.error as e:
        raise InputError("lst is not ZLIB") from e
    if len(raw) > _MAX_DECODED:
        raise InputError("lst inflates past 64 MiB")
    return raw


def token_status(raw: bytes, index: int, bits: int = 2) -> int:
    per_byte = 8 // bits
    if not 0 <= index < len(raw) * per_byte:
        raise InputError(f"status index {index} outside the list of {len(raw) * per_byte}")
    return (raw[index // per_byte] >> ((index % per_byte) * bits)) & ((1 << bits) - 1)
