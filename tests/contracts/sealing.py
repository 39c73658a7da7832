"""SM2 e-seals for the contract tests, made and checked with the system's OpenSSL 3 alone.

The tests of the department key registry need real SM2 keys (points of the SM2 curve, which the
contract checks) and real seals (to show that the (r, s) the chain holds verify against the key the
chain holds). OpenSSL is independent of the node's own SM2 library, so these also tie the on-chain
encoding (64-byte x || y, r and s as 32-byte big-endian words) to what a verifier outside credledger
does (docs/standards.md, E-seals).
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

DIST_ID = "1234567812345678"
# DER SubjectPublicKeyInfo of an SM2 key, up to the BIT STRING's 0x04 (uncompressed point) byte
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d03420004")


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {done.stderr.decode(errors='replace')}")
    return done.stdout


def der_to_rs(sig: bytes) -> tuple[int, int]:
    """(r, s) of a DER ``SEQUENCE { INTEGER r, INTEGER s }`` (short lengths: SM2 signatures)."""
    assert sig[0] == 0x30 and sig[1] == len(sig) - 2, "not a short DER sequence"
    out, i = [], 2
    for _ in range(2):
        assert sig[i] == 0x02
        n = sig[i + 1]
        out.append(int.from_bytes(sig[i + 2 : i + 2 + n], "big"))
        i += 2 + n
    return out[0], out[1]


def rs_to_der(r: int, s: int) -> bytes:
    def integer(v: int) -> bytes:
        body = v.to_bytes((v.bit_length() + 8) // 8 or 1, "big")  # a leading 0 keeps it positive
        return b"\x02" + bytes([len(body)]) + body

    body = integer(r) + integer(s)
    return b"\x30" + bytes([len(body)]) + body


def public_pem(xy: bytes) -> bytes:
    """The PEM SubjectPublicKeyInfo of the SM2 point ``xy`` (64 bytes x || y)."""
    return _openssl("pkey", "-pubin", "-inform", "DER", stdin=_SPKI_PREFIX + xy)


@dataclass(frozen=True)
class Sm2Key:
    pem: bytes  # PKCS#8 private key

    @classmethod
    def generate(cls) -> Sm2Key:
        return cls(_openssl("genpkey", "-algorithm", "SM2"))

    def public_xy(self) -> bytes:
        der = _openssl("pkey", "-pubout", "-outform", "DER", stdin=self.pem)
        assert der[: len(_SPKI_PREFIX)] == _SPKI_PREFIX and len(der) == len(_SPKI_PREFIX) + 64
        return der[len(_SPKI_PREFIX) :]

    def sign(self, data: bytes) -> tuple[int, int]:
        """SM2 with SM3 and Z (distinguishing id ``DIST_ID``) over ``data``: (r, s)."""
        with tempfile.TemporaryDirectory() as tmp:
            key, msg = Path(tmp) / "k.pem", Path(tmp) / "m"
            key.write_bytes(self.pem)
            msg.write_bytes(data)
            args = ["pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", str(key)]
            sig = _openssl(*args, "-in", str(msg), "-pkeyopt", f"distid:{DIST_ID}")
        return der_to_rs(sig)


def verify(xy: bytes, data: bytes, r: int, s: int) -> bool:
    """Whether (r, s) is an SM2 signature of ``data`` by the key ``xy`` (OpenSSL's verdict)."""
    with tempfile.TemporaryDirectory() as tmp:
        pub, msg, sig = Path(tmp) / "p.pem", Path(tmp) / "m", Path(tmp) / "s"
        pub.write_bytes(public_pem(xy))
        msg.write_bytes(data)
        sig.write_bytes(rs_to_der(r, s))
        args = ["pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", str(pub)]
        args += ["-in", str(msg), "-sigfile", str(sig), "-pkeyopt", f"distid:{DIST_ID}"]
        done = subprocess.run(["openssl", *args], capture_output=True, check=False)
    return done.returncode == 0 and b"Verified Successfully" in done.stdout


# --- SM2 points without OpenSSL (deterministic public keys for the state machine) ---------------

SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
SM2_A = SM2_P - 3
SM2_G = (
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)


def _add(p: tuple[int, int] | None, q: tuple[int, int] | None) -> tuple[int, int] | None:
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % SM2_P == 0:
        return None
    if p == q:
        m = (3 * p[0] * p[0] + SM2_A) * pow(2 * p[1], -1, SM2_P) % SM2_P
    else:
        m = (q[1] - p[1]) * pow(q[0] - p[0], -1, SM2_P) % SM2_P
    x = (m * m - p[0] - q[0]) % SM2_P
    return x, (m * (p[0] - x) - p[1]) % SM2_P


def sm2_point(k: int) -> bytes:
    """x || y of k·G on the SM2 curve (the public key of private key k; k small is fine here)."""
    acc, add = None, SM2_G
    while k:
        if k & 1:
            acc = _add(acc, add)
        add = _add(add, add)  # type: ignore[assignment]
        k >>= 1
    assert acc is not None
    return acc[0].to_bytes(32, "big") + acc[1].to_bytes(32, "big")
