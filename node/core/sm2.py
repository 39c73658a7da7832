"""SM2 signatures (GM/T 0003 / GB/T 32918, with SM3 and the Z value) through the system OpenSSL 3.

Why OpenSSL (the evidence is in ``docs/standards.md``): libcrypto 3 is the maintained, audited
SM2 implementation every Debian machine already has (Python's own ``ssl`` module links it), it is
what the documented ``openssl pkeyutl -verify -digest sm3 -pkeyopt distid:…`` command runs, and it
verifies about 3,600 signatures a second on one core here; pure-Python SM2 does about 80. The
``cryptography`` package has no SM2 signatures, so we call libcrypto's EVP API through ``ctypes``:
keys are ``EVP_PKEY`` objects of type SM2, a signature is ``EVP_DigestSign``/``EVP_DigestVerify``
with SM3 and the distinguishing id set with ``EVP_PKEY_CTX_set1_id`` (so the signed digest is
``SM3(Z || M)``, ``Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)``).

Keys on the wire: a public key is 64 bytes ``x || y`` (``raw``) or a SubjectPublicKeyInfo PEM
(``id-ecPublicKey`` with the curve ``sm2p256v1``, 1.2.156.10197.1.301 — what OpenSSL writes and
reads). A signature is DER ``SEQUENCE { INTEGER r, INTEGER s }``. Nothing here puts private key
material in a ``repr``, a message or a log.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import functools
import threading
from typing import Any

from credledger.node.core.errors import ConfigError, InputError

__all__ = [
    "CURVE_N",
    "DEFAULT_DIST_ID",
    "Sm2PrivateKey",
    "Sm2PublicKey",
    "der_to_rs",
    "openssl_version",
    "rs_to_der",
]

DEFAULT_DIST_ID = b"1234567812345678"
# order of the base point of sm2p256v1 (GB/T 32918.5)
CURVE_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
_MAX_DIST_ID = 8191  # ENTL is the id's length in bits, in two bytes

# DER of AlgorithmIdentifier { id-ecPublicKey, sm2p256v1 }
_OID_EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")
_OID_SM2 = bytes.fromhex("06082a811ccf5501822d")
_ALG_ID = b"\x30\x13" + _OID_EC_PUBLIC_KEY + _OID_SM2
_SPKI_PREFIX = b"\x30\x59" + _ALG_ID + b"\x03\x42\x00\x04"


# --- libcrypto ------------------------------------------------------------------------------


class _Lib:
    """libcrypto.so.3, loaded once, with the prototypes we call."""

    def __init__(self) -> None:
        self.c = _load_libcrypto()
        c = self.c
        vp, cp, sz, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int
        pvp = ctypes.POINTER(ctypes.c_void_p)

        def proto(name: str, res: Any, *args: Any) -> None:
            fn = getattr(c, name)
            fn.restype = res
            fn.argtypes = list(args)

        proto("OpenSSL_version_num", ctypes.c_ulong)
        proto("OpenSSL_version", cp, i)
        proto("ERR_clear_error", None)
        proto("d2i_PUBKEY", vp, vp, pvp, ctypes.c_long)
        proto("d2i_AutoPrivateKey", vp, vp, pvp, ctypes.c_long)
        proto("i2d_PUBKEY", i, vp, pvp)
        proto("EVP_PKEY_free", None, vp)
        proto("EVP_PKEY_is_a", i, vp, cp)
        proto("EVP_PKEY_get_bn_param", i, vp, cp, pvp)
        proto("BN_bn2binpad", i, vp, cp, i)
        proto("BN_clear_free", None, vp)
        proto("EVP_PKEY_CTX_new_from_name", vp, vp, cp, cp)
        proto("EVP_PKEY_CTX_new_from_pkey", vp, vp, vp, cp)
        proto("EVP_PKEY_CTX_free", None, vp)
        proto("EVP_PKEY_keygen_init", i, vp)
        proto("EVP_PKEY_generate", i, vp, pvp)
        proto("EVP_PKEY_CTX_set1_id", i, vp, cp, i)
        proto("EVP_MD_fetch", vp, vp, cp, cp)
        proto("EVP_MD_CTX_new", vp)
        proto("EVP_MD_CTX_free", None, vp)
        proto("EVP_MD_CTX_set_pkey_ctx", None, vp, vp)
        proto("EVP_DigestSignInit", i, vp, vp, vp, vp, vp)
        proto("EVP_DigestSign", i, vp, cp, ctypes.POINTER(sz), cp, sz)
        proto("EVP_DigestVerifyInit", i, vp, vp, vp, vp, vp)
        proto("EVP_DigestVerify", i, vp, cp, sz, cp, sz)
        if c.OpenSSL_version_num() < 0x30000000:
            raise ConfigError("SM2 needs OpenSSL 3 (libcrypto.so.3); found an older libcrypto")
        self.sm3 = c.EVP_MD_fetch(None, b"SM3", None)
        if not self.sm3:
            raise ConfigError("this OpenSSL has no SM3 (built with no-sm3?); SM2 seals need it")


def _load_libcrypto() -> ctypes.CDLL:
    names = [ctypes.util.find_library("crypto"), "libcrypto.so.3", "libcrypto.3.dylib"]
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            lib.OpenSSL_version_num.restype = ctypes.c_ulong
            if lib.OpenSSL_version_num() >= 0x30000000:
                return lib
        except (OSError, AttributeError):
            continue
    raise ConfigError(
        "SM2 needs the system OpenSSL 3 library (libcrypto.so.3) and none was found; "
        "install it (Debian/Ubuntu: apt-get install openssl)"
    )


_lib: _Lib | None = None
_lib_lock = threading.Lock()


def _libcrypto() -> _Lib:
    global _lib
    if _lib is None:
        with _lib_lock:
            if _lib is None:
                _lib = _Lib()
    return _lib


def openssl_version() -> str:
    """The version string of the libcrypto that signs and verifies (for benches and docs)."""
    return str(_libcrypto().c.OpenSSL_version(0).decode())


class _Pkey:
    """Owns one EVP_PKEY pointer; frees it when collected."""

    __slots__ = ("_free", "ptr")

    def __init__(self, ptr: int) -> None:
        self.ptr = ptr
        self._free = _libcrypto().c.EVP_PKEY_free

    def __del__(self) -> None:
        if self.ptr:
            self._free(self.ptr)
            self.ptr = 0


def _check_dist_id(dist_id: bytes) -> None:
    if not isinstance(dist_id, bytes | bytearray) or len(dist_id) > _MAX_DIST_ID:
        raise InputError(f"an SM2 distinguishing id is at most {_MAX_DIST_ID} bytes")


def _digest_op(pkey: _Pkey, dist_id: bytes, sign: bool, data: bytes, sig: bytes = b"") -> Any:
    """One EVP_DigestSign/EVP_DigestVerify with SM3 and the id: signature bytes, or 1/0/-1."""
    lib = _libcrypto()
    c = lib.c
    pctx = c.EVP_PKEY_CTX_new_from_pkey(None, pkey.ptr, None)
    mctx = c.EVP_MD_CTX_new()
    try:
        if not pctx or not mctx:
            raise MemoryError("libcrypto could not allocate a context")
        if c.EVP_PKEY_CTX_set1_id(pctx, bytes(dist_id), len(dist_id)) <= 0:
            raise InputError("OpenSSL refused the SM2 distinguishing id")
        c.EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
        if sign:
            if c.EVP_DigestSignInit(mctx, None, lib.sm3, None, pkey.ptr) != 1:
                raise ConfigError("OpenSSL could not start an SM2 signature")
            buf = ctypes.create_string_buffer(80)
            size = ctypes.c_size_t(len(buf))
            if c.EVP_DigestSign(mctx, buf, ctypes.byref(size), data, len(data)) != 1:
                raise ConfigError("OpenSSL could not make the SM2 signature")
            return buf.raw[: size.value]
        if c.EVP_DigestVerifyInit(mctx, None, lib.sm3, None, pkey.ptr) != 1:
            return -1
        return c.EVP_DigestVerify(mctx, sig, len(sig), data, len(data))
    finally:
        if mctx:
            c.EVP_MD_CTX_free(mctx)
        if pctx:
            c.EVP_PKEY_CTX_free(pctx)
        c.ERR_clear_error()


# --- keys -----------------------------------------------------------------------------------


class Sm2PublicKey:
    """An SM2 public key on sm2p256v1 (checked on the curve when it is made)."""

    __slots__ = ("_pkey", "_raw")

    def __init__(self, pkey: _Pkey, raw: bytes) -> None:
        self._pkey = pkey
        self._raw = raw

    @classmethod
    def from_raw(cls, xy: bytes) -> Sm2PublicKey:
        """From 64 bytes ``x || y`` (or 65 with the uncompressed-point prefix 0x04)."""
        xy = bytes(xy)
        if len(xy) == 65 and xy[0] == 4:
            xy = xy[1:]
        if len(xy) != 64:
            raise InputError("an SM2 public key is 64 bytes x||y (or 65 starting with 04)")
        return cls._from_spki(_SPKI_PREFIX + xy)

    @classmethod
    def from_pem(cls, pem: bytes | str) -> Sm2PublicKey:
        """From a ``-----BEGIN PUBLIC KEY-----`` PEM (SubjectPublicKeyInfo on sm2p256v1)."""
        text = pem.decode("ascii", "replace") if isinstance(pem, bytes) else pem
        head, tail = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"
        start, end = text.find(head), text.find(tail)
        if start < 0 or end < start:
            raise InputError("not a PUBLIC KEY PEM")
        try:
            der = base64.b64decode("".join(text[start + len(head) : end].split()), validate=True)
        except ValueError as exc:
            raise InputError("the PUBLIC KEY PEM has a malformed body") from exc
        if len(der) != 91 or not der.startswith(_SPKI_PREFIX):
            raise InputError("not an SM2 public key (expected id-ecPublicKey on sm2p256v1)")
        return cls._from_spki(der)

    @classmethod
    def _from_spki(cls, der: bytes) -> Sm2PublicKey:
        # OpenSSL 3's decoder costs ~120 µs of CPU (a third of a verification): a verifier
        # checks the same few department keys again and again, so decoded keys are kept
        return _decoded_key(der)

    @classmethod
    def _decode(cls, der: bytes) -> Sm2PublicKey:
        c = _libcrypto().c
        buf = ctypes.create_string_buffer(der, len(der))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        pkey = c.d2i_PUBKEY(None, ctypes.byref(ptr), len(der))
        c.ERR_clear_error()
        if not pkey:
            raise InputError("not a point on the SM2 curve")
        owned = _Pkey(pkey)
        if c.EVP_PKEY_is_a(pkey, b"SM2") != 1:
            raise InputError("not an SM2 public key")
        return cls(owned, der[-64:])

    def raw(self) -> bytes:
        """64 bytes ``x || y`` (what the chain stores)."""
        return self._raw

    def pem(self) -> bytes:
        """The SubjectPublicKeyInfo PEM that ``openssl pkeyutl -pubin -inkey`` reads."""
        return _pem("PUBLIC KEY", _SPKI_PREFIX + self._raw)

    def verify(self, data: bytes, der_signature: bytes, dist_id: bytes = DEFAULT_DIST_ID) -> bool:
        """True iff ``der_signature`` is this key's SM2 signature of ``data`` under ``dist_id``."""
        _check_dist_id(dist_id)
        if not isinstance(der_signature, bytes | bytearray) or not 8 <= len(der_signature) <= 72:
            return False
        return bool(_digest_op(self._pkey, dist_id, False, bytes(data), bytes(der_signature)) == 1)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sm2PublicKey) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"Sm2PublicKey({self._raw.hex()})"


