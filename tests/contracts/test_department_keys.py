"""LicenceRegistry's department key registry and sealed issuance (issue 20 item 4), on a real anvil.

Keys are registered by the department itself or by the admin for it, never by another department;
a key is checked against its curve, kept with its history and readable after retirement. A sealed
issuance or amendment accepts only the caller's own SM2 key in service, and the (r, s) the chain
keeps in ``LicenceSealed`` verify (OpenSSL, SM2 with SM3) against the public key the chain keeps.
"""

from __future__ import annotations

import functools

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_hash.auto import keccak

from credledger.node.core.contracts.department_keys import (
    DepartmentKeyExists,
    DepartmentKeyIsRetired,
    InvalidDepartmentKey,
    InvalidSealKey,
    NotKeyManager,
    SealCountMismatch,
    TooManySealKeys,
    UnknownDepartment,
    UnknownDepartmentKey,
)
from credledger.node.core.contracts.licence_registry import (
    KEY_KIND_P256,
    KEY_KIND_SM2,
    ROLE_ISSUER,
    DepartmentKey,
    IssueRequest,
    KeyIsRetired,
    NotAuthorised,
    NotIssuer,
    Seal,
    serial_of,
)
from tests.contracts.conftest import FOOD, MED, Env, now
from tests.contracts.helpers import events, reverts
from tests.contracts.sealing import Sm2Key, verify

HOLDER = keccak(b"subject:91310000MA1FL0XX3A")
ZERO = "0x0000000000000000000000000000000000000000"


@functools.cache
def sm2_key(n: int) -> Sm2Key:
    """The n-th SM2 key of this module (generated once per run by OpenSSL)."""
    return Sm2Key.generate()


def p256_xy() -> bytes:
    point = ec.generate_private_key(ec.SECP256R1()).public_key()
    return point.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)[1:]


def block_time(env: Env, receipt: dict[str, object]) -> int:
    return int(env.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])  # type: ignore[arg-type]


def request(env: Env, number: str, type_id: bytes = FOOD) -> IssueRequest:
    t = now(env.chain)
    return IssueRequest(type_id, serial_of(number), HOLDER, keccak(number.encode()), t - 10, 0)


def metadata(number: str, version: int = 1) -> bytes:
    """Stand-in canonical metadata bytes (the format is H1's; any bytes show the round trip)."""
    return f'{{"number":"{number}","version":"{version:03d}"}}'.encode()


def seal_of(key_id: int, key: Sm2Key, data: bytes) -> Seal:
    r, s = key.sign(data)
    return Seal.of(key_id, r, s)


def register(env: Env, as_: str, n: int, department: str | None = None) -> int:
    key_id, _ = env.licences(as_).register_department_key(
        env.addr(department or as_), KEY_KIND_SM2, sm2_key(n).public_xy()
    )
    return key_id


# --- registration and retirement ----------------------------------------------------------------


def test_department_registers_its_own_key_with_history(env: Env) -> None:
    lic = env.licences("issuer")
    xy = sm2_key(0).public_xy()
    key_id, r = lic.register_department_key(env.addr("issuer"), KEY_KIND_SM2, xy)
    t = block_time(env, r)  # type: ignore[arg-type]
    assert events(lic, "DepartmentKeyRegistered", r) == [
        {"department": env.addr("issuer").lower(), "keyId": key_id, "kind": 1, "publicKey": xy}
    ]
    assert lic.department_key(key_id) == DepartmentKey(key_id, env.addr("issuer"), 1, t, 0, xy)
    p256 = p256_xy()
    key2, _ = lic.register_department_key(env.addr("issuer"), KEY_KIND_P256, p256)
    assert key2 == key_id + 1
    assert lic.department_key_ids(env.addr("issuer")) == [key_id, key2]
    assert lic.department_key(key2).kind == KEY_KIND_P256  # type: ignore[union-attr]
    assert lic.department_key(key2).public_key == p256  # type: ignore[union-attr]
    assert lic.department_key(999) is None
    assert lic.department_key_ids(env.addr("outsider")) == []

    r = lic.retire_department_key(key_id)
    retired = block_time(env, r)  # type: ignore[arg-type]
    assert events(lic, "DepartmentKeyRetired", r) == [
        {"department": env.addr("issuer").lower(), "keyId": key_id, "retiredAt": retired}
    ]
    record = lic.department_key(key_id)  # a retired key stays readable
    assert record == DepartmentKey(key_id, env.addr("issuer"), 1, t, retired, xy)
    assert record.in_service_at(retired) and not record.in_service_at(retired + 1)
    assert lic.department_key_ids(env.addr("issuer")) == [key_id, key2]
    with reverts(DepartmentKeyIsRetired, key_id, retired):
        lic.retire_department_key(key_id)
    with reverts(UnknownDepartmentKey, 999):
        lic.retire_department_key(999)


