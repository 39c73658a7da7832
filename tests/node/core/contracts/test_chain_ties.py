"""Every value the node and the wallet compute that the contracts also compute is defined once,
and that one definition equals the contract's own view on a real chain (anvil):

- a material's asset id: ``eip712.material_asset_id`` = ``ConsentRegistry.materialAssetId``
  (the wallet and the counter use that very function);
- a grant slot's nonce key: ``eip712.nonce_key`` = ``ConsentRegistry.nonceKey``;
- the licence view: ``GET /v1/licences/{id}`` (the one view the API, the pages and the counter
  show) = ``LicenceRegistry.getLicence``, its validity the last valid day of the contract's
  exclusive end (``node/core/validity.py``);
- a verification record's hash: ``receipts.record_hash`` of the downloaded record = the hash the
  node anchored (the receipt checks against ``AnchorRegistry`` on chain), for document checks
  and presentation checks alike.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from typing import Any

from eth_utils.address import to_checksum_address

from credledger.node.core.contracts import eip712
from credledger.node.core.contracts.consent_registry import (
    ConsentRegistry,
    grant_key,
    purpose_of,
)
from credledger.node.core.contracts.licence_registry import LicenceRegistry
from credledger.node.core.receipts import check_receipt_on_chain, record_hash
from credledger.node.core.validity import last_valid_day
from credledger.node.counter import assets as counter_assets
from credledger.wallet import materials as wallet_materials
from credledger.wallet.purposes import Purpose as WalletPurpose
from tests.node.counter import conftest as counter_fixtures
from tests.node.counter.conftest import TOKENS, Parties, lid
from tests.node.licences.conftest import document, issue_body
from tests.node.licences.harness import Node

# the counter tests' chain and node (a clerk, anchoring, ConsentRegistry), re-used here
lchain = counter_fixtures.lchain
counter_node = counter_fixtures.counter_node
parties = counter_fixtures.parties

RNG = random.Random(int.from_bytes(os.urandom(4), "big"))


def _address() -> str:
    return "0x" + RNG.randbytes(20).hex()


def _consent(parties: Parties) -> ConsentRegistry:
    return ConsentRegistry(parties.lchain.chain, parties.lchain.contracts["ConsentRegistry"])


def test_material_asset_id_is_the_contracts(parties: Parties) -> None:
    consent = _consent(parties)
    for _ in range(20):
        holder, doc = _address(), RNG.randbytes(32)
        assert eip712.material_asset_id(holder, doc) == consent.material_asset_id(holder, doc)
    # one definition: the wallet files and the counter checks materials with that function
    assert wallet_materials.material_asset_id is eip712.material_asset_id
    assert counter_assets.material_asset_id is eip712.material_asset_id


def test_nonce_key_is_the_contracts(parties: Parties) -> None:
    consent = _consent(parties)
    purposes = [purpose_of("COUNTER-PRESENTATION"), purpose_of("LOAN"), RNG.randbytes(32)]
    for i in range(20):
        asset, grantee, purpose = RNG.randbytes(32), _address(), purposes[i % 3]
        assert eip712.nonce_key(asset, grantee, purpose) == consent.nonce_key(
            asset, grantee, purpose
        )


def test_grant_key_and_purpose_are_the_contracts(parties: Parties) -> None:
    consent = _consent(parties)
    for i in range(20):
        holder, asset, grantee = _address(), RNG.randbytes(32), _address()
        purpose = purpose_of(f"PURPOSE-{i}")
        on_chain = consent.contract.functions.grantKey(
            to_checksum_address(holder), asset, to_checksum_address(grantee), purpose
        ).call()
        assert grant_key(holder, asset, grantee, purpose) == bytes(on_chain)
    # the wallet's purpose catalogue hashes codes with the binding's one function
    assert WalletPurpose("LOAN-APPLICATION", "贷款", "loan").hash == purpose_of("LOAN-APPLICATION")


def test_the_licence_view_is_the_contracts(parties: Parties) -> None:
    node = parties.node
    body = issue_body(holderAddress=parties.holder.address, validUntil="2031-12-31")
    issued = node.ok(node.post("/v1/licences", TOKENS["market"], json=body), 201)
    licence_id = lid(issued)
    registry = LicenceRegistry(parties.lchain.chain, parties.lchain.contracts["LicenceRegistry"])
    on_chain = registry.get_licence(licence_id)
    assert on_chain is not None
    view = node.ok(node.get(f"/v1/licences/{issued['licenceId']}"))
    assert view["validUntilExclusive"] == on_chain.valid_until
    assert view["validUntil"] == last_valid_day(on_chain.valid_until) == "2031-12-31"
    assert view["validUntilIso"].startswith("2031-12-31")
    assert view["version"] == on_chain.version
    assert view["documentHash"] == "0x" + on_chain.doc_hash.hex()
    assert view["issuer"]["address"].lower() == on_chain.issuer.lower()
    assert view["status"] == on_chain.status.name
    # the presentation verdict shows the same view
    asset = parties.verify(parties.token([licence_id]).encode())["assets"][0]
    for key in ("validUntil", "validUntilIso", "validFrom", "version", "documentHash", "status"):
        assert asset[key] == view[key], key
    assert asset["validLastDay"] == "2031-12-31"


def _anchored(node: Node, vid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rec = node.ok(node.get(f"/v1/verifications/{vid}"))
        if rec["receipt"]:
            return rec
        time.sleep(0.2)
    raise AssertionError(f"verification {vid} was not anchored")


def test_record_hashes_are_what_the_chain_anchored(parties: Parties) -> None:
    node = parties.node
    doc = document("chain-tie")
    issued = parties.issue(doc=doc)
    presented = parties.verify(parties.token([lid(issued)]).encode())["verification"]["id"]
    checked = node.ok(
        node.post(
            "/v1/verify/document",
            TOKENS["clerk"],
            json={
                "documentHash": "0x" + hashlib.sha256(doc).hexdigest(),
                "licenceId": issued["licenceId"],
            },
        )
    )["verification"]["id"]
    for vid in (presented, checked):
        rec = _anchored(node, vid)
        h = record_hash(rec["record"])
        assert "0x" + h.hex() == rec["recordHash"] == rec["receipt"]["docHash"]
        checks = check_receipt_on_chain(parties.lchain.chain, rec["receipt"], h)
        assert all(c.ok for c in checks), checks
