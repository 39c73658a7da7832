"""Issue 9's "done when", on a fresh anvil, through a real node's HTTP API and the CLI.

A licence is issued through the node with holder address A; a stranger C cannot grant a bank its
use, and C's claim is never authorized; A's grant is authorized until the licence is re-bound to B
through the node, then it is not; the admin retires the issuing department's key through the
node's admin API (and the CLI for a second key); that key's `amend` reverts `KeyIsRetired` through
the node, while another issuer of the type keeps authority. Grants go straight to the
ConsentRegistry (the node does not relay them; the wallet does).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from credledger.node.core.chain import Chain
from credledger.node.core.contracts.consent_registry import (
    ConsentRegistry,
    LicenceNotUsable,
    NotHolder,
    purpose_of,
)
from credledger.node.core.contracts.eip712 import GrantRequest
from credledger.node.core.contracts.licence_registry import (
    KeyIsRetired,
    LicenceRegistry,
    LicenceStatus,
)
from credledger.node.deploy import deploy
from credledger.node.core.manifest import addresses
from credledger.node.devnet import DevnetInfo, free_port, launch, terminate
from credledger.node.licences.catalogue import load_catalogue
from credledger.node.licences.service import register_catalogue
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from tests.conftest import run_cli
from tests.contracts.helpers import reverts
from tests.node.licences.harness import Node, toml_config

TYPE = "FOOD-OPERATION"
TOKENS = {
    "old": "tok-old-" + "1" * 32,
    "new": "tok-new-" + "2" * 32,
    "admin": "tok-adm-" + "3" * 32,
}
OLD, NEW, SPARE = 5, 6, 7  # department keys (dev accounts)
A, B, C, BANK = 8, 9, 3, 2  # holder, new holder, stranger, bank (dev accounts; 0 is the admin)
LOAN = purpose_of("LOAN-APPLICATION")
YEAR = 365 * 86400


@dataclass
class Fresh:
    info: DevnetInfo
    chain: Chain
    contracts: dict[str, str]
    node: Node


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fresh]:
    tmp: Path = tmp_path_factory.mktemp("done-when")
    _, info = launch("anvil", free_port(), None, tmp / "anvil.log")
    try:
        chain = Chain([info.rpc_url])
        admin = TxSender(chain, dev_account(0))
        manifest, _ = deploy(chain, admin, tmp / "manifest.json")
        contracts = addresses(manifest)
        catalogue = load_catalogue()
        register_catalogue(chain, contracts["LicenceRegistry"], admin, catalogue)
        registry = LicenceRegistry(chain, contracts["LicenceRegistry"], admin)
        type_id = catalogue.get(TYPE).type_id
        for account in (OLD, NEW, SPARE):
            registry.set_authorisation(type_id, dev_account(account).address, 1)
        config = toml_config(
            departments=[
                {"name": "old", "dev_account": OLD, "token": TOKENS["old"], "issues": [TYPE]},
                {"name": "new", "dev_account": NEW, "token": TOKENS["new"], "issues": [TYPE]},
            ],
            clerks=[],
            admin_tokens=[TOKENS["admin"]],
        )
        node = Node("DW", info.rpc_url, tmp / "node", tmp / "manifest.json", config, 0)
        node.start()
        try:
            yield Fresh(info, chain, contracts, node)
        finally:
            node.stop()
    finally:
        terminate(info.pid)


def consents(f: Fresh, account: int) -> ConsentRegistry:
    return ConsentRegistry(
        f.chain, f.contracts["ConsentRegistry"], TxSender(f.chain, dev_account(account))
    )


def test_done_when(fresh: Fresh) -> None:
    node, chain = fresh.node, fresh.chain
    a, b, c, bank = (dev_account(i).address for i in (A, B, C, BANK))
    body = {
        "type": TYPE,
        "serialNumber": "JY13101010000042",
        "holderUscc": "91310000MA1FL1234Q",
        "documentHash": "0x" + keccak(b"permit v1").hex(),
        "validFrom": "2024-01-01",
        "validUntil": "2036-12-31",
        "holderAddress": a,
    }
    lid_hex = node.ok(node.post("/v1/licences", TOKENS["old"], json=body), 201)["licenceId"]
    lid = bytes.fromhex(lid_hex.removeprefix("0x"))
    licences = LicenceRegistry(chain, fresh.contracts["LicenceRegistry"])
    assert licences.holder_and_status(lid) == (a, LicenceStatus.ACTIVE)
    t = int(chain.w3.eth.get_block("latest")["timestamp"])

    # 1. the stranger's grant is refused, directly and relayed, and never authorized
    stranger_grant = GrantRequest.licence(c, lid, bank, LOAN, t + YEAR)
    with reverts(NotHolder, c, lid):
        consents(fresh, C).grant(stranger_grant)
    relayer = consents(fresh, 1)
    sig = relayer.sign_grant(dev_account(C), stranger_grant, t + 3600)
    with reverts(NotHolder, c, lid):
        relayer.grant_by_sig(stranger_grant, t + 3600, sig)
    assert not relayer.is_authorized(c, lid, bank, LOAN)

    # 2. the holder's grant is authorized until the licence is re-bound through the node
    holder_grant = GrantRequest.licence(a, lid, bank, LOAN, t + YEAR, 10)
    relayer.grant_by_sig(
        holder_grant, t + 3600, relayer.sign_grant(dev_account(A), holder_grant, t + 3600)
    )
    assert relayer.is_authorized(a, lid, bank, LOAN)
    consents(fresh, BANK).consume(a, lid, LOAN)
    node.ok(
        node.post(f"/v1/licences/{lid_hex}/bind-holder", TOKENS["old"], json={"holderAddress": b})
    )
    assert licences.holder_of(lid) == b
    assert node.ok(node.get(f"/v1/licences/{lid_hex}"))["holderAddress"] == b
    assert not relayer.is_authorized(a, lid, bank, LOAN)
    with reverts(NotHolder, a, lid):
        consents(fresh, BANK).consume(a, lid, LOAN)

    # 3. the admin retires the issuing key through the node; its amend reverts, the other
    #    issuer of the type keeps authority over the licence
    old_key = dev_account(OLD).address
    out = node.ok(node.post(f"/v1/department-keys/{old_key}/retire", TOKENS["admin"]))
    assert out["key"] == old_key and out["retiredAt"] == licences.retired_at(old_key) > 0
    amend = {"documentHash": "0x" + keccak(b"permit v2 (forged)").hex()}
    r = node.post(f"/v1/licences/{lid_hex}/amend", TOKENS["old"], json=amend)
    assert r.status_code == 403, r.text
    answer = r.json()
    assert answer["error"] == "key_retired"
    assert answer["details"]["contract_error"] == KeyIsRetired.__name__
    got = licences.get_licence(lid)
    assert got is not None and got.version == 1 and got.status is LicenceStatus.ACTIVE
    r = node.post(f"/v1/licences/{lid_hex}/suspend", TOKENS["old"], json={"reasonCode": 1})
    assert r.status_code == 403 and r.json()["error"] == "key_retired"
    new_amend = {"documentHash": "0x" + keccak(b"permit v2").hex()}
    node.ok(node.post(f"/v1/licences/{lid_hex}/amend", TOKENS["new"], json=new_amend))
    assert licences.get_licence(lid).version == 2  # type: ignore[union-attr]
    # a second retirement of the same key is refused; only the admin may retire
    r = node.post(f"/v1/department-keys/{old_key}/retire", TOKENS["admin"])
    assert r.status_code == 403 and r.json()["details"]["contract_error"] == "KeyIsRetired"
    assert node.post(f"/v1/department-keys/{old_key}/retire", TOKENS["new"]).status_code == 403

    # 4. the new holder's grant works, and a suspension by the type's current issuer pauses it
    new_grant = GrantRequest.licence(b, lid, bank, LOAN, t + YEAR)
    consents(fresh, B).grant(new_grant)
    assert relayer.is_authorized(b, lid, bank, LOAN)
    node.ok(node.post(f"/v1/licences/{lid_hex}/suspend", TOKENS["new"], json={"reasonCode": 1}))
    assert not relayer.is_authorized(b, lid, bank, LOAN)
    with reverts(LicenceNotUsable, lid, LicenceStatus.SUSPENDED):
        consents(fresh, BANK).consume(b, lid, LOAN)


def test_cli_retire_key(fresh: Fresh) -> None:
    spare = dev_account(SPARE).address
    url = fresh.node.url
    r = run_cli("licence", "retire-key", spare, "--node", url, "--token", TOKENS["admin"])
    assert r.returncode == 0, r.stdout + r.stderr
    licences = LicenceRegistry(fresh.chain, fresh.contracts["LicenceRegistry"])
    assert f"{spare} retired at {licences.retired_at(spare)}" in r.stdout
    again = run_cli("licence", "retire-key", spare, "--node", url, "--token", TOKENS["admin"])
    assert again.returncode != 0
    assert len(again.stderr.strip().splitlines()) == 1 and "403" in again.stderr
    bad = run_cli("licence", "retire-key", "0x5a", "--node", url, "--token", TOKENS["admin"])
    assert bad.returncode != 0 and "422" in bad.stderr


def test_the_licence_view_agrees_with_holder_of_at_its_block(fresh: Fresh) -> None:
    """The node answers reads from its indexed state (issue 11); every change to `holderOf` is a
    transaction that emits LicenceIssued / HolderBound, so at the block the answer names, the
    holder it shows is exactly what the contract's `holderOf` (what grants check) says."""
    node, chain = fresh.node, fresh.chain
    body = {
        "type": TYPE,
        "serialNumber": "JY13101010000043",
        "holderUscc": "91310000MA1FL1234Q",
        "documentHash": "0x" + keccak(b"permit 43").hex(),
        "validFrom": "2024-01-01",
        "holderAddress": dev_account(A).address,
    }
    lid_hex = node.ok(node.post("/v1/licences", TOKENS["new"], json=body), 201)["licenceId"]
    lid = bytes.fromhex(lid_hex.removeprefix("0x"))
    registry = LicenceRegistry(chain, fresh.contracts["LicenceRegistry"])
    for holder in (dev_account(A).address, dev_account(C).address, dev_account(B).address):
        if holder != dev_account(A).address:
            node.ok(
                node.post(
                    f"/v1/licences/{lid_hex}/bind-holder",
                    TOKENS["new"],
                    json={"holderAddress": holder},
                )
            )
        view = node.ok(node.get(f"/v1/licences/{lid_hex}"))
        at = registry.contract.functions.holderOf(lid).call(block_identifier=view["judgedAtBlock"])
        assert view["holderAddress"] == at == holder