def test_admin_registers_and_retires_for_a_department(env: Env) -> None:
    admin = env.licences()
    key_id = register(env, "admin", 1, department="issuer2")
    assert admin.department_key(key_id).department == env.addr("issuer2")  # type: ignore[union-attr]
    admin.retire_department_key(key_id)
    # the admin may act for a department whose own key was retired (a leaked key's seals)
    other = register(env, "issuer", 2)
    admin.retire_key(env.addr("issuer"))
    with reverts(KeyIsRetired, env.addr("issuer"), env.licences().retired_at(env.addr("issuer"))):
        env.licences("issuer").retire_department_key(other)
    admin.retire_department_key(other)
    with reverts(KeyIsRetired, env.addr("issuer"), env.licences().retired_at(env.addr("issuer"))):
        register(env, "admin", 3, department="issuer")


def test_no_department_manages_another_departments_keys(env: Env) -> None:
    xy = sm2_key(4).public_xy()
    with reverts(NotKeyManager, env.addr("issuer"), env.addr("issuer2")):
        env.licences("issuer2").register_department_key(env.addr("issuer"), KEY_KIND_SM2, xy)
    with reverts(NotKeyManager, env.addr("issuer"), env.addr("supervisor")):
        env.licences("supervisor").register_department_key(env.addr("issuer"), KEY_KIND_SM2, xy)
    key_id = register(env, "issuer", 4)
    with reverts(NotKeyManager, env.addr("issuer"), env.addr("issuer2")):
        env.licences("issuer2").retire_department_key(key_id)
    with reverts(NotKeyManager, env.addr("issuer"), env.addr("outsider")):
        env.licences("outsider").retire_department_key(key_id)
    # an address never authorised for a type is no department, by itself or through the admin
    with reverts(UnknownDepartment, env.addr("outsider")):
        register(env, "outsider", 5)
    with reverts(UnknownDepartment, env.addr("holder")):
        register(env, "admin", 5, department="holder")
    # a supervisor (roles, no issuing) is a department and registers its own keys
    assert register(env, "supervisor", 5) == key_id + 1


def test_invalid_keys_are_refused(env: Env) -> None:
    lic = env.licences("issuer")
    xy = sm2_key(6).public_xy()
    bad_y = xy[:32] + (int.from_bytes(xy[32:], "big") ^ 1).to_bytes(32, "big")
    sm2_p = bytes.fromhex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF")
    for kind, key in [
        (KEY_KIND_SM2, xy[:63]),
        (KEY_KIND_SM2, xy + b"\x01"),
        (KEY_KIND_SM2, b"\x04" + xy),  # the 0x04 prefix is not part of the registered form
        (KEY_KIND_SM2, bytes(64)),
        (KEY_KIND_SM2, bad_y),
        (KEY_KIND_SM2, sm2_p + xy[32:]),  # x out of the field
        (KEY_KIND_P256, xy),  # an SM2 point is not on P-256
        (KEY_KIND_SM2, p256_xy()),
        (0, xy),
        (3, xy),
    ]:
        with reverts(InvalidDepartmentKey, kind, len(key)):
            lic.register_department_key(env.addr("issuer"), kind, key)
    key_id, _ = lic.register_department_key(env.addr("issuer"), KEY_KIND_SM2, xy)
    # a public key is registered once, ever: not again, not by another department, not retired
    with reverts(DepartmentKeyExists, key_id):
        env.licences("issuer2").register_department_key(env.addr("issuer2"), KEY_KIND_SM2, xy)
    lic.retire_department_key(key_id)
    with reverts(DepartmentKeyExists, key_id):
        lic.register_department_key(env.addr("issuer"), KEY_KIND_SM2, xy)


# --- sealed issuance ----------------------------------------------------------------------------


