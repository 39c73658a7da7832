"""Signed lists: the vc+jwt and statuslist+jwt a node serves, checked with `cryptography` against
the department's public key, their stated block, and the cache per block (no chain: a local P-256
key and events built as the indexer stores them)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from credledger.node.core.errors import ConfigError, InputError, NotFoundError
from credledger.node.status import MIN_CAPACITY, StatusLists
from credledger.node.status.documents import NoCredentialKey, StatusDocuments
from credledger.node.status.encoding import (
    INVALID,
    SUSPENDED,
    VALID,
    bit,
    decode_bitstring,
    decode_token_list,
    token_status,
    unb64url,
)
from tests.node.status.test_lists import A, B, change, issued

T0 = 1_700_000_000


@dataclass
class LocalKey:
    """A department's credential key as H7's CredentialKey signs (ES256, raw r || s)."""

    department: str
    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def kid(self) -> str:
        return "urn:credledger:eip155:31337:0xregistry:key:7"

    def issuer(self) -> str:
        return f"urn:credledger:eip155:31337:0xregistry:dept:{self.department.lower()}"

    def sign_es256(self, signing_input: bytes) -> bytes:
        r, s = decode_dss_signature(self.private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verified(jwt: str, key: LocalKey) -> tuple[dict[str, object], dict[str, object]]:
    h, p, s = jwt.split(".")
    sig = unb64url(s)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    key.private.public_key().verify(der, f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))
    return json.loads(unb64url(h)), json.loads(unb64url(p))


class Clock:
    now = float(T0 + 100)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup() -> tuple[StatusLists, StatusDocuments, LocalKey, Clock]:
    lists = StatusLists(MIN_CAPACITY)
    lists.reset([issued(i, A) for i in range(5)] + [issued(9, B)], 3, T0)
    key = LocalKey(A)
    clock = Clock()
    docs = StatusDocuments(
        lists, lambda d: key if d.lower() == A.lower() else None, 31337, clock=clock
    )
    return lists, docs, key, clock


def test_the_bitstring_credentials_are_signed_and_state_their_block(setup) -> None:  # type: ignore[no-untyped-def]
    lists, docs, key, _ = setup
    lists.extend([change("LicenceSuspended", 1, 4), change("LicenceRevoked", 3, 4)], 4, T0 + 2)
    for purpose, on in (("suspension", 1), ("revocation", 3)):
        served = docs.serve("http://node:1/", A.lower(), 0, purpose)
        assert served.media_type == "application/vc+jwt" and served.block == 4
        header, vc = verified(served.body, key)
        assert header == {"alg": "ES256", "typ": "vc+jwt", "cty": "vc", "kid": key.kid()}
        url = f"http://node:1/v1/status-lists/{A}/0/{purpose}"
        assert vc["id"] == url and vc["issuer"] == key.issuer()
        assert vc["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
        assert vc["validFrom"] == "2023-11-14T22:13:22Z"  # the block's time
        assert vc["chainState"] == {
            "chainId": 31337,
            "blockNumber": 4,
            "blockTime": "2023-11-14T22:13:22Z",
        }
        subject = vc["credentialSubject"]
        assert isinstance(subject, dict)
        assert subject["statusPurpose"] == purpose and subject["id"] == url + "#list"
        raw = decode_bitstring(subject["encodedList"])
        assert len(raw) * 8 == MIN_CAPACITY
        assert [i for i in range(5) if bit(raw, i)] == [on]
    # a signature by another key does not verify
    with pytest.raises(InvalidSignature):
        verified(docs.serve("http://node:1", A, 0, "revocation").body, LocalKey(A))


def test_the_token_status_list_has_two_bits_per_licence(setup) -> None:  # type: ignore[no-untyped-def]
    lists, docs, key, clock = setup
    lists.extend([change("LicenceSuspended", 1, 4), change("LicenceRevoked", 3, 4)], 4, T0 + 2)
    served = docs.serve("http://node:1", A, 0, "token")
    assert served.media_type == "application/statuslist+jwt"
    header, tok = verified(served.body, key)
    assert header == {"alg": "ES256", "typ": "statuslist+jwt", "kid": key.kid()}
    assert tok["sub"] == f"http://node:1/v1/status-lists/{A}/0/token"
    assert tok["iat"] == int(clock.now) and tok["exp"] == int(clock.now) + 86_400
    assert tok["ttl"] == 10 and tok["iss"] == key.issuer()
    status_list = tok["status_list"]
    assert isinstance(status_list, dict) and status_list["bits"] == 2
    raw = decode_token_list(status_list["lst"])
    assert len(raw) * 4 == MIN_CAPACITY
    assert [token_status(raw, i) for i in range(5)] == [VALID, SUSPENDED, VALID, INVALID, VALID]


def test_cached_per_block_and_rebuilt_when_the_block_moves(setup) -> None:  # type: ignore[no-untyped-def]
    lists, docs, key, clock = setup
    first = docs.serve("http://n", A, 0, "suspension")
    assert docs.serve("http://n", A, 0, "suspension") is first
    lists.extend([], 5, T0 + 4)  # a new block without a change of this list
    second = docs.serve("http://n", A, 0, "suspension")
    assert second.etag != first.etag and second.block == 5
    lists.extend([change("LicenceSuspended", 2, 6)], 6, T0 + 6)
    _, vc = verified(docs.serve("http://n", A, 0, "suspension").body, key)
    assert bit(decode_bitstring(vc["credentialSubject"]["encodedList"]), 2)  # type: ignore[index]
    lists.extend([change("LicenceReinstated", 2, 7)], 7, T0 + 8)
    _, vc = verified(docs.serve("http://n", A, 0, "suspension").body, key)
    assert not bit(decode_bitstring(vc["credentialSubject"]["encodedList"]), 2)  # type: ignore[index]
    # a quiet chain: re-signed after `refresh`, so the list never expires while served
    same = docs.serve("http://n", A, 0, "suspension")
    clock.now += 3_600
    assert docs.serve("http://n", A, 0, "suspension").etag != same.etag


def test_unknown_lists_and_issuers_without_a_key(setup) -> None:  # type: ignore[no-untyped-def]
    _, docs, _, _ = setup
    with pytest.raises(NotFoundError):
        docs.serve("http://n", A, 1, "revocation")
    with pytest.raises(NoCredentialKey):
        docs.serve("http://n", B, 0, "revocation")
    with pytest.raises(InputError):
        docs.serve("http://n", A, 0, "message")

    class Unregistered(LocalKey):
        def kid(self) -> str:
            raise ConfigError("department market: its credential key is not registered yet")

    docs.keys = lambda _d: Unregistered(A)
    with pytest.raises(NoCredentialKey, match="not registered yet"):
        docs.serve("http://n", A, 0, "revocation")


def test_a_reorg_rebuild_at_the_same_height_is_never_served_from_the_cache(setup) -> None:  # type: ignore[no-untyped-def]
    lists, docs, key, _ = setup
    lists.extend([change("LicenceSuspended", 1, 4)], 4, T0 + 2)
    before = docs.serve("http://n", A, 0, "suspension")
    # the indexer rolled block 4 back and the new block 4 suspends licence 2 instead
    lists.reset(
        [issued(i, A) for i in range(5)] + [issued(9, B), change("LicenceSuspended", 2, 4)],
        4,
        T0 + 2,
    )
    after = docs.serve("http://n", A, 0, "suspension")
    assert after.block == before.block == 4 and after.etag != before.etag
    _, vc = verified(after.body, key)
    raw = decode_bitstring(vc["credentialSubject"]["encodedList"])  # type: ignore[index]
    assert [i for i in range(5) if bit(raw, i)] == [2]
