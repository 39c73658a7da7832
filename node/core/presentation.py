"""Presentation tokens: what a holder's phone shows at a counter as a QR code (frozen format v1).

A presentation is a short statement — *these assets, for this audience, nonce N, issued at T,
valid for S seconds* — signed by the presenter's key, and encoded so that a scan gun in keyboard
mode types it faithfully: ``CLP1`` followed by RFC 4648 base32 (``A``–``Z``, ``2``–``7``, no
padding). Only upper-case letters and digits: QR alphanumeric mode, nothing a Chinese input method
turns into a full-width character, nothing a form trims. With three assets and an audience the
token is at most 307 characters, which fits QR version 10 at error correction M.

This module is part of the core library (the wallet imports it; it imports no node service) and
its byte layout is **frozen**: changing it breaks every token a phone has cached and every
verification record that names a statement hash. ``docs/presentation.md`` documents it with test
vectors that ``tests/counter/test_presentation_format.py`` checks.

Binary layout (all integers big-endian)::

    body      = flags(1) | count(1) | issuedAt(4) | ttl(2) | nonce(8) | presenterTag(4)
                | [audienceTag(8) if flags & AUDIENCE] | assetId(32) * count
    signature = r(32) | s(32) | v(1)          v = parity of R.y (0 or 1), s <= n/2
    token     = "CLP1" + base32(body | signature)

    flags: bit 0 = signature kind (0 secp256k1 chain key, 1 P-256 device key),
           bit 1 = audience present, bits 2-7 = 0

The signed message is ``M = "CredLedger presentation v1" 0x00 | chainId(8) | body``:

- a chain key (secp256k1) signs ``M`` with EIP-191 version 0x45 (``personal_sign``, what every
  Ethereum wallet offers): digest ``keccak256("\\x19Ethereum Signed Message:\\n" + len(M) + M)``;
- a device key (NIST P-256, the curve of secure elements and passkeys) signs ``M`` with
  ECDSA-SHA256 (what Android Keystore and the Secure Enclave do natively). Its *address* is
  ``keccak256("P256" | x | y)[12:]`` of its public point; the token carries no public key:
  the verifier recovers it from the signature and ``v``.

The presenter tag is the first 4 bytes of the presenter's address: a recovered address that does
not start with it means the token was altered or damaged (``BAD_SIGNATURE``). The audience tag is
the first 8 bytes of ``keccak256(utf8(audience))`` (a department name, or ``department/counter``).
The *statement hash* ``sha256(M)`` identifies the statement: the node accepts it once.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from ecdsa import NIST256p, SigningKey, VerifyingKey, ellipticcurve, numbertheory
from ecdsa.util import sigdecode_string, sigencode_string
from eth_hash.auto import keccak
from eth_keys.datatypes import PrivateKey, Signature
from eth_utils.address import to_checksum_address

from credledger.node.core.errors import InputError

PREFIX = "CLP1"
DOMAIN_TAG = b"CredLedger presentation v1\x00"
DEFAULT_TTL = 120
MAX_TTL = 300
CLOCK_SKEW = 30
MAX_ASSETS = 8

FLAG_P256 = 0x01
FLAG_AUDIENCE = 0x02

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_P256_N = int(NIST256p.order)

SignatureKind = Literal["secp256k1", "p256"]


class TokenFormatError(InputError):
    """The text is not a well-formed presentation token (reason code ``TOKEN_MALFORMED``)."""

    code = "token_malformed"


@dataclass(frozen=True)
class Presentation:
    """A decoded token: the signed body's fields and the signature (not yet verified)."""

    kind: SignatureKind
    asset_ids: tuple[bytes, ...]
    issued_at: int
    ttl: int
    nonce: bytes
    presenter_tag: bytes
    audience_tag: bytes | None
    signature: bytes

    @property
    def expires_at(self) -> int:
        return self.issued_at + self.ttl

    def body(self) -> bytes:
        flags = (FLAG_P256 if self.kind == "p256" else 0) | (
            FLAG_AUDIENCE if self.audience_tag is not None else 0
        )
        out = bytearray([flags, len(self.asset_ids)])
        out += self.issued_at.to_bytes(4, "big") + self.ttl.to_bytes(2, "big")
        out += self.nonce + self.presenter_tag
        if self.audience_tag is not None:
            out += self.audience_tag
        for a in self.asset_ids:
            out += a
        return bytes(out)

    def message(self, chain_id: int) -> bytes:
        """``M``, the bytes the presenter signed."""
        return signing_message(self.body(), chain_id)

    def statement_hash(self, chain_id: int) -> bytes:
        """``sha256(M)``: what the single-use store remembers."""
        return hashlib.sha256(self.message(chain_id)).digest()

    def encode(self) -> str:
        return encode(self.body() + self.signature)


