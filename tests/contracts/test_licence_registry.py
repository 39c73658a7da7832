"""LicenceRegistry: every function, event and custom error, against the session anvil."""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak

from credledger.node.core.contracts.licence_registry import (
    ROLE_ISSUER,
    ROLE_SUPERVISOR,
    SUPERVISOR_ROLE,
    InvalidAuthorisation,
    InvalidDocHash,
    InvalidHolder,
    InvalidHolderAddress,
    InvalidLicenceType,
    InvalidValidity,
    IssueRequest,
    KeyIsRetired,
    LicenceExists,
    LicenceId,
    LicenceIsRevoked,
    LicenceNotActive,
    LicenceNotFound,
    LicenceNotSuspended,
    LicenceStatus,
    LicenceTypeExists,
    NotAuthorised,
    NotIssuer,
    RegistryFull,
    SupervisionKind,
    UnknownLicenceType,
    licence_id_of,
    serial_of,
)
from credledger.node.core.contracts.openzeppelin import (
    AccessControlEnforcedDefaultAdminDelay,
    AccessControlEnforcedDefaultAdminRules,
    AccessControlUnauthorizedAccount,
)
from credledger.node.core.errors import ContractRevert
from tests.contracts.conftest import BL, FOOD, MED, SCHEMA, Env, now, rpc, warp
from tests.contracts.helpers import events, expect, only_event, reverts

ADMIN_ROLE = b"\0" * 32
HOLDER = keccak(b"subject:91310000MA1FL0XX3A")
DOC = keccak(b"document v1")
DOC2 = keccak(b"document v2")
YEAR = 365 * 86400
ZERO = "0x0000000000000000000000000000000000000000"


def request(
    env: Env,
    number: str = "JY13101010000001",
    type_id: bytes = FOOD,
    *,
    until: int | None = None,
    holder_address: str | None = None,
    doc: bytes = DOC,
) -> IssueRequest:
    t = now(env.chain)
    return IssueRequest(
        type_id=type_id,
        serial=serial_of(number),
        holder=HOLDER,
        doc_hash=doc,
        valid_from=t - 10,
        valid_until=t + YEAR if until is None else until,
        holder_address=holder_address,
    )


def issue(env: Env, as_: str = "issuer", **kw: object) -> LicenceId:
    lid, _ = env.licences(as_).issue(request(env, **kw))  # type: ignore[arg-type]
    return lid


# --- governance -------------------------------------------------------------------------------


def test_constructor_wiring_admin_delay_and_version(env: Env) -> None:
    c = env.licences().contract.functions
    assert c.defaultAdmin().call() == env.addr("admin")
    assert c.defaultAdminDelay().call() == 86_400
    assert c.VERSION().call() == "2.1.0"
    assert c.ROLE_ISSUER().call() == ROLE_ISSUER
    assert c.ROLE_SUPERVISOR().call() == ROLE_SUPERVISOR
    assert bytes(c.SUPERVISOR_ROLE().call()) == SUPERVISOR_ROLE


def test_register_type_emits_and_stores(env: Env) -> None:
    lic = env.licences()
    tid = keccak(b"SE-USE")
    receipt = lic.register_type(tid, "Special equipment use", SCHEMA)
    assert only_event(lic, "LicenceTypeRegistered", receipt) == expect(
        typeId=tid, index=4, schemaHash=SCHEMA, name="Special equipment use"
    )
    info = lic.get_type(tid)
    assert info is not None and (info.index, info.schema_hash, info.name) == (
        4,
        SCHEMA,
        "Special equipment use",
    )
    assert lic.get_type(keccak(b"NOPE")) is None


def test_register_type_reverts(env: Env) -> None:
    lic = env.licences()
    with reverts(LicenceTypeExists, FOOD):
        lic.register_type(FOOD, "again", SCHEMA)
    with reverts(InvalidLicenceType, b"\0" * 32):
        lic.register_type(b"\0" * 32, "zero", SCHEMA)
    with reverts(InvalidLicenceType, keccak(b"X")):
        lic.register_type(keccak(b"X"), "no schema", b"\0" * 32)
    with reverts(InvalidLicenceType, keccak(b"X")):
        lic.register_type(keccak(b"X"), "", SCHEMA)
    with reverts(AccessControlUnauthorizedAccount, env.addr("issuer"), ADMIN_ROLE):
        env.licences("issuer").register_type(keccak(b"X"), "x", SCHEMA)