@functools.lru_cache(maxsize=4096)
def _decoded_key(der: bytes) -> Sm2PublicKey:
    return Sm2PublicKey._decode(der)


class Sm2PrivateKey:
    """An SM2 private key. Its ``repr`` shows only the public key."""

    __slots__ = ("_pkey", "_public")

    def __init__(self, pkey: _Pkey) -> None:
        self._pkey = pkey
        c = _libcrypto().c
        size = c.i2d_PUBKEY(pkey.ptr, None)
        buf = ctypes.create_string_buffer(max(size, 1))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        if size != 91 or c.i2d_PUBKEY(pkey.ptr, ctypes.byref(ptr)) != 91:
            c.ERR_clear_error()
            raise InputError("OpenSSL could not encode the SM2 public key")
        self._public = Sm2PublicKey._from_spki(buf.raw[:91])

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        """A new key from OpenSSL's CSPRNG."""
        c = _libcrypto().c
        ctx = c.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
        out = ctypes.c_void_p()
        try:
            if not ctx or c.EVP_PKEY_keygen_init(ctx) != 1:
                raise ConfigError("this OpenSSL cannot make SM2 keys")
            if c.EVP_PKEY_generate(ctx, ctypes.byref(out)) != 1 or not out.value:
                raise ConfigError("OpenSSL failed to generate an SM2 key")
        finally:
            if ctx:
                c.EVP_PKEY_CTX_free(ctx)
            c.ERR_clear_error()
        return cls(_Pkey(out.value))

    @classmethod
    def from_secret_bytes(cls, secret: bytes) -> Sm2PrivateKey:
        """From the 32-byte big-endian scalar d, 1 <= d <= n-2 (what the keystore holds)."""
        secret = bytes(secret)
        if len(secret) != 32 or not 1 <= int.from_bytes(secret, "big") <= CURVE_N - 2:
            raise InputError("an SM2 private key is a 32-byte scalar in [1, n-2]")
        c = _libcrypto().c
        der = _pkcs8(secret, None)
        buf = ctypes.create_string_buffer(der, len(der))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        try:
            pkey = c.d2i_AutoPrivateKey(None, ctypes.byref(ptr), len(der))
        finally:
            ctypes.memset(buf, 0, len(der))
            c.ERR_clear_error()
        if not pkey:
            raise InputError("OpenSSL refused the SM2 private key")
        owned = _Pkey(pkey)
        if c.EVP_PKEY_is_a(pkey, b"SM2") != 1:
            raise InputError("not an SM2 private key")
        return cls(owned)

    def secret_bytes(self) -> bytes:
        """The 32-byte scalar d. Only for the keystore (which encrypts it); never log it."""
        c = _libcrypto().c
        bn = ctypes.c_void_p()
        if c.EVP_PKEY_get_bn_param(self._pkey.ptr, b"priv", ctypes.byref(bn)) != 1:
            c.ERR_clear_error()
            raise ConfigError("OpenSSL would not export the SM2 private key")
        try:
            buf = ctypes.create_string_buffer(32)
            if c.BN_bn2binpad(bn, buf, 32) != 32:
                raise ConfigError("the SM2 private scalar does not fit 32 bytes")
            out = buf.raw
            ctypes.memset(buf, 0, 32)
            return out
        finally:
            c.BN_clear_free(bn)

    def private_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM for ``openssl pkeyutl -sign -inkey`` (tests, export): secret!"""
        return _pem("PRIVATE KEY", _pkcs8(self.secret_bytes(), self._public.raw()))

    def public_key(self) -> Sm2PublicKey:
        return self._public

    def sign(self, data: bytes, dist_id: bytes = DEFAULT_DIST_ID) -> bytes:
        """SM2 signature (DER r, s) of ``SM3(Z || data)``, with a fresh random k from OpenSSL."""
        _check_dist_id(dist_id)
        return bytes(_digest_op(self._pkey, dist_id, True, bytes(data)))

    def __repr__(self) -> str:
        return f"Sm2PrivateKey(public={self._public.raw().hex()})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an SM2 private key is not picklable; use the keystore")


# --- DER helpers ----------------------------------------------------------------------------


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(body)) + body


def _pkcs8(secret: bytes, public_xy: bytes | None) -> bytes:
    """PrivateKeyInfo { 0, {id-ecPublicKey, sm2p256v1}, ECPrivateKey { 1, d, [1] pub } }."""
    ec = b"\x02\x01\x01" + _tlv(0x04, secret)
    if public_xy is not None:
        ec += _tlv(0xA1, _tlv(0x03, b"\x00\x04" + public_xy))
    return _tlv(0x30, b"\x02\x01\x00" + _ALG_ID + _tlv(0x04, _tlv(0x30, ec)))


def _pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        b"\n".join([f"-----BEGIN {label}-----".encode(), *lines, f"-----END {label}-----".encode()])
        + b"\n"
    )


def _int_der(v: int) -> bytes:
    if not 0 < v < 1 << 256:
        raise InputError("an SM2 signature value must be in [1, 2^256)")
    return _tlv(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))


def rs_to_der(r: int, s: int) -> bytes:
    """DER ``SEQUENCE { INTEGER r, INTEGER s }`` (what OpenSSL and ``signature`` carry)."""
    return _tlv(0x30, _int_der(r) + _int_der(s))


def der_to_rs(sig: bytes) -> tuple[int, int]:
    """(r, s) of a strict DER signature; anything else raises InputError."""
    sig = bytes(sig)

    def integer(at: int) -> tuple[int, int]:
        if at + 2 > len(sig) or sig[at] != 0x02:
            raise InputError("malformed SM2 signature: expected an INTEGER")
        n = sig[at + 1]
        body = sig[at + 2 : at + 2 + n]
        if n == 0 or n > 33 or len(body) != n:
            raise InputError("malformed SM2 signature: bad INTEGER length")
        if body[0] & 0x80 or (n > 1 and body[0] == 0 and not body[1] & 0x80):
            raise InputError("malformed SM2 signature: non-minimal or negative INTEGER")
        value = int.from_bytes(body, "big")
        if not 0 < value < 1 << 256:
            raise InputError("malformed SM2 signature: value out of range")
        return value, at + 2 + n

    if len(sig) < 8 or sig[0] != 0x30 or sig[1] != len(sig) - 2:
        raise InputError("malformed SM2 signature: expected a DER SEQUENCE")
    r, at = integer(2)
    s, at = integer(at)
    if at != len(sig):
        raise InputError("malformed SM2 signature: trailing bytes")
    return r, s