def test_issue_sealed_round_trip_verifies_against_the_chain(env: Env) -> None:
    key_id = register(env, "issuer", 7)
    lic = env.licences("issuer")
    data = metadata("JY1-SEALED-1")
    seal = seal_of(key_id, sm2_key(7), data)
    lid, r = lic.issue_sealed(request(env, "JY1-SEALED-1"), seal)
    (issued,) = lic.issued_events(r)
    assert issued["licenceId"] == lid and issued["issuer"] == env.addr("issuer")
    (sealed,) = lic.sealed_events(r)
    assert (sealed.licence_id, sealed.key_id, sealed.version) == (lid, key_id, 1)
    assert sealed.seal == seal
    assert sealed.transaction_hash == "0x" + bytes(r["transactionHash"]).hex()
    # a verifier with only an RPC: the seal from the logs, the key from the registry
    (found,) = lic.seals_of(lid)
    assert found == sealed
    key = lic.department_key(found.key_id)
    assert key is not None and key.department == env.addr("issuer") and key.kind == KEY_KIND_SM2
    assert verify(key.public_key, data, *found.seal.rs())
    assert not verify(key.public_key, metadata("JY1-SEALED-2"), *found.seal.rs())
    assert lic.get_licence(lid).version == 1  # type: ignore[union-attr]


def test_batch_and_amend_sealed(env: Env) -> None:
    key_id = register(env, "issuer", 8)
    lic = env.licences("issuer")
    numbers = [f"JY1-BATCH-{i}" for i in range(3)]
    seals = [seal_of(key_id, sm2_key(8), metadata(n)) for n in numbers]
    ids, r = lic.issue_batch_sealed([request(env, n) for n in numbers], seals)
    assert [(e.licence_id, e.version, e.seal) for e in lic.sealed_events(r)] == [
        (lid, 1, s) for lid, s in zip(ids, seals, strict=True)
    ]
    with reverts(SealCountMismatch, 2, 1):
        lic.issue_batch_sealed([request(env, "X-1"), request(env, "X-2")], seals[:1])

    amended = seal_of(key_id, sm2_key(8), metadata(numbers[0], 2))
    r = lic.amend_sealed(ids[0], keccak(b"v2"), 0, amended)
    assert [(e.licence_id, e.version, e.seal) for e in lic.sealed_events(r)] == [
        (ids[0], 2, amended)
    ]
    assert [e["version"] for e in events(lic, "LicenceAmended", r)] == [2]
    history = lic.seals_of(ids[0])
    assert [(e.version, e.seal) for e in history] == [(1, seals[0]), (2, amended)]
    key = lic.department_key(key_id)
    assert key is not None
    assert verify(key.public_key, metadata(numbers[0], 2), *history[1].seal.rs())
    # another issuer of the type amends with its own key, never with the issuing department's
    key2 = register(env, "issuer2", 9)
    other = env.licences("issuer2")
    with reverts(InvalidSealKey, key_id, env.addr("issuer"), KEY_KIND_SM2):
        other.amend_sealed(ids[1], keccak(b"v2"), 0, seals[1])
    other.amend_sealed(ids[1], keccak(b"v2"), 0, seal_of(key2, sm2_key(9), metadata("x")))
    with reverts(NotAuthorised, ids[2], env.addr("outsider")):
        env.licences("outsider").amend_sealed(ids[2], keccak(b"v2"), 0, seals[2])