def test_set_authorisation_emits_and_stores(env: Env) -> None:
    lic = env.licences()
    receipt = lic.set_authorisation(MED, env.addr("issuer2"), ROLE_ISSUER | ROLE_SUPERVISOR)
    assert only_event(lic, "AuthorisationSet", receipt) == expect(
        typeId=MED, department=env.addr("issuer2"), roles=3
    )
    assert lic.authorisation_of(MED, env.addr("issuer2")) == 3
    assert lic.authorisation_of(FOOD, env.addr("supervisor")) == ROLE_SUPERVISOR
    lic.set_authorisation(MED, env.addr("issuer2"), 0)
    assert lic.authorisation_of(MED, env.addr("issuer2")) == 0


def test_set_authorisation_reverts(env: Env) -> None:
    lic = env.licences()
    unknown = keccak(b"UNKNOWN")
    with reverts(UnknownLicenceType, unknown):
        lic.set_authorisation(unknown, env.addr("issuer"), ROLE_ISSUER)
    with reverts(InvalidAuthorisation, FOOD, env.addr("issuer"), 4):
        lic.set_authorisation(FOOD, env.addr("issuer"), 4)
    with reverts(InvalidAuthorisation, FOOD, ZERO, 1):
        lic.set_authorisation(FOOD, ZERO, 1)
    with reverts(AccessControlUnauthorizedAccount, env.addr("outsider"), ADMIN_ROLE):
        env.licences("outsider").set_authorisation(FOOD, env.addr("outsider"), 1)


def test_admin_handover_is_two_step_with_delay(env: Env) -> None:
    lic = env.licences()
    new_admin = env.addr("relayer")
    with reverts(AccessControlEnforcedDefaultAdminRules):
        lic._send(lic.contract.functions.grantRole(ADMIN_ROLE, new_admin))
    lic._send(lic.contract.functions.beginDefaultAdminTransfer(new_admin))
    _, schedule = lic.contract.functions.pendingDefaultAdmin().call()
    relayer = env.licences("relayer")
    with reverts(AccessControlEnforcedDefaultAdminDelay, schedule):
        relayer._send(relayer.contract.functions.acceptDefaultAdminTransfer())
    warp(env.chain, 86_401)
    relayer._send(relayer.contract.functions.acceptDefaultAdminTransfer())
    assert lic.contract.functions.defaultAdmin().call() == new_admin
    relayer.register_type(keccak(b"NEW"), "new", SCHEMA)  # the new admin governs


# --- issuance ---------------------------------------------------------------------------------


def test_issue_emits_stores_and_derives_id(env: Env) -> None:
    lic = env.licences("issuer")
    req = request(env, holder_address=env.addr("holder"))
    lid, receipt = lic.issue(req)
    assert lid == licence_id_of(FOOD, serial_of("JY13101010000001"))
    assert bytes(lic.contract.functions.licenceIdOf(FOOD, req.serial).call()) == lid
    assert only_event(lic, "LicenceIssued", receipt) == expect(
        licenceId=lid,
        holder=HOLDER,
        issuer=env.addr("issuer"),
        typeId=FOOD,
        holderAddress=env.addr("holder"),
        docHash=DOC,
        validFrom=req.valid_from,
        validUntil=req.valid_until,
    )
    got = lic.get_licence(lid)
    assert got is not None
    assert (got.issuer, got.type_id, got.status, got.version, got.valid_until, got.doc_hash) == (
        env.addr("issuer"),
        FOOD,
        LicenceStatus.ACTIVE,
        1,
        req.valid_until,
        DOC,
    )
    assert lic.status_of(lid) is LicenceStatus.ACTIVE
    assert lic.holder_of(lid) == env.addr("holder")
    assert lic.holder_and_status(lid) == (env.addr("holder"), LicenceStatus.ACTIVE)
    assert lic.is_current_document(lid, DOC)
    assert not lic.is_current_document(lid, DOC2)
    assert not lic.is_current_document(lid, b"\0" * 32)