def signing_message(body: bytes, chain_id: int) -> bytes:
    return DOMAIN_TAG + chain_id.to_bytes(8, "big") + body


#: an audience naming one verifying node by its chain account: ``verifier:0x…`` (lower case)
VERIFIER_PREFIX = "verifier:"


def verifier_audience(address: str) -> str:
    """The audience that binds a token to the one node whose chain account is ``address``."""
    return VERIFIER_PREFIX + address.strip().lower()


def audience_tag(audience: str) -> bytes:
    """The first 8 bytes of ``keccak256(utf8(audience))``, the audience trimmed; a
    ``verifier:`` audience is lower-cased first (an address typed checksummed is the same)."""
    a = audience.strip()
    if a.lower().startswith(VERIFIER_PREFIX):
        a = a.lower()
    return keccak(a.encode("utf-8"))[:8]


def p256_address(vk: VerifyingKey) -> str:
    """A device key's address: ``keccak256("P256" | x | y)[12:]``, checksummed."""
    point = vk.to_string("raw")  # x | y, 64 bytes
    return to_checksum_address(keccak(b"P256" + point)[12:])


# --- text encoding -----------------------------------------------------------------------------


def encode(payload: bytes) -> str:
    return PREFIX + base64.b32encode(payload).decode("ascii").rstrip("=")


def decode(token: str) -> Presentation:
    """Parse a token as typed by a scan gun (surrounding blanks and a Caps-Lock case flip are
    tolerated); :class:`TokenFormatError` says what is wrong."""
    text = "".join(token.split()).upper()
    if not text.startswith(PREFIX):
        raise TokenFormatError(f"a presentation token starts with {PREFIX}; this one does not")
    b32 = text[len(PREFIX) :]
    if not b32 or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in b32):
        raise TokenFormatError("the token has characters outside A-Z and 2-7 after its prefix")
    try:
        raw = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    except ValueError:
        raise TokenFormatError("the token's base32 text is cut off or damaged") from None
    if len(raw) < 20 + 32 + 65:
        raise TokenFormatError("the token is too short to be a presentation")
    flags, count = raw[0], raw[1]
    if flags & ~(FLAG_P256 | FLAG_AUDIENCE):
        raise TokenFormatError("the token uses flags this node does not know (a newer format?)")
    if not 1 <= count <= MAX_ASSETS:
        raise TokenFormatError(f"a token names 1 to {MAX_ASSETS} assets, this one {count}")
    pos = 20
    aud: bytes | None = None
    if flags & FLAG_AUDIENCE:
        aud = raw[pos : pos + 8]
        pos += 8
    expected = pos + 32 * count + 65
    if len(raw) != expected:
        raise TokenFormatError(
            f"the token is {len(raw)} bytes long where its header announces {expected}"
        )
    assets = tuple(raw[pos + 32 * i : pos + 32 * (i + 1)] for i in range(count))
    return Presentation(
        kind="p256" if flags & FLAG_P256 else "secp256k1",
        asset_ids=assets,
        issued_at=int.from_bytes(raw[2:6], "big"),
        ttl=int.from_bytes(raw[6:8], "big"),
        nonce=raw[8:16],
        presenter_tag=raw[16:20],
        audience_tag=aud,
        signature=raw[expected - 65 :],
    )