def test_seal_keys_refused_retired_foreign_wrong_kind_unknown(env: Env) -> None:
    lic = env.licences("issuer")
    mine = register(env, "issuer", 10)
    theirs = register(env, "issuer2", 11)
    p256, _ = lic.register_department_key(env.addr("issuer"), KEY_KIND_P256, p256_xy())
    data = metadata("JY1-REFUSED")
    req = request(env, "JY1-REFUSED")
    with reverts(InvalidSealKey, theirs, env.addr("issuer2"), KEY_KIND_SM2):
        lic.issue_sealed(req, seal_of(theirs, sm2_key(11), data))
    with reverts(InvalidSealKey, p256, env.addr("issuer"), KEY_KIND_P256):
        lic.issue_sealed(req, Seal(p256, b"\1" * 32, b"\2" * 32))
    with reverts(InvalidSealKey, 999, ZERO, 0):
        lic.issue_sealed(req, Seal(999, b"\1" * 32, b"\2" * 32))
    with reverts(InvalidSealKey, theirs, env.addr("issuer2"), KEY_KIND_SM2):
        lic.issue_batch_sealed(
            [req, request(env, "JY1-REFUSED-2")],
            [seal_of(mine, sm2_key(10), data), seal_of(theirs, sm2_key(11), data)],
        )
    # not an issuer of the type: NotIssuer comes first, whatever the seal
    with reverts(NotIssuer, MED, env.addr("issuer")):
        lic.issue_sealed(request(env, "JY1-MED", MED), seal_of(mine, sm2_key(10), data))

    lid, r = lic.issue_sealed(req, seal_of(mine, sm2_key(10), data))
    sealed_at = block_time(env, r)  # type: ignore[arg-type]
    retired = block_time(env, lic.retire_department_key(mine))  # type: ignore[arg-type]
    with reverts(DepartmentKeyIsRetired, mine, retired):
        lic.issue_sealed(request(env, "JY1-AFTER"), seal_of(mine, sm2_key(10), data))
    with reverts(DepartmentKeyIsRetired, mine, retired):
        lic.amend_sealed(lid, keccak(b"v2"), 0, seal_of(mine, sm2_key(10), data))
    # the seal made before the retirement stays on chain and valid
    (before,) = lic.seals_of(lid)
    key = lic.department_key(mine)
    assert key is not None and key.in_service_at(sealed_at)
    assert verify(key.public_key, data, *before.seal.rs())
    # unsealed issuance is unchanged
    lic.issue(request(env, "JY1-UNSEALED"))


def test_seal_key_set_follows_authorisations_and_has_five_places(env: Env) -> None:
    admin = env.licences()
    lic = env.licences("issuer")
    keys = [register(env, "issuer", 20 + i) for i in range(5)]
    with reverts(TooManySealKeys, env.addr("issuer"), 5):
        register(env, "issuer", 25)
    lic.register_department_key(env.addr("issuer"), KEY_KIND_P256, p256_xy())  # not a seal key
    lic.retire_department_key(keys[2])
    sixth = register(env, "issuer", 25)  # takes the freed place
    # a type authorised after the keys were registered knows them; a role change keeps them
    admin.set_authorisation(MED, env.addr("issuer"), ROLE_ISSUER)
    admin.set_authorisation(FOOD, env.addr("issuer"), ROLE_ISSUER)
    for i, key_id in [(0, keys[0]), (4, keys[4]), (5, sixth)]:
        for type_id in (MED, FOOD):
            n = f"JY1-SET-{i}-{type_id.hex()[:4]}"
            lic.issue_sealed(request(env, n, type_id), seal_of(key_id, sm2_key(20 + i), b"m"))
    with reverts(DepartmentKeyIsRetired, keys[2], lic.department_key(keys[2]).retired_at):  # type: ignore[union-attr]
        lic.issue_sealed(request(env, "JY1-SET-R", MED), Seal(keys[2], b"\1" * 32, b"\2" * 32))
    # another department's authorisation words do not carry this department's keys
    with reverts(InvalidSealKey, keys[0], env.addr("issuer"), KEY_KIND_SM2):
        env.licences("issuer2").issue_sealed(
            request(env, "JY1-SET-X"), Seal(keys[0], b"\1" * 32, b"\2" * 32)
        )


def test_seal_made_by_the_node_library_verifies_from_the_chain(env: Env) -> None:
    """The node's own SM2 (core.sm2) makes the seal; the chain's r, s and key verify it there and
    in OpenSSL."""
    sm2 = pytest.importorskip("credledger.node.core.sm2")
    private = sm2.Sm2PrivateKey.generate()
    xy = private.public_key().raw()
    lic = env.licences("issuer")
    key_id, _ = lic.register_department_key(env.addr("issuer"), KEY_KIND_SM2, xy)
    data = metadata("JY1-NODE-SM2")
    r, s = sm2.der_to_rs(private.sign(data))
    lid, _ = lic.issue_sealed(request(env, "JY1-NODE-SM2"), Seal.of(key_id, r, s))
    (found,) = lic.seals_of(lid)
    key = lic.department_key(found.key_id)
    assert key is not None
    on_chain = sm2.Sm2PublicKey.from_raw(key.public_key)
    assert on_chain.verify(data, sm2.rs_to_der(*found.seal.rs()))
    assert not on_chain.verify(data + b" ", sm2.rs_to_der(*found.seal.rs()))
    assert verify(key.public_key, data, *found.seal.rs())