def test_issue_without_end_or_address(env: Env) -> None:
    lic = env.licences("issuer")
    lid, receipt = lic.issue(request(env, "91310000MA1FL0XX3A", BL, until=0))
    ev = only_event(lic, "LicenceIssued", receipt)
    assert ev["holderAddress"] == ZERO and ev["validUntil"] == 0
    assert lic.holder_of(lid) is None
    assert lic.holder_and_status(lid) == (None, LicenceStatus.ACTIVE)
    warp(env.chain, 50 * YEAR)
    assert lic.status_of(lid) is LicenceStatus.ACTIVE


def test_issue_reverts(env: Env) -> None:
    t = now(env.chain)
    lid = licence_id_of(FOOD, serial_of("JY13101010000001"))
    with reverts(NotIssuer, FOOD, env.addr("outsider")):
        issue(env, "outsider")
    with reverts(NotIssuer, FOOD, env.addr("supervisor")):
        issue(env, "supervisor")
    with reverts(NotIssuer, BL, env.addr("issuer2")):
        issue(env, "issuer2", type_id=BL)
    with reverts(NotIssuer, MED, env.addr("issuer")):
        issue(env, type_id=MED)
    lic = env.licences("issuer")
    with reverts(InvalidHolder, lid):
        lic.issue(IssueRequest(FOOD, serial_of("JY13101010000001"), b"\0" * 32, DOC, t))
    with reverts(InvalidDocHash, lid):
        lic.issue(IssueRequest(FOOD, serial_of("JY13101010000001"), HOLDER, b"\0" * 32, t))
    with reverts(InvalidValidity, lid, t + 100, t + 100):
        lic.issue(IssueRequest(FOOD, serial_of("JY13101010000001"), HOLDER, DOC, t + 100, t + 100))
    with reverts(InvalidValidity, lid, t - 100, t - 1):
        lic.issue(IssueRequest(FOOD, serial_of("JY13101010000001"), HOLDER, DOC, t - 100, t - 1))
    issue(env)
    with reverts(LicenceExists, lid):
        issue(env, "issuer2", doc=DOC2)


def test_issue_batch_mixed_types_all_or_none(env: Env) -> None:
    lic = env.licences("issuer")
    reqs = [request(env, f"JY{i:014d}", FOOD if i % 2 else BL) for i in range(5)]
    ids, receipt = lic.issue_batch(reqs)
    issued = [e["licenceId"] for e in lic._events("LicenceIssued", receipt)]
    assert issued == ids == [r.licence_id for r in reqs]
    assert all(lic.status_of(i) is LicenceStatus.ACTIVE for i in ids)
    # a duplicate anywhere in the batch reverts the whole batch
    fresh = request(env, "JY99999999999999")
    with reverts(LicenceExists, reqs[3].licence_id):
        lic.issue_batch([fresh, reqs[3]])
    assert lic.status_of(fresh.licence_id) is LicenceStatus.NOT_FOUND
    # every type in the batch is checked
    with reverts(NotIssuer, MED, env.addr("issuer")):
        lic.issue_batch([fresh, request(env, "X1", MED)])
    with reverts(NotIssuer, BL, env.addr("issuer2")):
        env.licences("issuer2").issue_batch([fresh, request(env, "X2", BL)])
    assert lic.issue_batch([])[0] == []


# --- lifecycle --------------------------------------------------------------------------------


def test_suspend_reinstate_revoke_events_and_status(env: Env) -> None:
    lid = issue(env)
    lic = env.licences("issuer")
    r = lic.suspend(lid, 7)
    assert only_event(lic, "LicenceSuspended", r) == expect(
        licenceId=lid, by=env.addr("issuer"), reasonCode=7
    )
    assert lic.status_of(lid) is LicenceStatus.SUSPENDED
    r = lic.reinstate(lid)
    assert only_event(lic, "LicenceReinstated", r) == expect(licenceId=lid, by=env.addr("issuer"))
    assert lic.status_of(lid) is LicenceStatus.ACTIVE
    r = lic.revoke(lid, 9)
    assert only_event(lic, "LicenceRevoked", r) == expect(
        licenceId=lid, by=env.addr("issuer"), reasonCode=9
    )
    assert lic.status_of(lid) is LicenceStatus.REVOKED
    got = lic.get_licence(lid)
    assert got is not None and got.status is LicenceStatus.REVOKED and got.version == 1


