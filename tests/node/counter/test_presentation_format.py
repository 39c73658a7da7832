"""The frozen presentation token format: vectors, size in a QR code, tampering, both key kinds."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import segno
from ecdsa import NIST256p, SigningKey
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from credledger.node.core import presentation as pr
from credledger.node.core.errors import InputError

VECTORS = json.loads((Path(__file__).parent / "presentation_vectors.json").read_text())
CHAIN = 31337
SECP = pr.ChainKeySigner("0x" + "11" * 32)
DEVICE = pr.DeviceKeySigner(
    SigningKey.from_secret_exponent(int("22" * 32, 16), curve=NIST256p, hashfunc=hashlib.sha256)
)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vectors_are_reproduced_and_verify(vector: dict[str, object]) -> None:
    signer = DEVICE if vector["name"].startswith("device") else SECP  # type: ignore[union-attr]
    assets = [bytes.fromhex(str(a)[2:]) for a in vector["assets"]]  # type: ignore[attr-defined]
    p = pr.create(
        signer,
        assets,
        CHAIN,
        audience=vector["audience"],  # type: ignore[arg-type]
        ttl=120,
        issued_at=1767225600,
        nonce=bytes(range(1, 9)),
    )
    assert "0x" + p.message(CHAIN).hex() == vector["message"]
    assert "0x" + p.statement_hash(CHAIN).hex() == vector["statementHash"]
    assert p.encode() == vector["token"]
    decoded = pr.decode(str(vector["token"]))
    assert decoded == p
    assert pr.presenter(decoded, CHAIN) == vector["signer"]


def test_chain_key_signature_is_plain_eip191_personal_sign() -> None:
    """Any Ethereum wallet's personal_sign over M gives a signature the node accepts."""
    acct = Account.create()
    unsigned = pr.create(SECP, [os.urandom(32)], CHAIN)
    p = pr.Presentation(**{**unsigned.__dict__, "presenter_tag": bytes.fromhex(acct.address[2:10])})
    signed = acct.sign_message(encode_defunct(primitive=p.message(CHAIN)))
    sig = signed.signature
    p = pr.Presentation(**{**p.__dict__, "signature": bytes(sig[:64]) + bytes([sig[64] - 27])})
    assert pr.presenter(pr.decode(p.encode()), CHAIN) == acct.address


def test_p256_single_candidate_recovery_matches_ecdsa_package() -> None:
    for _ in range(5):
        dev = pr.DeviceKeySigner.generate()
        p = pr.create(dev, [os.urandom(32)], CHAIN)
        m = p.message(CHAIN)
        cands = pr._p256_candidates(p.signature[:64], m)
        assert pr.p256_address(cands[p.signature[64]]) == dev.address == pr.presenter(p, CHAIN)
        # and the recovered key verifies the signature with the ecdsa package
        assert cands[p.signature[64]].verify(p.signature[:64], m, hashfunc=hashlib.sha256)


@pytest.mark.parametrize("signer", [SECP, DEVICE], ids=["secp256k1", "p256"])
def test_three_assets_with_audience_fit_qr_version_10_alphanumeric(signer: pr.Signer) -> None:
    p = pr.create(signer, [os.urandom(32) for _ in range(3)], CHAIN, audience="market/counter-7")
    token = p.encode()
    assert len(token) <= 307
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567CLP1")
    qr = segno.make(token, error="m", boost_error=False)
    assert qr.mode == "alphanumeric"
    assert qr.version <= 10
    four = pr.create(signer, [os.urandom(32) for _ in range(4)], CHAIN, audience="x").encode()
    assert segno.make(four, error="m", boost_error=False).version > 10  # the limit is real


@pytest.mark.parametrize("signer", [SECP, DEVICE], ids=["secp256k1", "p256"])
def test_one_changed_character_is_a_bad_signature_or_malformed(signer: pr.Signer) -> None:
    token = pr.create(signer, [os.urandom(32) for _ in range(2)], CHAIN).encode()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    # every position after the prefix except the last char (its low bits are base32 padding)
    for i in range(4, len(token) - 1):
        c = alphabet[(alphabet.index(token[i]) + 1) % 32]
        changed = token[:i] + c + token[i + 1 :]
        try:
            p = pr.decode(changed)
        except pr.TokenFormatError:
            continue
        with pytest.raises(pr.BadSignature):
            pr.presenter(p, CHAIN)


def test_scan_gun_variants_decode_and_garbage_is_refused() -> None:
    token = pr.create(SECP, [os.urandom(32)], CHAIN).encode()
    assert pr.decode("  " + token.lower() + "\r\n") == pr.decode(token)
    for bad in ["", "CLP1", "https://example.org/e/91310000MA1FL1234Q", token[:-8], token + "AA",
                "CLP1" + "1" * 120, token.replace("CLP1", "CLP2")]:  # fmt: skip
        with pytest.raises(pr.TokenFormatError):
            pr.decode(bad)


def test_high_s_is_refused_for_both_curves() -> None:
    for signer, n in [(SECP, pr._SECP256K1_N), (DEVICE, pr._P256_N)]:
        p = pr.create(signer, [os.urandom(32)], CHAIN)
        s = int.from_bytes(p.signature[32:64], "big")
        flipped = p.signature[:32] + (n - s).to_bytes(32, "big") + bytes([p.signature[64] ^ 1])
        with pytest.raises(pr.BadSignature):
            pr.presenter(pr.Presentation(**{**p.__dict__, "signature": flipped}), CHAIN)


def test_other_chain_does_not_verify() -> None:
    p = pr.create(SECP, [os.urandom(32)], CHAIN)
    with pytest.raises(pr.BadSignature):
        pr.presenter(p, CHAIN + 1)


def test_create_refuses_bad_input() -> None:
    for kw in [{"ttl": 0}, {"ttl": 301}]:
        with pytest.raises(pr.InputError):
            pr.create(SECP, [os.urandom(32)], CHAIN, **kw)  # type: ignore[arg-type]
    a = os.urandom(32)
    for assets in [[], [a, a], [b"short"], [os.urandom(32) for _ in range(9)]]:
        with pytest.raises(pr.InputError):
            pr.create(SECP, assets, CHAIN)


def test_audience_tag_is_keccak_prefix() -> None:
    assert pr.audience_tag(" market ") == keccak(b"market")[:8]


def test_a_verifier_audience_is_the_lower_case_account() -> None:
    address = Account.from_key(b"\x01" * 32).address  # checksummed: mixed case
    assert address != address.lower()
    audience = pr.verifier_audience(address)
    assert audience == "verifier:" + address.lower()
    tag = keccak(audience.encode())[:8]
    assert pr.audience_tag(audience) == pr.audience_tag(f" Verifier:{address} ") == tag
    assert pr.audience_tag("Market") != pr.audience_tag("market")  # other audiences keep case


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 8),
    ttl=st.integers(1, 300),
    t=st.integers(0, 2**32 - 1),
    audience=st.none() | st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != ""),
)
def test_round_trip(n: int, ttl: int, t: int, audience: str | None) -> None:
    p = pr.create(SECP, [os.urandom(32) for _ in range(n)], CHAIN, audience, ttl, t)
    assert pr.decode(p.encode()) == p
    assert pr.presenter(p, CHAIN) == SECP.address


def test_a_bad_signature_is_an_input_error_of_the_one_tree() -> None:
    assert issubclass(pr.BadSignature, InputError) and pr.BadSignature.code == "bad_signature"
    assert pr.BadSignature("x").http_status == 422