# --- signing ---------------------------------------------------------------------------------


class Signer(Protocol):
    """A presenter key: its kind, its address, and a signature over ``M`` (r | s | v)."""

    kind: SignatureKind

    @property
    def address(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


class ChainKeySigner:
    """A secp256k1 chain key (the holder's or an agent's account key): EIP-191 over ``M``."""

    kind: SignatureKind = "secp256k1"

    def __init__(self, private_key: bytes | str) -> None:
        raw = (
            bytes.fromhex(private_key.removeprefix("0x"))
            if isinstance(private_key, str)
            else private_key
        )
        self._key = PrivateKey(raw)
        self._address = self._key.public_key.to_checksum_address()

    @property
    def address(self) -> str:
        return str(self._address)

    def sign(self, message: bytes) -> bytes:
        sig = self._key.sign_msg_hash(eip191_digest(message))  # low s, v in {0, 1}
        out: bytes = sig.r.to_bytes(32, "big") + sig.s.to_bytes(32, "big") + bytes([sig.v])
        return out


class DeviceKeySigner:
    """A P-256 device key: ECDSA-SHA256 over ``M``, low s, ``v`` found by recovery."""

    kind: SignatureKind = "p256"

    def __init__(self, key: SigningKey) -> None:
        if key.curve != NIST256p:
            raise ValueError("a device key is a NIST P-256 key")
        self._key = key
        self._vk: VerifyingKey = key.get_verifying_key()
        self._address = p256_address(self._vk)

    @classmethod
    def generate(cls) -> DeviceKeySigner:
        return cls(SigningKey.generate(curve=NIST256p, hashfunc=hashlib.sha256))

    @classmethod
    def from_pem(cls, pem: str | bytes) -> DeviceKeySigner:
        return cls(SigningKey.from_pem(pem, hashfunc=hashlib.sha256))

    @property
    def address(self) -> str:
        return self._address

    def private_pem(self) -> bytes:
        """The private key as PEM (for a key kept in a file; a phone keeps it in hardware)."""
        return bytes(self._key.to_pem())

    @property
    def public_key(self) -> bytes:
        """The uncompressed public point (0x04 | x | y), as a phone would register it."""
        return bytes(self._vk.to_string("uncompressed"))

    def sign(self, message: bytes) -> bytes:
        rs = self._key.sign_deterministic(
            message, hashfunc=hashlib.sha256, sigencode=sigencode_string
        )
        r, s = int.from_bytes(rs[:32], "big"), int.from_bytes(rs[32:], "big")
        if s > _P256_N // 2:
            s = _P256_N - s
        rs = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        for v, cand in enumerate(_p256_candidates(rs, message)):
            if cand.to_string("raw") == self._vk.to_string("raw"):
                return rs + bytes([v])
        raise RuntimeError("P-256 signature did not recover its own key")  # pragma: no cover


def eip191_digest(message: bytes) -> bytes:
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode() + message)


def _p256_candidates(rs: bytes, message: bytes) -> list[VerifyingKey]:
    # the library's recovery (signing picks v with it): the key for R.y even first, then odd
    found: list[VerifyingKey] = VerifyingKey.from_public_key_recovery_with_digest(
        rs,
        hashlib.sha256(message).digest(),
        NIST256p,
        hashfunc=hashlib.sha256,
        sigdecode=sigdecode_string,
    )
    return found