def test_illegal_transitions_carry_id_and_status(env: Env) -> None:
    lid = issue(env)
    lic = env.licences("issuer")
    with reverts(LicenceNotSuspended, lid, LicenceStatus.ACTIVE):
        lic.reinstate(lid)
    lic.suspend(lid, 1)
    with reverts(LicenceNotActive, lid, LicenceStatus.SUSPENDED):
        lic.suspend(lid, 1)
    lic.revoke(lid, 2)  # a suspended licence can be revoked
    with reverts(LicenceIsRevoked, lid, LicenceStatus.REVOKED):
        lic.revoke(lid, 2)
    with reverts(LicenceNotActive, lid, LicenceStatus.REVOKED):
        lic.suspend(lid, 1)
    with reverts(LicenceNotSuspended, lid, LicenceStatus.REVOKED):
        lic.reinstate(lid)
    with reverts(LicenceIsRevoked, lid, LicenceStatus.REVOKED):
        lic.amend(lid, DOC2, 0)
    with reverts(LicenceIsRevoked, lid, LicenceStatus.REVOKED):
        lic.bind_holder(lid, env.addr("holder"))


def test_unknown_licence_reverts_not_found(env: Env) -> None:
    lic = env.licences("issuer")
    lid = licence_id_of(FOOD, serial_of("NOPE"))
    for call in (
        lambda: lic.suspend(lid, 1),
        lambda: lic.reinstate(lid),
        lambda: lic.revoke(lid, 1),
        lambda: lic.amend(lid, DOC2, 0),
        lambda: lic.bind_holder(lid, env.addr("holder")),
    ):
        with reverts(LicenceNotFound, lid):
            call()
    assert lic.get_licence(lid) is None
    assert lic.status_of(lid) is LicenceStatus.NOT_FOUND


def test_who_may_change_a_licence(env: Env) -> None:
    food = issue(env)
    bl = issue(env, type_id=BL, number="91310000MA1FL0XX3A")
    sup = env.licences("supervisor")
    other = env.licences("issuer2")
    out = env.licences("outsider")
    # a supervisor of the type may suspend and reinstate, nothing else
    sup.suspend(food, 3)
    sup.reinstate(food)
    with reverts(NotAuthorised, food, env.addr("supervisor")):
        sup.revoke(food, 3)
    with reverts(NotAuthorised, food, env.addr("supervisor")):
        sup.amend(food, DOC2, 0)
    with reverts(NotAuthorised, food, env.addr("supervisor")):
        sup.bind_holder(food, env.addr("holder"))
    # ... and not for another type
    with reverts(NotAuthorised, bl, env.addr("supervisor")):
        sup.suspend(bl, 3)
    # another issuer of the type may change it; an issuer of another type may not
    other.suspend(food, 4)
    other.reinstate(food)
    with reverts(NotAuthorised, bl, env.addr("issuer2")):
        other.suspend(bl, 4)
    with reverts(NotAuthorised, bl, env.addr("issuer2")):
        other.revoke(bl, 4)
    for call in (
        lambda: out.suspend(food, 1),
        lambda: out.reinstate(food),
        lambda: out.revoke(food, 1),
        lambda: out.amend(food, DOC2, 0),
        lambda: out.bind_holder(food, env.addr("holder")),
    ):
        with reverts(NotAuthorised, food, env.addr("outsider")):
            call()
    other.revoke(food, 5)
    assert env.licences().status_of(food) is LicenceStatus.REVOKED


