"""ConsentRegistry: direct and signed grants (EOA, ERC-1271), consumption, every refusal."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from web3 import Web3

from credledger.node import paths
from credledger.node.artifacts import load_artifact
from credledger.node.compiler import build_artifacts
from credledger.node.contracts.consent_registry import (
    ConsentRegistry,
    GrantExhausted,
    GrantExpired,
    GrantNotFound,
    InvalidExpiry,
    InvalidGrantee,
    InvalidSignature,
    SignatureExpired,
    purpose_of,
)
from credledger.node.contracts.eip712 import (
    GRANT_TYPEHASH,
    REVOKE_TYPEHASH,
    GrantRequest,
    grant_typed_data,
    sign_typed_data,
)
from credledger.node.signer import dev_account
from tests.contracts.conftest import Env, actor_key, now, rpc, warp
from tests.contracts.helpers import expect, only_event, reverts

ASSET = keccak(b"licence:FOOD-OPERATION:JY13101010000001")
LOAN = purpose_of("LOAN-APPLICATION")
DAY = 86400
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ZERO = "0x0000000000000000000000000000000000000000"


def req(env: Env, *, holder: str | None = None, max_uses: int = 0, days: int = 30) -> GrantRequest:
    return GrantRequest(
        holder=holder or env.addr("holder"),
        asset_id=ASSET,
        grantee=env.addr("grantee"),
        purpose=LOAN,
        expires_at=now(env.chain) + days * DAY,
        max_uses=max_uses,
    )


def deadline(env: Env) -> int:
    return now(env.chain) + 3600


def relayed(env: Env) -> ConsentRegistry:
    return env.consents("relayer")


# --- direct -----------------------------------------------------------------------------------


def test_grant_emits_stores_and_authorises(env: Env) -> None:
    c = env.consents("holder")
    g = req(env, max_uses=3)
    r = c.grant(g)
    assert only_event(c, "ConsentGranted", r) == expect(
        holder=env.addr("holder"),
        assetId=ASSET,
        grantee=env.addr("grantee"),
        purpose=LOAN,
        expiresAt=g.expires_at,
        maxUses=3,
    )
    got = c.get_grant(g.holder, ASSET, g.grantee, LOAN)
    assert got is not None and (got.expires_at, got.max_uses, got.uses) == (g.expires_at, 3, 0)
    assert c.is_authorized(g.holder, ASSET, g.grantee, LOAN)
    assert not c.is_authorized(g.holder, ASSET, g.grantee, purpose_of("OTHER"))
    assert not c.is_authorized(g.holder, ASSET, env.addr("outsider"), LOAN)
    key = keccak(
        abi_encode(["address", "bytes32", "address", "bytes32"], [g.holder, ASSET, g.grantee, LOAN])
    )
    assert bytes(c.contract.functions.grantKey(g.holder, ASSET, g.grantee, LOAN).call()) == key
    assert c.contract.functions.VERSION().call() == "1.0.0"


def test_grant_reverts(env: Env) -> None:
    c = env.consents("holder")
    t = now(env.chain)
    with reverts(InvalidGrantee, ZERO):
        c.grant(GrantRequest(env.addr("holder"), ASSET, ZERO, LOAN, t + DAY))
    with reverts(InvalidGrantee, env.addr("holder")):
        c.grant(GrantRequest(env.addr("holder"), ASSET, env.addr("holder"), LOAN, t + DAY))
    with reverts(InvalidExpiry, t):
        c.grant(GrantRequest(env.addr("holder"), ASSET, env.addr("grantee"), LOAN, t))


def test_revoke_emits_and_ends_the_grant(env: Env) -> None:
    c = env.consents("holder")
    g = req(env)
    c.grant(g)
    r = c.revoke(ASSET, g.grantee, LOAN)
    assert only_event(c, "ConsentRevoked", r) == expect(
        holder=g.holder, assetId=ASSET, grantee=g.grantee, purpose=LOAN
    )
    assert not c.is_authorized(g.holder, ASSET, g.grantee, LOAN)
    assert c.get_grant(g.holder, ASSET, g.grantee, LOAN) is None
    with reverts(GrantNotFound, g.holder, ASSET, g.grantee, LOAN):
        c.revoke(ASSET, g.grantee, LOAN)
    with reverts(GrantNotFound, g.holder, ASSET, g.grantee, LOAN):
        env.consents("grantee").consume(g.holder, ASSET, LOAN)


def test_consume_counts_uses_until_exhausted(env: Env) -> None:
    env.consents("holder").grant(req(env, max_uses=2))
    bank = env.consents("grantee")
    h, gr = env.addr("holder"), env.addr("grantee")
    assert bank.contract.functions.consume(h, ASSET, LOAN).call({"from": gr}) == 1
    r = bank.consume(h, ASSET, LOAN)
    assert only_event(bank, "ConsentUsed", r) == expect(
        holder=h, assetId=ASSET, grantee=gr, purpose=LOAN, uses=1
    )
    r = bank.consume(h, ASSET, LOAN)
    assert only_event(bank, "ConsentUsed", r)["uses"] == 2
    assert not bank.is_authorized(h, ASSET, gr, LOAN)
    with reverts(GrantExhausted, h, ASSET, gr, LOAN, 2):
        bank.consume(h, ASSET, LOAN)
    got = bank.get_grant(h, ASSET, gr, LOAN)
    assert got is not None and got.uses == 2
    # only the grantee's own grant is consumed: someone else has none
    with reverts(GrantNotFound, h, ASSET, env.addr("outsider"), LOAN):
        env.consents("outsider").consume(h, ASSET, LOAN)
    # a new grant replaces the old one and resets the count
    env.consents("holder").grant(req(env, max_uses=1))
    assert bank.is_authorized(h, ASSET, gr, LOAN)
    bank.consume(h, ASSET, LOAN)


def test_unlimited_grant_and_expiry(env: Env) -> None:
    g = req(env, days=1)
    env.consents("holder").grant(g)
    bank = env.consents("grantee")
    for _ in range(3):
        bank.consume(g.holder, ASSET, LOAN)
    warp(env.chain, DAY)
    assert not bank.is_authorized(g.holder, ASSET, g.grantee, LOAN)
    with reverts(GrantExpired, g.holder, ASSET, g.grantee, LOAN, g.expires_at):
        bank.consume(g.holder, ASSET, LOAN)


# --- signed -----------------------------------------------------------------------------------


def test_domain_and_type_hashes_match_python(env: Env) -> None:
    c = env.consents()
    fn = c.contract.functions
    assert bytes(fn.GRANT_TYPEHASH().call()) == GRANT_TYPEHASH
    assert bytes(fn.REVOKE_TYPEHASH().call()) == REVOKE_TYPEHASH
    _, name, version, chain_id, contract, _, _ = fn.eip712Domain().call()
    assert (name, version, chain_id, contract) == (
        "CredLedger ConsentRegistry",
        "1",
        env.chain.chain_id,
        c.address,
    )
    domain_type = keccak(
        b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    expected = keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [domain_type, keccak(name.encode()), keccak(b"1"), chain_id, contract],
        )
    )
    assert c.domain_separator() == expected


def test_grant_by_sig_relayed(env: Env) -> None:
    holder = env.accounts["holder"]
    c = relayed(env)
    g = req(env, max_uses=5)
    dl = deadline(env)
    assert c.nonce(holder.address) == 0
    sig = c.sign_grant(holder, g, dl)
    r = c.grant_by_sig(g, dl, sig)
    assert only_event(c, "ConsentGranted", r)["holder"] == holder.address.lower()
    assert c.is_authorized(holder.address, ASSET, g.grantee, LOAN)
    assert c.nonce(holder.address) == 1


def test_revoke_by_sig_relayed(env: Env) -> None:
    holder = env.accounts["holder"]
    env.consents("holder").grant(req(env))
    c = relayed(env)
    dl = deadline(env)
    sig = c.sign_revoke(holder, ASSET, env.addr("grantee"), LOAN, dl)
    r = c.revoke_by_sig(holder.address, ASSET, env.addr("grantee"), LOAN, dl, sig)
    assert only_event(c, "ConsentRevoked", r)["grantee"] == env.addr("grantee").lower()
    assert not c.is_authorized(holder.address, ASSET, env.addr("grantee"), LOAN)
    assert c.nonce(holder.address) == 1
    with reverts(InvalidSignature, holder.address):  # replay
        c.revoke_by_sig(holder.address, ASSET, env.addr("grantee"), LOAN, dl, sig)
    with reverts(SignatureExpired, now(env.chain) - 1):
        c.revoke_by_sig(holder.address, ASSET, env.addr("grantee"), LOAN, now(env.chain) - 1, sig)


def _split(sig: bytes) -> tuple[int, int, int]:
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]


def test_signature_negatives_are_all_refused(env: Env) -> None:
    holder: LocalAccount = env.accounts["holder"]
    c = relayed(env)
    g = req(env)
    dl = deadline(env)
    h = holder.address

    def signed(**over: Any) -> bytes:
        data = grant_typed_data(
            over.get("chain_id", env.chain.chain_id),
            over.get("contract", c.address),
            over.get("request", g),
            over.get("nonce", c.nonce(h)),
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
        signed(nonce=1),  # a nonce not yet reached
        signed(key=env.accounts["outsider"]),  # another key
        signed(deadline=dl + 1),  # signed deadline differs from the sent one
        high_s,  # malleated (s > n/2)
        compact,  # EIP-2098 64-byte form
        good[:64],  # truncated
        b"",
    ):
        with reverts(InvalidSignature, h):
            c.grant_by_sig(g, dl, bad)
    tampered = GrantRequest(g.holder, g.asset_id, g.grantee, g.purpose, g.expires_at, 99)
    with reverts(InvalidSignature, h):
        c.grant_by_sig(tampered, dl, good)
    # the good one still works, once
    c.grant_by_sig(g, dl, good)
    with reverts(InvalidSignature, h):  # replay
        c.grant_by_sig(g, dl, good)
    # after the deadline
    late = signed()
    warp(env.chain, 3601)
    with reverts(SignatureExpired, dl):
        c.grant_by_sig(g, dl, late)


def test_nonce_bump_invalidates_outstanding_signatures(env: Env) -> None:
    holder = env.accounts["holder"]
    c = relayed(env)
    g1 = req(env)
    g2 = GrantRequest(g1.holder, keccak(b"material"), g1.grantee, LOAN, g1.expires_at)
    dl = deadline(env)
    sig1 = c.sign_grant(holder, g1, dl)  # both signed at nonce 0
    sig2 = c.sign_grant(holder, g2, dl)
    c.grant_by_sig(g2, dl, sig2)
    with reverts(InvalidSignature, holder.address):
        c.grant_by_sig(g1, dl, sig1)


def test_signature_for_another_deployment_is_refused(env: Env) -> None:
    """The same request signed for a second ConsentRegistry works there and only there."""
    a = load_artifact("ConsentRegistry")
    factory = env.chain.w3.eth.contract(abi=a["abi"], bytecode=a["bytecode"])
    receipt = env.senders["relayer"].send(factory.constructor())
    other = ConsentRegistry(env.chain, receipt["contractAddress"], env.senders["relayer"])  # type: ignore[arg-type]
    holder = env.accounts["holder"]
    g = req(env)
    dl = deadline(env)
    sig = other.sign_grant(holder, g, dl)
    with reverts(InvalidSignature, holder.address):
        relayed(env).grant_by_sig(g, dl, sig)
    other.grant_by_sig(g, dl, sig)
    assert other.is_authorized(holder.address, ASSET, g.grantee, LOAN)


@cache
def _wallet_artifact() -> dict[str, Any]:
    return build_artifacts(files=[paths.CONTRACTS_DIR / "test" / "TestSmartWallet.sol"])[
        "TestSmartWallet"
    ]


def test_erc1271_contract_wallet_signature_accepted(env: Env) -> None:
    owner = actor_key("wallet-owner")
    art = _wallet_artifact()
    factory = env.chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    receipt = env.senders["relayer"].send(factory.constructor(owner.address))
    wallet = Web3.to_checksum_address(receipt["contractAddress"])  # type: ignore[arg-type]
    c = relayed(env)
    g = req(env, holder=wallet)
    dl = deadline(env)
    data = grant_typed_data(env.chain.chain_id, c.address, g, c.nonce(wallet), dl)
    with reverts(InvalidSignature, wallet):  # not the owner's key
        c.grant_by_sig(g, dl, sign_typed_data(env.accounts["outsider"], data))
    c.grant_by_sig(g, dl, sign_typed_data(owner, data))
    assert c.is_authorized(wallet, ASSET, g.grantee, LOAN)
    assert c.nonce(wallet) == 1


def test_grant_signed_by_anvil_eth_sign_typed_data_v4_is_accepted(env: Env) -> None:
    """An external wallet (anvil signing for an unlocked dev account) signs; the chain agrees."""
    holder = dev_account(8)
    c = relayed(env)
    g = req(env, holder=holder.address, max_uses=2)
    dl = deadline(env)
    data = grant_typed_data(env.chain.chain_id, c.address, g, c.nonce(holder.address), dl)
    sig_hex = rpc(env.chain, "eth_signTypedData_v4", [holder.address, data])
    external = bytes.fromhex(sig_hex.removeprefix("0x"))
    assert external == sign_typed_data(holder, data)  # our signer produces the same bytes
    c.grant_by_sig(g, dl, external)
    assert c.is_authorized(holder.address, ASSET, g.grantee, LOAN)


@pytest.mark.parametrize(
    ("cls", "status"),
    [(GrantNotFound, 404), (GrantExpired, 409), (GrantExhausted, 409), (InvalidSignature, 403)],
)
def test_errors_map_to_http_status(cls: type, status: int) -> None:
    assert cls.http_status == status
