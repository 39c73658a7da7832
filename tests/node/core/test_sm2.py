"""SM2 (GM/T 0003, GB/T 32918) as credledger signs and verifies it, proven four ways.

1. The standards' own examples: GM/T 0003.5-2012 / GB/T 32918.5 Annex A on the recommended curve
   sm2p256v1 (private key, message "message digest", id "1234567812345678", k, r, s) and
   GB/T 32918.2 Annex A on the 256-bit example curve (id "ALICE123@YAHOO.COM"). OpenSSL signs with
   a random k it does not let us fix, so a small textbook implementation below (affine
   arithmetic, written from the standard) reproduces both annex signatures from their k; ours
   must derive the annex public key from the annex private key and accept the annex (r, s).
2. The system's `openssl` command, both ways, over random messages: what we sign, `openssl
   pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:…` accepts, and what it signs we accept.
3. A third implementation, npm's sm-crypto (JavaScript), both ways over 40 random messages.
4. Refusals: a tampered message, signature or id, another key, malformed DER.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from credledger.node.core.errors import InputError
from credledger.node.core.sm2 import (
    DEFAULT_DIST_ID,
    Sm2PrivateKey,
    Sm2PublicKey,
    der_to_rs,
    rs_to_der,
)

OPENSSL = shutil.which("openssl")


@pytest.fixture
def needs_openssl() -> None:
    """The proof needs the system `openssl` (``make setup`` installs it): fail, never skip."""
    if OPENSSL is None:
        pytest.fail("the openssl command is missing: apt-get install openssl (make setup does)")


# --- a textbook SM2 from the standard (reference for the annex values) ----------------------


class Curve:
    def __init__(self, p: str, a: str, b: str, gx: str, gy: str, n: str) -> None:
        self.p, self.a, self.b = int(p, 16), int(a, 16), int(b, 16)
        self.g = (int(gx, 16), int(gy, 16))
        self.n = int(n, 16)

    def add(self, p1: tuple[int, int] | None, p2: tuple[int, int] | None) -> tuple[int, int] | None:
        if p1 is None:
            return p2
        if p2 is None:
            return p1
        p = self.p
        if p1[0] == p2[0] and (p1[1] + p2[1]) % p == 0:
            return None
        if p1 == p2:
            lam = (3 * p1[0] * p1[0] + self.a) * pow(2 * p1[1], -1, p) % p
        else:
            lam = (p2[1] - p1[1]) * pow(p2[0] - p1[0], -1, p) % p
        x = (lam * lam - p1[0] - p2[0]) % p
        return x, (lam * (p1[0] - x) - p1[1]) % p

    def mul(self, k: int, point: tuple[int, int]) -> tuple[int, int]:
        acc: tuple[int, int] | None = None
        add: tuple[int, int] | None = point
        while k:
            if k & 1:
                acc = self.add(acc, add)
            add = self.add(add, add)
            k >>= 1
        assert acc is not None
        return acc

    def z(self, uid: bytes, pub: tuple[int, int]) -> bytes:
        def b32(v: int) -> bytes:
            return v.to_bytes(32, "big")

        entl = (len(uid) * 8).to_bytes(2, "big")
        return sm3(
            entl
            + uid
            + b32(self.a)
            + b32(self.b)
            + b32(self.g[0])
            + b32(self.g[1])
            + b32(pub[0])
            + b32(pub[1])
        )

    def sign(self, d: int, uid: bytes, msg: bytes, k: int) -> tuple[int, int]:
        e = int.from_bytes(sm3(self.z(uid, self.mul(d, self.g)) + msg), "big")
        x1 = self.mul(k, self.g)[0]
        r = (e + x1) % self.n
        s = pow(1 + d, -1, self.n) * (k - r * d) % self.n
        return r, s

    def verify(self, pub: tuple[int, int], uid: bytes, msg: bytes, r: int, s: int) -> bool:
        if not (0 < r < self.n and 0 < s < self.n):
            return False
        e = int.from_bytes(sm3(self.z(uid, pub) + msg), "big")
        t = (r + s) % self.n
        point = self.add(self.mul(s, self.g), self.mul(t, pub)) if t else None
        return point is not None and (e + point[0]) % self.n == r


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


SM2P256V1 = Curve(  # GB/T 32918.5 recommended curve
    "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF",
    "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC",
    "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93",
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7",
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0",
    "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123",
)
EXAMPLE_FP256 = Curve(  # GB/T 32918.2 Annex A example curve
    "8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3",
    "787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498",
    "63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A",
    "421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D",
    "0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2",
    "8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7",
)

# GM/T 0003.5-2012 Annex A (= GB/T 32918.5-2017): signature example on sm2p256v1
ANNEX_D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
ANNEX_PUB = bytes.fromhex(
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
ANNEX_Z = bytes.fromhex("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
ANNEX_E = int("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640", 16)
ANNEX_K = int("59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21", 16)
ANNEX_R = int("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3", 16)
ANNEX_S = int("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA", 16)
MESSAGE = b"message digest"


def _point(raw: bytes) -> tuple[int, int]:
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")


def test_sm3_standard_vector() -> None:
    """GB/T 32905 example 1, so the reference below hashes with real SM3."""
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_reference_reproduces_the_example_curve_annex() -> None:
    """GB/T 32918.2 Annex A: the textbook code gives the annex (r, s) from its d and k."""
    d = int("128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263", 16)
    k = int("6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F", 16)
    r, s = EXAMPLE_FP256.sign(d, b"ALICE123@YAHOO.COM", MESSAGE, k)
    assert r == int("40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1", 16)
    assert s == int("6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7", 16)


def test_recommended_curve_annex() -> None:
    """GM/T 0003.5 Annex A: key, Z, e, (r, s) from k; ours accepts the annex signature."""
    key = Sm2PrivateKey.from_secret_bytes(ANNEX_D)
    pub = key.public_key()
    assert pub.raw() == ANNEX_PUB
    assert SM2P256V1.mul(int.from_bytes(ANNEX_D, "big"), SM2P256V1.g) == _point(ANNEX_PUB)
    assert SM2P256V1.z(DEFAULT_DIST_ID, _point(ANNEX_PUB)) == ANNEX_Z
    assert int.from_bytes(sm3(ANNEX_Z + MESSAGE), "big") == ANNEX_E
    d = int.from_bytes(ANNEX_D, "big")
    assert SM2P256V1.sign(d, DEFAULT_DIST_ID, MESSAGE, ANNEX_K) == (ANNEX_R, ANNEX_S)

    annex_sig = rs_to_der(ANNEX_R, ANNEX_S)
    assert pub.verify(MESSAGE, annex_sig)
    assert Sm2PublicKey.from_raw(ANNEX_PUB).verify(MESSAGE, annex_sig)
    assert not pub.verify(b"message digesT", annex_sig)
    assert not pub.verify(MESSAGE, annex_sig, dist_id=b"ALICE123@YAHOO.COM")
    assert not pub.verify(MESSAGE, rs_to_der(ANNEX_R, ANNEX_S ^ 1))
    # ours signs with a random k: a different (r, s), valid for ours and the reference
    sig = key.sign(MESSAGE)
    assert sig != annex_sig and pub.verify(MESSAGE, sig)
    assert SM2P256V1.verify(_point(ANNEX_PUB), DEFAULT_DIST_ID, MESSAGE, *der_to_rs(sig))


@pytest.mark.usefixtures("needs_openssl")
def test_openssl_accepts_the_annex_signature(tmp_path: Path) -> None:
    pub = tmp_path / "pub.pem"
    pub.write_bytes(Sm2PublicKey.from_raw(ANNEX_PUB).pem())
    (tmp_path / "msg").write_bytes(MESSAGE)
    (tmp_path / "sig").write_bytes(rs_to_der(ANNEX_R, ANNEX_S))
    assert _openssl_verify(tmp_path, pub, tmp_path / "msg", tmp_path / "sig")


def test_reference_accepts_ours_with_other_ids() -> None:
    key = Sm2PrivateKey.generate()
    pub = _point(key.public_key().raw())
    for uid in (b"", b"ALICE123@YAHOO.COM", "某市市场监督管理局".encode()):
        sig = key.sign(b"seal", dist_id=uid)
        assert key.public_key().verify(b"seal", sig, dist_id=uid)
        assert SM2P256V1.verify(pub, uid, b"seal", *der_to_rs(sig))
        r, s = SM2P256V1.sign(int.from_bytes(key.secret_bytes(), "big"), uid, b"seal", 12345)
        assert key.public_key().verify(b"seal", rs_to_der(r, s), dist_id=uid)


# --- the system openssl, both ways ------------------------------------------------------------

ROUNDS = int(os.environ.get("SM2_OPENSSL_ROUNDS", "200"))


def _openssl_verify(
    tmp: Path, pub: Path, msg: Path, sig: Path, dist_id: str = "1234567812345678"
) -> bool:
    assert OPENSSL is not None
    done = subprocess.run(
        [
            OPENSSL,
            "pkeyutl",
            "-verify",
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            f"distid:{dist_id}",
            "-pubin",
            "-inkey",
            str(pub),
            "-in",
            str(msg),
            "-sigfile",
            str(sig),
        ],
        capture_output=True,
        cwd=tmp,
        check=False,
    )
    return done.returncode == 0 and b"Verified Successfully" in done.stdout


def _openssl_sign(tmp: Path, key: Path, msg: Path) -> bytes:
    assert OPENSSL is not None
    done = subprocess.run(
        [
            OPENSSL,
            "pkeyutl",
            "-sign",
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            "distid:1234567812345678",
            "-inkey",
            str(key),
            "-in",
            str(msg),
        ],
        capture_output=True,
        cwd=tmp,
        check=True,
    )
    return done.stdout


@pytest.mark.usefixtures("needs_openssl")
def test_openssl_both_ways_random_messages(tmp_path: Path) -> None:
    rng = random.Random(20)
    ours = Sm2PrivateKey.generate()
    theirs = Sm2PrivateKey.generate()  # openssl signs with its PKCS#8 PEM
    (tmp_path / "ours.pem").write_bytes(ours.public_key().pem())
    (tmp_path / "theirs.key").write_bytes(theirs.private_pem())
    tmp_path.joinpath("theirs.key").chmod(0o600)
    msg, sig = tmp_path / "msg", tmp_path / "sig"
    for i in range(ROUNDS):
        data = rng.randbytes(rng.choice([1, 2, 31, 32, 33, 64, 100, 1000, rng.randrange(1, 5000)]))
        msg.write_bytes(data)
        if i % 2 == 0:  # ours signs, openssl verifies
            signature = ours.sign(data)
            sig.write_bytes(signature)
            assert _openssl_verify(tmp_path, tmp_path / "ours.pem", msg, sig), i
            if i % 20 == 0:  # openssl refuses a tampered message and another id
                msg.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
                assert not _openssl_verify(tmp_path, tmp_path / "ours.pem", msg, sig)
                msg.write_bytes(data)
                assert not _openssl_verify(tmp_path, tmp_path / "ours.pem", msg, sig, "other")
        else:  # openssl signs, ours verifies
            signature = _openssl_sign(tmp_path, tmp_path / "theirs.key", msg)
            assert theirs.public_key().verify(data, signature), i
            assert not ours.public_key().verify(data, signature)
            assert not theirs.public_key().verify(data + b"\x00", signature)
            r, s = der_to_rs(signature)
            assert not theirs.public_key().verify(data, rs_to_der(r, (s + 1) % (1 << 256)))
            assert rs_to_der(r, s) == signature


# --- refusals and encodings -------------------------------------------------------------------


def test_tampering_is_refused() -> None:
    key = Sm2PrivateKey.generate()
    pub = key.public_key()
    sig = key.sign(b"licence metadata")
    assert pub.verify(b"licence metadata", sig)
    assert not pub.verify(b"licence metadatA", sig)
    assert not pub.verify(b"licence metadata", sig, dist_id=b"1234567812345679")
    assert not Sm2PrivateKey.generate().public_key().verify(b"licence metadata", sig)
    for i in range(len(sig)):
        bad = bytearray(sig)
        bad[i] ^= 0x01
        assert not pub.verify(b"licence metadata", bytes(bad))
    for junk in (b"", b"\x30\x00", sig + b"\x00", sig[:-1], b"\x00" * 64, b"\x30" * 200):
        assert not pub.verify(b"licence metadata", junk)


def test_der_round_trip_and_strictness() -> None:
    for r, s in [(1, 1), (0x80, 0x7F), ((1 << 256) - 1, 1 << 255), (ANNEX_R, ANNEX_S)]:
        assert der_to_rs(rs_to_der(r, s)) == (r, s)
    good = rs_to_der(ANNEX_R, ANNEX_S)
    for bad in (
        good + b"\x00",
        b"\x31" + good[1:],
        bytes.fromhex("3008020200010202000100"),  # non-minimal
        bytes.fromhex("300602018002017f"),  # negative r
        bytes.fromhex("3006020100020101"),  # r = 0
        b"\x30\x06\x02\x01\x01\x02\x01",
    ):
        with pytest.raises(InputError):
            der_to_rs(bad)
    with pytest.raises(InputError):
        rs_to_der(0, 1)


def test_keys_encode_and_refuse_bad_input() -> None:
    key = Sm2PrivateKey.generate()
    pub = key.public_key()
    assert Sm2PublicKey.from_pem(pub.pem()) == pub
    assert Sm2PublicKey.from_pem(pub.pem().decode()) == pub
    assert Sm2PublicKey.from_raw(b"\x04" + pub.raw()) == pub
    assert Sm2PrivateKey.from_secret_bytes(key.secret_bytes()).public_key() == pub
    assert pub.pem().startswith(b"-----BEGIN PUBLIC KEY-----\n")
    bad_point = pub.raw()[:63] + bytes([pub.raw()[63] ^ 1])
    for raw in (bad_point, b"\x00" * 64, pub.raw()[:63], b"\x02" + pub.raw()[:32]):
        with pytest.raises(InputError):
            Sm2PublicKey.from_raw(raw)
    p256_pem = (
        b"-----BEGIN PUBLIC KEY-----\n"
        b"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9\n"
        b"q9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg==\n"
        b"-----END PUBLIC KEY-----\n"
    )
    for pem in (p256_pem, b"garbage", b"-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----"):
        with pytest.raises(InputError):
            Sm2PublicKey.from_pem(pem)
    n = SM2P256V1.n
    for secret in (b"\x00" * 32, (n - 1).to_bytes(32, "big"), b"\x01" * 31):
        with pytest.raises(InputError):
            Sm2PrivateKey.from_secret_bytes(secret)


def test_no_key_material_in_repr() -> None:
    key = Sm2PrivateKey.from_secret_bytes(ANNEX_D)
    for text in (repr(key), str(key), f"{key}", repr(key.public_key())):
        assert ANNEX_D.hex() not in text.lower()
    assert ANNEX_PUB.hex() in repr(key)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(key)


# --- a third implementation: the npm sm-crypto package ------------------------------------------

SM_CRYPTO = r"""
const { sm2 } = require(process.argv[1] + "/sm-crypto");
const job = JSON.parse(require("fs").readFileSync(0, "utf8"));
const bytes = (hex) => Array.from(Buffer.from(hex, "hex"));
const opts = { hash: true, der: true };  // SM3 with Z, default id 1234567812345678, DER
const check = (m, i) => sm2.doVerifySignature(bytes(m), job.sigs[i], job.pub, opts);
const accepted = job.msgs.map(check);
const keys = sm2.generateKeyPairHex();
const sigs = job.msgs.map((m) => sm2.doSignature(bytes(m), keys.privateKey, opts));
const tampered = sm2.doVerifySignature(bytes(job.msgs[0] + "00"), job.sigs[0], job.pub, opts);
process.stdout.write(JSON.stringify({ accepted, tampered, pub: keys.publicKey, sigs }));
"""


def test_sm_crypto_both_ways() -> None:
    """npm sm-crypto (JavaScript, its own bignum arithmetic) and ours accept each other."""
    from tests.conftest import ROOT

    modules = ROOT / "hardhat-free-devnet" / "node_modules"
    node = shutil.which("node")
    if node is None or not (modules / "sm-crypto").is_dir():
        pytest.fail(
            "node and hardhat-free-devnet's sm-crypto are needed (make setup installs them)"
        )
    rng = random.Random(21)
    ours = Sm2PrivateKey.generate()
    msgs = [rng.randbytes(rng.randrange(1, 600)) for _ in range(40)]
    job = {
        "pub": "04" + ours.public_key().raw().hex(),
        "msgs": [m.hex() for m in msgs],
        "sigs": [ours.sign(m).hex() for m in msgs],
    }
    done = subprocess.run(
        [node, "-e", SM_CRYPTO, str(modules)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    out = json.loads(done.stdout)
    assert out["accepted"] == [True] * len(msgs)
    assert out["tampered"] is False
    theirs = Sm2PublicKey.from_raw(bytes.fromhex(out["pub"]))
    for m, sig in zip(msgs, out["sigs"], strict=True):
        assert theirs.verify(m, bytes.fromhex(sig))
        assert not ours.public_key().verify(m, bytes.fromhex(sig))


def test_missing_libcrypto_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without OpenSSL 3 the node says what to install, not a ctypes traceback."""
    import ctypes

    from credledger.node.core import sm2
    from credledger.node.core.errors import ConfigError

    def no_library(name: str, *args: object, **kwargs: object) -> None:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_library)
    with pytest.raises(ConfigError, match="apt-get install"):
        sm2._load_libcrypto()