def test_deauthorised_issuer_keeps_only_its_own_licences(env: Env) -> None:
    mine = issue(env, "issuer2")
    theirs = issue(env, "issuer", number="JY2")
    env.licences().set_authorisation(FOOD, env.addr("issuer2"), 0)
    lic = env.licences("issuer2")
    with reverts(NotIssuer, FOOD, env.addr("issuer2")):
        issue(env, "issuer2", number="JY3")
    with reverts(NotAuthorised, theirs, env.addr("issuer2")):
        lic.suspend(theirs, 1)
    lic.suspend(mine, 1)  # documented: the issuing key stays responsible for its own licences
    assert lic.status_of(mine) is LicenceStatus.SUSPENDED


def test_amend_bumps_version_and_replaces_document(env: Env) -> None:
    lid = issue(env)
    lic = env.licences("issuer")
    until = now(env.chain) + 2 * YEAR
    r = lic.amend(lid, DOC2, until)
    assert only_event(lic, "LicenceAmended", r) == expect(
        licenceId=lid, by=env.addr("issuer"), version=2, docHash=DOC2, validUntil=until
    )
    got = lic.get_licence(lid)
    assert got is not None and (got.version, got.doc_hash, got.valid_until) == (2, DOC2, until)
    assert lic.is_current_document(lid, DOC2) and not lic.is_current_document(lid, DOC)
    lic.suspend(lid, 1)
    lic.amend(lid, DOC, 0)  # a suspended licence can be amended, stays suspended
    got = lic.get_licence(lid)
    assert got is not None
    assert (got.version, got.status, got.valid_until) == (3, LicenceStatus.SUSPENDED, 0)
    with reverts(InvalidDocHash, lid):
        lic.amend(lid, b"\0" * 32, 0)
    past = now(env.chain) - 1
    with reverts(InvalidValidity, lid, 0, past):
        lic.amend(lid, DOC2, past)


def test_bind_holder_stores_moves_and_emits(env: Env) -> None:
    lid = issue(env)
    lic = env.licences("issuer")
    before = lic.get_licence(lid)
    r = lic.bind_holder(lid, env.addr("holder"))
    assert only_event(lic, "HolderBound", r) == expect(
        licenceId=lid, holderAddress=env.addr("holder"), by=env.addr("issuer")
    )
    assert lic.holder_of(lid) == env.addr("holder")
    # re-binding (here by another issuer of the type) moves it; nothing else in the word changes
    r = env.licences("issuer2").bind_holder(lid, env.addr("grantee"))
    assert only_event(lic, "HolderBound", r)["by"] == env.addr("issuer2").lower()
    assert lic.holder_and_status(lid) == (env.addr("grantee"), LicenceStatus.ACTIVE)
    assert lic.get_licence(lid) == before
    lic.suspend(lid, 1)
    lic.bind_holder(lid, env.addr("holder"))  # a suspended licence can be bound
    assert lic.holder_and_status(lid) == (env.addr("holder"), LicenceStatus.SUSPENDED)
    lic.amend(lid, DOC2, 0)
    assert lic.holder_of(lid) == env.addr("holder")  # amendments keep the holder
    with reverts(InvalidHolderAddress, lid, ZERO):
        lic.bind_holder(lid, ZERO)
    lic.revoke(lid, 1)
    assert lic.holder_and_status(lid) == (env.addr("holder"), LicenceStatus.REVOKED)
    unknown = licence_id_of(FOOD, serial_of("NOPE"))
    assert lic.holder_and_status(unknown) == (None, LicenceStatus.NOT_FOUND)


# --- retiring a key ---------------------------------------------------------------------------


def block_time(env: Env, receipt: dict[str, object]) -> int:
    return int(env.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])  # type: ignore[arg-type]


