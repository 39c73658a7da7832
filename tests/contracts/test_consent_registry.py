"""ConsentRegistry: grants sound by themselves (licence holder on chain, holder-committed material
ids), direct and signed grants (EOA, ERC-1271), keyed nonces, cancellation, every refusal."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from web3 import Web3

from credledger.node.core import paths
from credledger.node.core.artifacts import load_artifact
from credledger.node.compiler import build_artifacts
from credledger.node.core.contracts.consent_registry import (
    AssetKind,
    ConsentRegistry,
    Grant,
    GrantExhausted,
    GrantExpired,
    GrantNotFound,
    InvalidAccountNonce,
    InvalidExpiry,
    InvalidGrantee,
    InvalidSignature,
    LicenceNotUsable,
    NotHolder,
    SignatureExpired,
    material_asset_id,
    nonce_key,
    purpose_of,
)
from credledger.node.core.contracts.eip712 import (
    GRANT_TYPEHASH,
    REVOKE_TYPEHASH,
    GrantRequest,
    grant_typed_data,
    sign_typed_data,
)
from credledger.node.core.contracts.licence_registry import (
    IssueRequest,
    LicenceStatus,
    licence_id_of,
    serial_of,
)
from credledger.node.core.signer import dev_account
from tests.contracts.conftest import FOOD, Env, actor_key, now, rpc, warp
from tests.contracts.helpers import expect, only_event, reverts

LOAN = purpose_of("LOAN-APPLICATION")
DAY = 86400
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ZERO = "0x0000000000000000000000000000000000000000"
DOC = keccak(b"material: audited accounts 2025")
T_FROM = 1_767_225_600  # 2026-01-01


def issue_licence(
    env: Env, holder: str | None, number: str = "JY13101010000001", **kw: Any
) -> bytes:
    """A FOOD licence issued by `issuer`, bound to `holder` (None: no holder address)."""
    t = now(env.chain)
    req = IssueRequest(
        type_id=FOOD,
        serial=serial_of(number),
        holder=keccak(b"subject:91310000MA1FL0XX3A"),
        doc_hash=keccak(number.encode()),
        valid_from=t - 10,
        valid_until=kw.get("until", t + 365 * DAY),
        holder_address=holder,
    )
    lid, _ = env.licences("issuer").issue(req)
    return lid


@pytest.fixture
def lid(env: Env) -> bytes:
    """A licence bound to the holder."""
    return issue_licence(env, env.addr("holder"))


def req(
    env: Env,
    lid: bytes,
    *,
    holder: str | None = None,
    max_uses: int = 0,
    days: int = 30,
    grantee: str | None = None,
) -> GrantRequest:
    return GrantRequest.licence(
        holder or env.addr("holder"),
        lid,
        grantee or env.addr("grantee"),
        LOAN,
        now(env.chain) + days * DAY,
        max_uses,
    )


def material(env: Env, *, holder: str | None = None, doc: bytes = DOC) -> GrantRequest:
    return GrantRequest.material(
        holder or env.addr("holder"), doc, env.addr("grantee"), LOAN, now(env.chain) + 30 * DAY
    )


def deadline(env: Env) -> int:
    return now(env.chain) + 3600


def relayed(env: Env) -> ConsentRegistry:
    return env.consents("relayer")


# --- direct -----------------------------------------------------------------------------------


def test_deployment_wiring_and_version(env: Env) -> None:
    c = env.consents()
    assert c.licence_registry() == env.manifest["contracts"]["LicenceRegistry"]["address"]
    assert c.contract.functions.VERSION().call() == "2.0.0"


def test_licence_grant_emits_stores_and_authorises(env: Env, lid: bytes) -> None:
    c = env.consents("holder")
    g = req(env, lid, max_uses=3)
    assert c.contract.functions.grant(*_grant_args(g)).call({"from": g.holder}) == lid
    r = c.grant(g)
    assert only_event(c, "ConsentGranted", r) == expect(
        holder=env.addr("holder"),
        assetId=lid,
        grantee=env.addr("grantee"),
        purpose=LOAN,
        expiresAt=g.expires_at,
        maxUses=3,
        kind=AssetKind.LICENCE,
    )
    got = c.get_grant(g.holder, lid, g.grantee, LOAN)
    assert got == Grant(g.expires_at, 3, 0, AssetKind.LICENCE)
    assert c.is_authorized(g.holder, lid, g.grantee, LOAN)
    assert not c.is_authorized(g.holder, lid, g.grantee, purpose_of("OTHER"))
    assert not c.is_authorized(g.holder, lid, env.addr("outsider"), LOAN)
    key = keccak(
        abi_encode(["address", "bytes32", "address", "bytes32"], [g.holder, lid, g.grantee, LOAN])
    )
    assert bytes(c.contract.functions.grantKey(g.holder, lid, g.grantee, LOAN).call()) == key


def _grant_args(g: GrantRequest) -> tuple[Any, ...]:
    return (int(g.kind), g.asset, g.grantee, g.purpose, g.expires_at, g.max_uses)


def test_material_grant_is_stored_under_the_holder_committed_id(env: Env) -> None:
    c = env.consents("holder")
    g = material(env)
    asset_id = material_asset_id(env.addr("holder"), DOC)
    assert asset_id == keccak(abi_encode(["address", "bytes32"], [env.addr("holder"), DOC]))
    assert c.material_asset_id(env.addr("holder"), DOC) == asset_id == g.asset_id
    r = c.grant(g)
    ev = only_event(c, "ConsentGranted", r)
    assert (ev["assetId"], ev["kind"]) == (asset_id, AssetKind.MATERIAL)
    assert c.is_authorized(g.holder, asset_id, g.grantee, LOAN)
    assert not c.is_authorized(g.holder, DOC, g.grantee, LOAN)  # the bare hash names nothing
    got = c.get_grant(g.holder, asset_id, g.grantee, LOAN)
    assert got is not None and got.kind is AssetKind.MATERIAL
    env.consents("grantee").consume(g.holder, asset_id, LOAN)
    # a stranger "granting" the same document only creates a grant of its own asset id
    stranger = env.consents("outsider")
    sg = material(env, holder=env.addr("outsider"))
    stranger.grant(sg)
    assert sg.asset_id != asset_id
    assert stranger.is_authorized(env.addr("outsider"), sg.asset_id, g.grantee, LOAN)
    assert not stranger.is_authorized(env.addr("outsider"), asset_id, g.grantee, LOAN)


def test_grant_reverts(env: Env, lid: bytes) -> None:
    c = env.consents("holder")
    h = env.addr("holder")
    t = now(env.chain)
    with reverts(InvalidGrantee, ZERO):
        c.grant(GrantRequest.licence(h, lid, ZERO, LOAN, t + DAY))
    with reverts(InvalidGrantee, h):
        c.grant(GrantRequest.material(h, DOC, h, LOAN, t + DAY))
    with reverts(InvalidExpiry, t):
        c.grant(GrantRequest.licence(h, lid, env.addr("grantee"), LOAN, t))


def test_only_the_bound_holder_may_grant_a_licence(env: Env, lid: bytes) -> None:
    stranger = env.consents("outsider")
    s = env.addr("outsider")
    with reverts(NotHolder, s, lid):
        stranger.grant(req(env, lid, holder=s))
    unbound = issue_licence(env, None, "JY-UNBOUND")
    with reverts(NotHolder, env.addr("holder"), unbound):
        env.consents("holder").grant(req(env, unbound))
    unknown = licence_id_of(FOOD, serial_of("NEVER-ISSUED"))
    with reverts(NotHolder, env.addr("holder"), unknown):
        env.consents("holder").grant(req(env, unknown))
    # signed by the stranger and relayed: the same refusal
    g = req(env, lid, holder=s)
    dl = deadline(env)
    with reverts(NotHolder, s, lid):
        relayed(env).grant_by_sig(g, dl, relayed(env).sign_grant(env.accounts["outsider"], g, dl))
    assert not stranger.is_authorized(s, lid, env.addr("grantee"), LOAN)


def test_only_an_active_licence_can_be_granted(env: Env, lid: bytes) -> None:
    lic = env.licences("issuer")
    c = env.consents("holder")
    lic.suspend(lid, 1)
    with reverts(LicenceNotUsable, lid, LicenceStatus.SUSPENDED):
        c.grant(req(env, lid))
    lic.revoke(lid, 1)
    with reverts(LicenceNotUsable, lid, LicenceStatus.REVOKED):
        c.grant(req(env, lid))
    short = issue_licence(env, env.addr("holder"), "JY-SHORT", until=now(env.chain) + 100)
    warp(env.chain, 200)
    with reverts(LicenceNotUsable, short, LicenceStatus.EXPIRED):
        c.grant(req(env, short))


def test_rebinding_ends_the_old_holders_grant(env: Env, lid: bytes) -> None:
    a, b, bank = env.addr("holder"), env.addr("outsider"), env.consents("grantee")
    env.consents("holder").grant(req(env, lid))
    assert bank.is_authorized(a, lid, env.addr("grantee"), LOAN)
    env.licences("issuer").bind_holder(lid, b)
    assert not bank.is_authorized(a, lid, env.addr("grantee"), LOAN)
    with reverts(NotHolder, a, lid):
        bank.consume(a, lid, LOAN)
    # the new holder may grant; the old one may not any more
    env.consents("outsider").grant(req(env, lid, holder=b))
    assert bank.is_authorized(b, lid, env.addr("grantee"), LOAN)
    with reverts(NotHolder, a, lid):
        env.consents("holder").grant(req(env, lid))


def test_revocation_ends_and_suspension_pauses_grants(env: Env, lid: bytes) -> None:
    h, gr = env.addr("holder"), env.addr("grantee")
    bank = env.consents("grantee")
    lic = env.licences("issuer")
    env.consents("holder").grant(req(env, lid, max_uses=5))
    bank.consume(h, lid, LOAN)
    lic.suspend(lid, 1)
    assert not bank.is_authorized(h, lid, gr, LOAN)
    with reverts(LicenceNotUsable, lid, LicenceStatus.SUSPENDED):
        bank.consume(h, lid, LOAN)
    lic.reinstate(lid)
    assert bank.is_authorized(h, lid, gr, LOAN)  # suspension paused the grant
    assert bank.consume(h, lid, LOAN) is not None
    got = bank.get_grant(h, lid, gr, LOAN)
    assert got is not None and got.uses == 2
    lic.revoke(lid, 2)
    assert not bank.is_authorized(h, lid, gr, LOAN)
    with reverts(LicenceNotUsable, lid, LicenceStatus.REVOKED):
        bank.consume(h, lid, LOAN)


def test_expiry_of_the_licence_pauses_grants_until_renewed(env: Env) -> None:
    h, gr = env.addr("holder"), env.addr("grantee")
    short = issue_licence(env, h, "JY-SHORT", until=now(env.chain) + 100)
    env.consents("holder").grant(req(env, short))
    bank = env.consents("grantee")
    warp(env.chain, 200)
    assert not bank.is_authorized(h, short, gr, LOAN)
    with reverts(LicenceNotUsable, short, LicenceStatus.EXPIRED):
        bank.consume(h, short, LOAN)
    env.licences("issuer").amend(short, keccak(b"renewed"), now(env.chain) + 365 * DAY)
    assert bank.is_authorized(h, short, gr, LOAN)


def test_revoke_emits_and_ends_the_grant(env: Env, lid: bytes) -> None:
    c = env.consents("holder")
    g = req(env, lid)
    c.grant(g)
    # a signed re-grant a relayer sits on must not revive the grant after the revocation
    holder = env.accounts["holder"]
    dl = deadline(env)
    pending = relayed(env).sign_grant(holder, g, dl)
    before = c.slot_nonce(g.holder, lid, g.grantee, LOAN)
    r = c.revoke(lid, g.grantee, LOAN)
    assert only_event(c, "ConsentRevoked", r) == expect(
        holder=g.holder, assetId=lid, grantee=g.grantee, purpose=LOAN
    )
    assert not c.is_authorized(g.holder, lid, g.grantee, LOAN)
    assert c.get_grant(g.holder, lid, g.grantee, LOAN) is None
    assert c.slot_nonce(g.holder, lid, g.grantee, LOAN) == before + 1
    with reverts(InvalidSignature, g.holder):
        relayed(env).grant_by_sig(g, dl, pending)
    with reverts(GrantNotFound, g.holder, lid, g.grantee, LOAN):
        c.revoke(lid, g.grantee, LOAN)
    with reverts(GrantNotFound, g.holder, lid, g.grantee, LOAN):
        env.consents("grantee").consume(g.holder, lid, LOAN)


def test_consume_counts_uses_until_exhausted(env: Env, lid: bytes) -> None:
    env.consents("holder").grant(req(env, lid, max_uses=2))
    bank = env.consents("grantee")
    h, gr = env.addr("holder"), env.addr("grantee")
    assert bank.contract.functions.consume(h, lid, LOAN).call({"from": gr}) == 1
    r = bank.consume(h, lid, LOAN)
    assert only_event(bank, "ConsentUsed", r) == expect(
        holder=h, assetId=lid, grantee=gr, purpose=LOAN, uses=1
    )
    r = bank.consume(h, lid, LOAN)
    assert only_event(bank, "ConsentUsed", r)["uses"] == 2
    assert not bank.is_authorized(h, lid, gr, LOAN)
    with reverts(GrantExhausted, h, lid, gr, LOAN, 2):
        bank.consume(h, lid, LOAN)
    got = bank.get_grant(h, lid, gr, LOAN)
    assert got is not None and got.uses == 2
    # only the grantee's own grant is consumed: someone else has none
    with reverts(GrantNotFound, h, lid, env.addr("outsider"), LOAN):
        env.consents("outsider").consume(h, lid, LOAN)
    # a new grant replaces the old one and resets the count
    env.consents("holder").grant(req(env, lid, max_uses=1))
    assert bank.is_authorized(h, lid, gr, LOAN)
    bank.consume(h, lid, LOAN)


def test_unlimited_grant_and_expiry(env: Env, lid: bytes) -> None:
    g = req(env, lid, days=1)
    env.consents("holder").grant(g)
    bank = env.consents("grantee")
    for _ in range(3):
        bank.consume(g.holder, lid, LOAN)
    warp(env.chain, DAY)
    assert not bank.is_authorized(g.holder, lid, g.grantee, LOAN)
    with reverts(GrantExpired, g.holder, lid, g.grantee, LOAN, g.expires_at):
        bank.consume(g.holder, lid, LOAN)


# --- signed -----------------------------------------------------------------------------------


def test_domain_and_type_hashes_match_python(env: Env) -> None:
    c = env.consents()
    fn = c.contract.functions
    assert bytes(fn.GRANT_TYPEHASH().call()) == GRANT_TYPEHASH
    assert bytes(fn.REVOKE_TYPEHASH().call()) == REVOKE_TYPEHASH
    _, name, version, chain_id, contract, _, _ = fn.eip712Domain().call()
    assert (name, version, chain_id, contract) == (
        "CredLedger ConsentRegistry",
        "2",
        env.chain.chain_id,
        c.address,
    )
    domain_type = keccak(
        b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    expected = keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [domain_type, keccak(name.encode()), keccak(b"2"), chain_id, contract],
        )
    )
    assert c.domain_separator() == expected


def test_nonce_keys_match_python(env: Env, lid: bytes) -> None:
    c = env.consents()
    gr = env.addr("grantee")
    key = nonce_key(lid, gr, LOAN)
    assert key == int.from_bytes(
        keccak(abi_encode(["bytes32", "address", "bytes32"], [lid, gr, LOAN])), "big"
    ) % (1 << 192)
    assert c.nonce_key(lid, gr, LOAN) == key == req(env, lid).nonce_key
    assert c.nonce(env.addr("holder"), key) == key << 64  # sequence 0, key in the high bits
    assert c.slot_nonce(env.addr("holder"), lid, gr, LOAN) == key << 64


def test_grant_by_sig_relayed(env: Env, lid: bytes) -> None:
    holder = env.accounts["holder"]
    c = relayed(env)
    g = req(env, lid, max_uses=5)
    dl = deadline(env)
    first = c.slot_nonce(holder.address, lid, g.grantee, LOAN)
    sig = c.sign_grant(holder, g, dl)
    assert c.contract.functions.grantBySig(g.as_tuple(), dl, sig).call() == lid
    r = c.grant_by_sig(g, dl, sig)
    assert only_event(c, "ConsentGranted", r)["holder"] == holder.address.lower()
    assert c.is_authorized(holder.address, lid, g.grantee, LOAN)
    assert c.slot_nonce(holder.address, lid, g.grantee, LOAN) == first + 1
    m = material(env)
    c.grant_by_sig(m, dl, c.sign_grant(holder, m, dl))
    assert c.is_authorized(holder.address, m.asset_id, m.grantee, LOAN)


def test_grants_to_different_grantees_do_not_queue(env: Env, lid: bytes) -> None:
    """Signed at the same time, submitted in any order: each slot has its own nonce."""
    holder = env.accounts["holder"]
    c = relayed(env)
    dl = deadline(env)
    to_bank = req(env, lid)
    to_other = req(env, lid, grantee=env.addr("anchorer2"))
    other_purpose = GrantRequest.licence(
        holder.address, lid, env.addr("grantee"), purpose_of("LEASE"), to_bank.expires_at
    )
    signed = [(g, c.sign_grant(holder, g, dl)) for g in (to_bank, to_other, other_purpose)]
    for g, sig in reversed(signed):
        c.grant_by_sig(g, dl, sig)
        assert c.is_authorized(holder.address, lid, g.grantee, g.purpose)


def test_a_second_signature_of_the_same_slot_waits_for_its_nonce(env: Env, lid: bytes) -> None:
    holder = env.accounts["holder"]
    c = relayed(env)
    dl = deadline(env)
    g1 = req(env, lid, max_uses=1)
    g2 = req(env, lid, max_uses=2)
    sig1 = c.sign_grant(holder, g1, dl)  # both signed at the slot's nonce 0
    sig2 = c.sign_grant(holder, g2, dl)
    c.grant_by_sig(g2, dl, sig2)
    with reverts(InvalidSignature, holder.address):
        c.grant_by_sig(g1, dl, sig1)


def test_revoke_by_sig_relayed(env: Env, lid: bytes) -> None:
    holder = env.accounts["holder"]
    gr = env.addr("grantee")
    env.consents("holder").grant(req(env, lid))
    c = relayed(env)
    dl = deadline(env)
    before = c.slot_nonce(holder.address, lid, gr, LOAN)
    sig = c.sign_revoke(holder, lid, gr, LOAN, dl)
    r = c.revoke_by_sig(holder.address, lid, gr, LOAN, dl, sig)
    assert only_event(c, "ConsentRevoked", r) == expect(
        holder=holder.address, assetId=lid, grantee=gr, purpose=LOAN
    )
    assert not c.is_authorized(holder.address, lid, gr, LOAN)
    assert c.slot_nonce(holder.address, lid, gr, LOAN) == before + 1
    with reverts(InvalidSignature, holder.address):  # replay
        c.revoke_by_sig(holder.address, lid, gr, LOAN, dl, sig)
    with reverts(SignatureExpired, now(env.chain) - 1):
        c.revoke_by_sig(holder.address, lid, gr, LOAN, now(env.chain) - 1, sig)
    with reverts(InvalidSignature, holder.address):  # the outsider's key
        c.revoke_by_sig(
            holder.address,
            lid,
            gr,
            LOAN,
            dl,
            c.sign_revoke(env.accounts["outsider"], lid, gr, LOAN, dl),
        )


def test_revoke_by_sig_before_the_grant_is_submitted_voids_it(env: Env, lid: bytes) -> None:
    holder = env.accounts["holder"]
    c = relayed(env)
    dl = deadline(env)
    g = req(env, lid)
    pending = c.sign_grant(holder, g, dl)  # a relayer sits on this one
    revocation = c.sign_revoke(holder, lid, g.grantee, LOAN, dl)
    r = c.revoke_by_sig(holder.address, lid, g.grantee, LOAN, dl, revocation)
    assert only_event(c, "ConsentRevoked", r)["assetId"] == lid
    with reverts(InvalidSignature, holder.address):
        c.grant_by_sig(g, dl, pending)
    assert not c.is_authorized(holder.address, lid, g.grantee, LOAN)
    assert c.get_grant(holder.address, lid, g.grantee, LOAN) is None


def test_holder_cancels_a_signed_request(env: Env, lid: bytes) -> None:
    holder = env.accounts["holder"]
    c = relayed(env)
    dl = deadline(env)
    g = req(env, lid)
    pending = c.sign_grant(holder, g, dl)
    nonce = c.slot_nonce(holder.address, lid, g.grantee, LOAN)
    direct = env.consents("holder")
    r = direct.cancel_nonce(nonce)
    assert only_event(direct, "NonceCancelled", r) == expect(holder=holder.address, nonce=nonce)
    with reverts(InvalidSignature, holder.address):
        c.grant_by_sig(g, dl, pending)
    # a nonce that is not the key's current one cannot be cancelled (used, or not yet reached)
    with reverts(InvalidAccountNonce, holder.address, nonce + 1):
        direct.cancel_nonce(nonce)
    with reverts(InvalidAccountNonce, holder.address, nonce + 1):
        direct.cancel_nonce(nonce + 5)
    # someone else's cancel only touches its own nonces
    with reverts(InvalidAccountNonce, env.addr("outsider"), nonce - (nonce & (2**64 - 1))):
        env.consents("outsider").cancel_nonce(nonce + 1)
    assert c.slot_nonce(holder.address, lid, g.grantee, LOAN) == nonce + 1
    # the next request of the slot, at the new nonce, works
    c.grant_by_sig(g, dl, c.sign_grant(holder, g, dl))
    assert c.is_authorized(holder.address, lid, g.grantee, LOAN)


def _split(sig: bytes) -> tuple[int, int, int]:
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]


def test_signature_negatives_are_all_refused(env: Env, lid: bytes) -> None:
    holder: LocalAccount = env.accounts["holder"]
    c = relayed(env)
    g = req(env, lid)
    dl = deadline(env)
    h = holder.address
    slot = c.slot_nonce(h, lid, g.grantee, LOAN)

    def signed(**over: Any) -> bytes:
        data = grant_typed_data(
            over.get("chain_id", env.chain.chain_id),
            over.get("contract", c.address),
            over.get("request", g),
            over.get("nonce", slot),
            over.get("deadline", dl),
        )
        return sign_typed_data(over.get("key", holder), data)

    good = signed()
    r, s, v = _split(good)
    high_s = r.to_bytes(32, "big") + (SECP256K1_N - s).to_bytes(32, "big") + bytes([v ^ 1])
    compact = r.to_bytes(32, "big") + (s | ((v - 27) << 255)).to_bytes(32, "big")
    other_contract = env.manifest["contracts"]["LicenceRegistry"]["address"]
    for bad in (
        signed(chain_id=1),  # another chain id
        signed(contract=other_contract),  # another deployment
        signed(nonce=slot + 1),  # a nonce not yet reached
        signed(nonce=0),  # the unkeyed nonce
        signed(nonce=c.slot_nonce(h, lid, env.addr("outsider"), LOAN)),  # another slot's nonce
        signed(key=env.accounts["outsider"]),  # another key
        signed(deadline=dl + 1),  # signed deadline differs from the sent one
        high_s,  # malleated (s > n/2)
        compact,  # EIP-2098 64-byte form
        good[:64],  # truncated
        b"",
    ):
        with reverts(InvalidSignature, h):
            c.grant_by_sig(g, dl, bad)
    for tampered in (
        GrantRequest.licence(g.holder, g.asset, g.grantee, g.purpose, g.expires_at, 99),
        # the same 32 bytes read as a material: another asset id, another slot
        GrantRequest.material(g.holder, g.asset, g.grantee, g.purpose, g.expires_at),
    ):
        with reverts(InvalidSignature, h):
            c.grant_by_sig(tampered, dl, good)
    # the good one still works, once
    c.grant_by_sig(g, dl, good)
    with reverts(InvalidSignature, h):  # replay
        c.grant_by_sig(g, dl, good)
    # after the deadline
    late = signed(nonce=slot + 1)
    warp(env.chain, 3601)
    with reverts(SignatureExpired, dl):
        c.grant_by_sig(g, dl, late)


def test_signature_for_another_deployment_is_refused(env: Env) -> None:
    """The same request signed for a second ConsentRegistry works there and only there."""
    a = load_artifact("ConsentRegistry")
    factory = env.chain.w3.eth.contract(abi=a["abi"], bytecode=a["bytecode"])
    licences = env.manifest["contracts"]["LicenceRegistry"]["address"]
    receipt = env.senders["relayer"].send(factory.constructor(licences))
    other = ConsentRegistry(env.chain, receipt["contractAddress"], env.senders["relayer"])  # type: ignore[arg-type]
    holder = env.accounts["holder"]
    g = material(env)
    dl = deadline(env)
    sig = other.sign_grant(holder, g, dl)
    with reverts(InvalidSignature, holder.address):
        relayed(env).grant_by_sig(g, dl, sig)
    other.grant_by_sig(g, dl, sig)
    assert other.is_authorized(holder.address, g.asset_id, g.grantee, LOAN)


@cache
def _wallet_artifact() -> dict[str, Any]:
    return build_artifacts(files=[paths.CONTRACTS_DIR / "test" / "TestSmartWallet.sol"])[
        "TestSmartWallet"
    ]


def test_erc1271_contract_wallet_holds_and_grants_a_licence(env: Env) -> None:
    owner = actor_key("wallet-owner")
    art = _wallet_artifact()
    factory = env.chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    receipt = env.senders["relayer"].send(factory.constructor(owner.address))
    wallet = Web3.to_checksum_address(receipt["contractAddress"])  # type: ignore[arg-type]
    lid = issue_licence(env, wallet, "JY-WALLET")
    c = relayed(env)
    g = req(env, lid, holder=wallet)
    dl = deadline(env)
    data = grant_typed_data(env.chain.chain_id, c.address, g, c.nonce(wallet, g.nonce_key), dl)
    with reverts(InvalidSignature, wallet):  # not the owner's key
        c.grant_by_sig(g, dl, sign_typed_data(env.accounts["outsider"], data))
    c.grant_by_sig(g, dl, sign_typed_data(owner, data))
    assert c.is_authorized(wallet, lid, g.grantee, LOAN)
    assert c.nonce(wallet, g.nonce_key) == (g.nonce_key << 64) + 1


def test_grant_signed_by_anvil_eth_sign_typed_data_v4_is_accepted(env: Env) -> None:
    """An external wallet (anvil signing for an unlocked dev account) signs; the chain agrees."""
    holder = dev_account(8)
    c = relayed(env)
    g = GrantRequest.material(
        holder.address, DOC, env.addr("grantee"), LOAN, now(env.chain) + DAY, 2
    )
    dl = deadline(env)
    data = grant_typed_data(
        env.chain.chain_id, c.address, g, c.nonce(holder.address, g.nonce_key), dl
    )
    sig_hex = rpc(env.chain, "eth_signTypedData_v4", [holder.address, data])
    external = bytes.fromhex(sig_hex.removeprefix("0x"))
    assert external == sign_typed_data(holder, data)  # our signer produces the same bytes
    c.grant_by_sig(g, dl, external)
    assert c.is_authorized(holder.address, g.asset_id, g.grantee, LOAN)


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (GrantNotFound, 404),
        (GrantExpired, 409),
        (GrantExhausted, 409),
        (InvalidSignature, 403),
        (NotHolder, 403),
        (LicenceNotUsable, 409),
        (InvalidAccountNonce, 409),
    ],
)
def test_errors_map_to_http_status(cls: type, status: int) -> None:
    assert cls.http_status == status