def _p256_recover(r: int, s: int, v: int, message: bytes) -> tuple[int, int]:
    """The public point ``Q = r⁻¹(s·R − e·G)`` for the ``R`` with x = r and y parity ``v``.

    Kept hand-written on the verifier's hot path (one candidate, one ``mul_add`` of the ``ecdsa``
    package's own curve arithmetic): the library's ``from_public_key_recovery_with_digest``
    computes and validates both candidates, 4.2× slower (2.1 ms against 8.9 ms a token,
    ``bench/p256_recovery_bench.py``). ``_p256_candidates`` is the library's answer; the bench
    and a format test check the two agree."""
    curve, g, n = NIST256p.curve, NIST256p.generator, _P256_N
    p = curve.p()
    alpha = (pow(r, 3, p) + curve.a() * r + curve.b()) % p
    try:
        beta = numbertheory.square_root_mod_prime(alpha, p)
    except numbertheory.Error:
        raise BadSignature("r is not the x of a P-256 point") from None
    y = beta if beta % 2 == v else p - beta
    big_r = ellipticcurve.PointJacobi(curve, r, y, 1, n)
    e = int.from_bytes(hashlib.sha256(message).digest(), "big")
    r_inv = numbertheory.inverse_mod(r, n)
    q = g.mul_add((-e * r_inv) % n, big_r, (s * r_inv) % n)
    if q == ellipticcurve.INFINITY:
        raise BadSignature("the signature recovers no P-256 key")
    return int(q.x()), int(q.y())


def create(
    signer: Signer,
    asset_ids: Sequence[bytes],
    chain_id: int,
    audience: str | None = None,
    ttl: int = DEFAULT_TTL,
    issued_at: int | None = None,
    nonce: bytes | None = None,
) -> Presentation:
    """A signed presentation of ``asset_ids`` (1 to 8, each 32 bytes) by ``signer``."""
    if not 1 <= len(asset_ids) <= MAX_ASSETS:
        raise InputError(f"present 1 to {MAX_ASSETS} assets at a time", field="assetIds")
    if any(len(a) != 32 for a in asset_ids):
        raise InputError("every asset id is 32 bytes", field="assetIds")
    if len(set(asset_ids)) != len(asset_ids):
        raise InputError("an asset is named twice", field="assetIds")
    if not 1 <= ttl <= MAX_TTL:
        raise InputError(f"a presentation is valid for 1 to {MAX_TTL} seconds", field="ttl")
    unsigned = Presentation(
        kind=signer.kind,
        asset_ids=tuple(bytes(a) for a in asset_ids),
        issued_at=int(time.time()) if issued_at is None else issued_at,
        ttl=ttl,
        nonce=secrets.token_bytes(8) if nonce is None else nonce,
        presenter_tag=bytes.fromhex(signer.address[2:10]),
        audience_tag=audience_tag(audience) if audience else None,
        signature=b"",
    )
    sig = signer.sign(unsigned.message(chain_id))
    return Presentation(**{**unsigned.__dict__, "signature": sig})


# --- verification ----------------------------------------------------------------------------


class BadSignature(InputError):
    """The signature does not recover to a key whose address matches the presenter tag (reason
    code ``BAD_SIGNATURE``; HTTP 422 if it ever reaches an answer)."""

    code = "bad_signature"


def presenter(p: Presentation, chain_id: int) -> str:
    """The checksummed address that signed ``p`` (holder, agent or device); :class:`BadSignature`
    when the signature is malformed, malleable (high s) or recovers to an address that does not
    match the token's presenter tag (an altered or damaged token)."""
    sig = p.signature
    r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
    message = p.message(chain_id)
    if v > 1:
        raise BadSignature("recovery byte must be 0 or 1")
    if p.kind == "secp256k1":
        if not (0 < r < _SECP256K1_N and 0 < s <= _SECP256K1_N // 2):
            raise BadSignature("secp256k1 signature out of range or with high s")
        try:
            pub = Signature(vrs=(v, r, s)).recover_public_key_from_msg_hash(eip191_digest(message))
        except Exception as exc:  # eth_keys raises BadSignature / ValidationError
            raise BadSignature(str(exc)) from None
        address = str(pub.to_checksum_address())
    else:
        if not (0 < r < _P256_N and 0 < s <= _P256_N // 2):
            raise BadSignature("P-256 signature out of range or with high s")
        x, y = _p256_recover(r, s, v, message)
        address = to_checksum_address(
            keccak(b"P256" + x.to_bytes(32, "big") + y.to_bytes(32, "big"))[12:]
        )
    if bytes.fromhex(address[2:10]) != p.presenter_tag:
        raise BadSignature("the signature is not by the key the token names")
    return address