def test_retire_key_removes_every_role_and_emits(env: Env) -> None:
    admin = env.licences()
    admin.set_authorisation(MED, env.addr("supervisor"), ROLE_SUPERVISOR)
    admin.set_authorisation(MED, env.addr("supervisor"), 0)  # listed once, already without roles
    r = admin.retire_key(env.addr("supervisor"))
    t = block_time(env, r)  # type: ignore[arg-type]
    assert events(admin, "AuthorisationSet", r) == [
        expect(typeId=FOOD, department=env.addr("supervisor"), roles=0)
    ]
    assert events(admin, "KeyRetired", r) == [expect(key=env.addr("supervisor"), retiredAt=t)]
    assert admin.retired_at(env.addr("supervisor")) == t
    assert admin.retired_at(env.addr("issuer")) == 0
    assert admin.authorisation_of(FOOD, env.addr("supervisor")) == 0
    assert not admin.has_supervisor_role(env.addr("supervisor"))
    # the issuer of two types loses both
    r = admin.retire_key(env.addr("issuer"))
    assert [e["typeId"] for e in events(admin, "AuthorisationSet", r)] == [FOOD, BL]
    assert admin.authorisation_of(FOOD, env.addr("issuer")) == 0
    assert admin.authorisation_of(BL, env.addr("issuer")) == 0
    # a key never authorised can be retired before it is ever used
    r = admin.retire_key(env.addr("outsider"))
    assert only_event(admin, "KeyRetired", r)["key"] == env.addr("outsider").lower()


def test_retired_key_can_do_nothing_and_cannot_come_back(env: Env) -> None:
    mine = issue(env, "issuer2", holder_address=env.addr("holder"))
    suspended = issue(env, "issuer2", number="JY2")
    env.licences("issuer2").suspend(suspended, 1)
    theirs = issue(env, "issuer", number="JY3")
    admin = env.licences()
    r = admin.retire_key(env.addr("issuer2"))
    t = block_time(env, r)  # type: ignore[arg-type]
    old = env.licences("issuer2")
    key = env.addr("issuer2")
    for call in (
        lambda: old.issue(request(env, "JY4")),
        lambda: old.issue_batch([request(env, "JY5")]),
        lambda: old.amend(mine, DOC2, 0),
        lambda: old.bind_holder(mine, env.addr("outsider")),
        lambda: old.suspend(mine, 1),
        lambda: old.reinstate(suspended),
        lambda: old.revoke(mine, 1),
        lambda: old.suspend(theirs, 1),  # not its own: still KeyIsRetired, not NotAuthorised
    ):
        with reverts(KeyIsRetired, key, t):
            call()
    # never authorised or retired again
    with reverts(KeyIsRetired, key, t):
        admin.set_authorisation(FOOD, key, ROLE_ISSUER)
    with reverts(KeyIsRetired, key, t):
        admin.set_authorisation(MED, key, 0)
    with reverts(KeyIsRetired, key, t):
        admin.grant_supervisor_role(key)
    with reverts(KeyIsRetired, key, t):
        admin.retire_key(key)
    with reverts(InvalidAuthorisation, b"\0" * 32, ZERO, 0):
        admin.retire_key(ZERO)
    with reverts(AccessControlUnauthorizedAccount, env.addr("issuer"), ADMIN_ROLE):
        env.licences("issuer").retire_key(env.addr("outsider"))
    # its licences keep their validity, holder and issuer
    lic = env.licences("issuer")
    got = lic.get_licence(mine)
    assert got is not None and (got.issuer, got.status) == (key, LicenceStatus.ACTIVE)
    assert lic.holder_of(mine) == env.addr("holder")
    assert lic.is_current_document(mine, DOC)
    # the type's current keys keep authority over them
    lic.reinstate(suspended)
    lic.amend(mine, DOC2, 0)
    lic.bind_holder(mine, env.addr("grantee"))
    env.licences("supervisor").suspend(mine, 2)
    lic.revoke(mine, 3)
    assert lic.status_of(mine) is LicenceStatus.REVOKED


def test_retired_key_cannot_take_the_admin_role(env: Env) -> None:
    lic = env.licences()
    r = lic.retire_key(env.addr("relayer"))
    t = block_time(env, r)  # type: ignore[arg-type]
    lic._send(lic.contract.functions.beginDefaultAdminTransfer(env.addr("relayer")))
    warp(env.chain, 86_401)
    relayer = env.licences("relayer")
    with reverts(KeyIsRetired, env.addr("relayer"), t):
        relayer._send(relayer.contract.functions.acceptDefaultAdminTransfer())


