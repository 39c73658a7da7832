"""EIP-712 payloads equal what a standard wallet signs; every custom error has its own class."""

from __future__ import annotations

import json

import pytest
from eth_hash.auto import keccak

from credledger.node.core import paths
from credledger.node.core.contracts import anchor_registry, consent_registry, licence_registry  # noqa: F401
from credledger.node.core.contracts.eip712 import (
    GRANT_TYPE_STRING,
    REVOKE_TYPE_STRING,
    AssetKind,
    GrantRequest,
    digest,
    grant_typed_data,
    material_asset_id,
    revoke_typed_data,
    sign_typed_data,
)
from credledger.node.core.contracts.errors import ERROR_CLASSES, decode_revert
from credledger.node.core.errors import ContractRevert
from credledger.node.core.signer import dev_account
from tests.contracts.conftest import Env, rpc

CONTRACTS = ("LicenceRegistry", "AnchorRegistry", "ConsentRegistry")


def test_type_strings() -> None:
    assert GRANT_TYPE_STRING == (
        "Grant(address holder,uint8 kind,bytes32 asset,address grantee,bytes32 purpose,"
        "uint64 expiresAt,uint32 maxUses,uint256 nonce,uint256 deadline)"
    )
    assert REVOKE_TYPE_STRING == (
        "Revoke(address holder,bytes32 assetId,address grantee,bytes32 purpose,"
        "uint256 nonce,uint256 deadline)"
    )


def test_revoke_signature_equals_anvil_eth_sign_typed_data_v4(env: Env) -> None:
    holder = dev_account(8)
    data = revoke_typed_data(
        env.chain.chain_id,
        env.consents().address,
        holder=holder.address,
        asset_id=keccak(b"asset"),
        grantee=env.addr("grantee"),
        purpose=keccak(b"purpose"),
        nonce=(2**190 << 64) + 3,  # a keyed nonce, far above 2**53
        deadline=2**40,
    )
    external = rpc(env.chain, "eth_signTypedData_v4", [holder.address, data])
    assert bytes.fromhex(external.removeprefix("0x")) == sign_typed_data(holder, data)


@pytest.mark.parametrize("kind", list(AssetKind))
def test_digest_is_what_the_contract_hashes(env: Env, kind: AssetKind) -> None:
    """The digest signed locally is the EIP-712 hash under the contract's domain."""
    c = env.consents()
    holder = env.accounts["holder"]
    req = GrantRequest(
        holder.address, kind, keccak(b"a"), env.addr("grantee"), keccak(b"p"), 2**40, 1
    )
    nonce = (req.nonce_key << 64) | 7
    data = grant_typed_data(env.chain.chain_id, c.address, req, nonce, 2**40)
    d = digest(data)
    assert len(d) == 32
    struct = keccak(
        keccak(GRANT_TYPE_STRING.encode())
        + bytes.fromhex(holder.address[2:]).rjust(32, b"\0")
        + int(kind).to_bytes(32, "big")
        + req.asset
        + bytes.fromhex(env.addr("grantee")[2:]).rjust(32, b"\0")
        + req.purpose
        + (2**40).to_bytes(32, "big")
        + (1).to_bytes(32, "big")
        + nonce.to_bytes(32, "big")
        + (2**40).to_bytes(32, "big")
    )
    assert d == keccak(b"\x19\x01" + c.domain_separator() + struct)
    # and the contract agrees: a signature over it is accepted for a material (no licence needed)
    if kind is AssetKind.MATERIAL:
        relayer = env.consents("relayer")
        req = GrantRequest.material(
            holder.address, keccak(b"a"), env.addr("grantee"), keccak(b"p"), 2**40, 1
        )
        nonce = relayer.nonce(holder.address, req.nonce_key)
        data = grant_typed_data(env.chain.chain_id, c.address, req, nonce, 2**40)
        relayer.grant_by_sig(req, 2**40, sign_typed_data(holder, data))
        assert relayer.is_authorized(holder.address, req.asset_id, req.grantee, req.purpose)


def test_payload_is_plain_json() -> None:
    req = GrantRequest.material(
        dev_account(1).address, b"\1" * 32, dev_account(2).address, b"\2" * 32, 5
    )
    data = grant_typed_data(31337, dev_account(3).address, req, 2**200, 9)
    assert json.loads(json.dumps(data)) == data
    assert data["message"]["kind"] == 1 and data["message"]["asset"] == "0x" + "01" * 32
    assert data["message"]["nonce"] == str(2**200)
    with pytest.raises(ValueError):
        grant_typed_data(
            1,
            dev_account(3).address,
            GrantRequest.licence(req.holder, b"x", req.grantee, b"\2" * 32, 5),
            0,
            9,
        )
    with pytest.raises(ValueError):
        material_asset_id(req.holder, b"short")


@pytest.mark.parametrize("name", CONTRACTS)
def test_every_custom_error_has_its_own_class(name: str) -> None:
    abi = json.loads((paths.ARTIFACTS_DIR / f"{name}.json").read_text())["abi"]
    for item in abi:
        if item["type"] == "error":
            cls = ERROR_CLASSES.get(item["name"])
            assert cls is not None, f"{name}.{item['name']} has no Python class"
            assert cls.__name__ == item["name"] and issubclass(cls, ContractRevert)
            assert cls.http_status in (400, 403, 404, 409)


def test_decode_revert_builds_the_class_with_arguments() -> None:
    from eth_abi import encode

    lid = keccak(b"licence")
    data = keccak(b"LicenceNotActive(bytes32,uint8)")[:4] + encode(["bytes32", "uint8"], [lid, 2])
    err = decode_revert(data)
    assert isinstance(err, licence_registry.LicenceNotActive)
    assert err.error_args == (lid, 2) and err.http_status == 409