# storage slot of `_typeCount` (uint32) and `_keyCount` (uint16 << 32), from solc's storage layout:
# AccessControl's `_roles` (0), AccessControlDefaultAdminRules (1-2), six mappings (3-8); the test
# checks the slot's value first, so a layout change fails loudly instead of writing elsewhere
COUNTS_SLOT = 9


def test_registry_full_for_types_and_keys(env: Env) -> None:
    lic = env.licences()
    slot = int(rpc(env.chain, "eth_getStorageAt", [lic.address, hex(COUNTS_SLOT), "latest"]), 16)
    assert slot == 3 | (3 << 32)  # build_env: 3 types; issuer, issuer2, supervisor have keys

    def set_counts(types: int, keys: int) -> None:
        value = "0x" + (types | (keys << 32)).to_bytes(32, "big").hex()
        rpc(env.chain, "anvil_setStorageAt", [lic.address, hex(COUNTS_SLOT), value])

    set_counts(65_534, 3)
    lic.register_type(keccak(b"LAST"), "the last type", SCHEMA)
    assert lic.get_type(keccak(b"LAST")).index == 65_535  # type: ignore[union-attr]
    with reverts(RegistryFull, 65_535):
        lic.register_type(keccak(b"ONE-TOO-MANY"), "no room", SCHEMA)
    set_counts(3, 65_534)
    lic.set_authorisation(MED, env.addr("outsider"), ROLE_ISSUER)  # key 65,535
    lid, _ = env.licences("outsider").issue(request(env, "JY-LAST", MED))
    got = lic.get_licence(lid)
    assert got is not None and got.issuer == env.addr("outsider")
    with reverts(RegistryFull, 65_535):
        lic.set_authorisation(MED, env.addr("relayer"), ROLE_ISSUER)
    lic.set_authorisation(MED, env.addr("issuer"), ROLE_ISSUER)  # existing keys still fine


def test_record_supervision(env: Env) -> None:
    sup = env.licences("supervisor")
    ref = keccak(b"penalty decision 2026-001")
    r = sup.record_supervision(HOLDER, SupervisionKind.ADMINISTRATIVE_PENALTY, ref)
    assert only_event(sup, "SupervisionRecorded", r) == expect(
        subject=HOLDER, supervisor=env.addr("supervisor"), kind=2, refHash=ref
    )
    assert sup.has_supervisor_role(env.addr("supervisor"))
    with reverts(AccessControlUnauthorizedAccount, env.addr("issuer"), SUPERVISOR_ROLE):
        env.licences("issuer").record_supervision(
            HOLDER, SupervisionKind.ABNORMAL_OPERATION_LISTED, ref
        )


def test_expiry_is_derived_from_block_time(env: Env) -> None:
    t = now(env.chain)
    lid = issue(env, until=t + 100)
    revoked = issue(env, number="JY2", until=t + 100)
    suspended = issue(env, number="JY3", until=t + 100)
    lic = env.licences("issuer")
    lic.revoke(revoked, 1)
    lic.suspend(suspended, 1)
    assert lic.status_of(lid) is LicenceStatus.ACTIVE
    warp(env.chain, 200)
    assert lic.status_of(lid) is LicenceStatus.EXPIRED
    got = lic.get_licence(lid)
    assert got is not None and got.status is LicenceStatus.EXPIRED
    assert lic.status_of(suspended) is LicenceStatus.EXPIRED
    assert lic.status_of(revoked) is LicenceStatus.REVOKED
    lic.amend(lid, DOC2, now(env.chain) + YEAR)  # renewal by amendment
    assert lic.status_of(lid) is LicenceStatus.ACTIVE


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (UnknownLicenceType, 404),
        (LicenceNotFound, 404),
        (NotIssuer, 403),
        (NotAuthorised, 403),
        (AccessControlUnauthorizedAccount, 403),
        (LicenceExists, 409),
        (LicenceNotActive, 409),
        (LicenceIsRevoked, 409),
        (InvalidValidity, 400),
        (KeyIsRetired, 403),
        (RegistryFull, 409),
    ],
)
def test_errors_map_to_http_status(cls: type[ContractRevert], status: int) -> None:
    assert cls.http_status == status
