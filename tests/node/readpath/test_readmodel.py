"""The read model against the contract views on a real anvil: random lifecycle operations,
expiry by block time, anchors, authorisations and types, a reorg, and a restart from the
indexer's database. After every step the view must answer exactly what ``getLicence`` /
``statusOf`` / ``authorisationOf`` / ``getType`` / ``anchoredAt`` answer at the same block."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_hash.auto import keccak
from web3.exceptions import ContractCustomError, ContractLogicError

from credledger.node.core.chain import Chain
from credledger.node.core.errors import ContractRevert
from credledger.node.core.manifest import addresses
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.node.deploy import deploy
from credledger.node.devnet import DevnetInfo, free_port, launch, terminate
from credledger.node.indexer import Indexer
from credledger.node.readmodel import ReadModel
from credledger.node.settings import IndexerSettings

pytestmark = pytest.mark.chain

TYPES = [keccak(b"READ-TYPE-A"), keccak(b"READ-TYPE-B")]


def rpc(chain: Chain, method: str, params: list[Any] | None = None) -> Any:
    return chain.w3.provider.make_request(method, params or [])["result"]  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("readmodel")
    info: DevnetInfo
    _, info = launch("anvil", free_port(), None, tmp / "anvil.log")
    try:
        chain = Chain([info.rpc_url])
        admin = TxSender(chain, dev_account(0))
        manifest, _ = deploy(chain, admin, tmp / "manifest.json")
        contracts = addresses(manifest)
        registry = chain.contract("LicenceRegistry", contracts["LicenceRegistry"])
        issuer = TxSender(chain, dev_account(3))
        for i, tid in enumerate(TYPES):
            admin.send(registry.functions.registerType(tid, f"type {i}", keccak(b"s%d" % i)))
            admin.send(registry.functions.setAuthorisation(tid, issuer.address, 3))
        yield {
            "tmp": tmp,
            "chain": chain,
            "admin": admin,
            "issuer": issuer,
            "registry": registry,
            "anchors": chain.contract("AnchorRegistry", contracts["AnchorRegistry"]),
            "contracts": contracts,
            "start": int(manifest["startBlock"]),
        }
    finally:
        terminate(info.pid)


def _follow(world: dict[str, Any], db: Path) -> tuple[Indexer, ReadModel]:
    ix = Indexer(
        world["chain"],
        world["contracts"],
        world["start"],
        db,
        IndexerSettings(chunk_blocks=7, poll_interval=0.1),  # small chunks: many extends
    )
    model = ReadModel()
    ix.follow(model)
    return ix, model


def _catch_up(ix: Indexer) -> None:
    for _ in range(10_000):
        if ix.poll():
            return
    raise AssertionError("indexer did not catch up")


def _assert_equivalent(world: dict[str, Any], model: ReadModel, ids: list[bytes]) -> None:
    chain, registry = world["chain"], world["registry"]
    with model.snapshot() as block:
        at = int(chain.w3.eth.get_block(block)["timestamp"])
        assert model.block_time == at
        for lid in ids:
            got = registry.functions.getLicence(lid).call(block_identifier=block)
            issuer, tid, status, version, until, doc = got
            want = (issuer, bytes(tid), int(status), int(version), int(until), bytes(doc))
            mine = model.contract_view(lid)
            if want[2] == 0:
                assert mine[2] == 0 and model.licence(lid) is None, lid.hex()
                continue
            assert (mine[0].lower(), *mine[1:]) == (want[0].lower(), *want[1:]), lid.hex()
            assert model.status_code(lid) == registry.functions.statusOf(lid).call(
                block_identifier=block
            )
            rec = model.licence(lid)
            assert rec is not None and lid in model.with_document(rec.doc_hash)
        for tid in TYPES:
            index, schema, name = registry.functions.getType(tid).call(block_identifier=block)
            entry = model.licence_type(tid)
            assert entry is not None
            assert (entry.index, entry.schema_hash, entry.name) == (index, bytes(schema), name)
            for who in (world["issuer"].address, world["admin"].address):
                assert model.authorisation(tid, who) == registry.functions.authorisationOf(
                    tid, who
                ).call(block_identifier=block)
        for root, entry in model.anchors.items():
            on_chain = world["anchors"].functions.anchoredAt(root).call(block_identifier=block)
            assert entry.anchored_at == on_chain


def test_random_lifecycle_matches_the_contract_views(world: dict[str, Any], tmp_path: Path) -> None:
    chain, registry, issuer = world["chain"], world["registry"], world["issuer"]
    ix, model = _follow(world, tmp_path / "ix.sqlite3")
    rnd = random.Random(11)
    refused = 0
    ids: list[bytes] = []
    docs: dict[bytes, bytes] = {}
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    holders = [keccak(b"holder-%d" % i) for i in range(3)]
    for step in range(60):
        op = rnd.choice(
            ["issue", "issue", "suspend", "reinstate", "revoke", "amend", "time", "auth"]
        )
        try:
            if op == "issue" or not ids:
                tid, serial = rnd.choice(TYPES), keccak(b"serial-%d" % step)
                doc = keccak(b"doc-%d" % step)
                until = 0 if rnd.random() < 0.3 else now + rnd.randint(50, 4000)
                req = (tid, serial, rnd.choice(holders), "0x" + "00" * 20, doc, now - 10, until)
                issuer.send(registry.functions.issue(*req))
                lid = keccak(tid + serial)
                ids.append(lid)
                docs[lid] = doc
            elif op == "suspend":
                issuer.send(registry.functions.suspend(rnd.choice(ids), 3))
            elif op == "reinstate":
                issuer.send(registry.functions.reinstate(rnd.choice(ids)))
            elif op == "revoke" and rnd.random() < 0.4:
                issuer.send(registry.functions.revoke(rnd.choice(ids), 4))
            elif op == "amend":
                lid = rnd.choice(ids)
                new_doc = keccak(b"amended-%d" % step)
                issuer.send(registry.functions.amend(lid, new_doc, now + rnd.randint(100, 9000)))
                docs[lid] = new_doc
            elif op == "time":
                rpc(chain, "evm_increaseTime", [rnd.randint(100, 1500)])
                rpc(chain, "evm_mine")
                now = int(chain.w3.eth.get_block("latest")["timestamp"])
            elif op == "auth":
                world["admin"].send(
                    registry.functions.setAuthorisation(
                        rnd.choice(TYPES), world["admin"].address, rnd.choice([0, 1, 2])
                    )
                )
        except (ContractCustomError, ContractLogicError, ContractRevert):
            refused += 1  # e.g. suspending a revoked licence: the contract refuses, no event
        if step % 3 == 0:
            world["admin"].send(world["anchors"].functions.anchor(keccak(b"root-%d" % step), 2))
        if step % 5 == 4:
            _catch_up(ix)
            _assert_equivalent(world, model, [*ids, keccak(b"never-issued")])
    _catch_up(ix)
    _assert_equivalent(world, model, ids)
    assert refused < 30, refused
    statuses = {model.status_code(i) for i in ids}
    assert len(statuses) >= 3, statuses  # the walk reached several states
    # amended licences keep their earlier documents findable (SUPERSEDED verdicts)
    amended = [r for r in model.licences.values() if r.previous_doc_hashes]
    assert amended and all(r.licence_id in model.with_document(r.previous_doc_hashes[0])
                           for r in amended)  # fmt: skip

    # a restart from the same database rebuilds the same view without reading the chain again
    ix.close()
    ix2, again = _follow(world, tmp_path / "ix.sqlite3")
    assert again.height == model.height
    assert {i: again.contract_view(i) for i in ids} == {i: model.contract_view(i) for i in ids}
    ix2.close()


def test_reorg_rebuilds_the_view(world: dict[str, Any], tmp_path: Path) -> None:
    chain, registry, issuer = world["chain"], world["registry"], world["issuer"]
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    tid = TYPES[0]
    lid = keccak(tid + keccak(b"reorg-serial"))
    issuer.send(
        registry.functions.issue(
            tid, keccak(b"reorg-serial"), keccak(b"h"), "0x" + "00" * 20, keccak(b"d"), now, 0
        )
    )
    ix, model = _follow(world, tmp_path / "ix.sqlite3")
    _catch_up(ix)
    snap = rpc(chain, "evm_snapshot")
    issuer.send(registry.functions.suspend(lid, 2))
    _catch_up(ix)
    assert model.licence(lid) is not None and model.licence(lid).status == "SUSPENDED"  # type: ignore[union-attr]
    assert rpc(chain, "evm_revert", [snap]) is True
    issuer.nonces.reset()
    rpc(chain, "anvil_mine", [hex(3)])
    _catch_up(ix)
    assert model.licence(lid).status == "ACTIVE"  # type: ignore[union-attr]
    _assert_equivalent(world, model, [lid])
    ix.close()


def test_fast_decoding_matches_web3(world: dict[str, Any], tmp_path: Path) -> None:
    """Every stored event's arguments equal web3's own decoding of the same log."""
    from eth_utils.abi import event_abi_to_log_topic
    from web3._utils.events import get_event_data

    from credledger.node.core.artifacts import abi as artifact_abi
    from credledger.node.indexer import _jsonable

    chain = world["chain"]
    ix, _ = _follow(world, tmp_path / "ix.sqlite3")
    _catch_up(ix)
    entries = {}
    for name, address in world["contracts"].items():
        for e in artifact_abi(name):
            if e.get("type") == "event":
                entries[(address.lower(), bytes(event_abi_to_log_topic(e)))] = e  # type: ignore[arg-type]
    want = {}
    for raw in chain.w3.eth.get_logs({"fromBlock": 0, "toBlock": ix.indexed_height}):
        entry = entries.get((str(raw["address"]).lower(), bytes(raw["topics"][0])))
        if entry is not None:
            data = get_event_data(chain.w3.codec, entry, raw)
            key = (int(raw["blockNumber"]), int(raw["logIndex"]))
            want[key] = (str(data["event"]), _jsonable(dict(data["args"])))
    got = {(e.block_number, e.log_index): (e.event, e.args) for e in ix.events()}
    kinds = {v[0] for v in want.values()}
    assert {"LicenceIssued", "LicenceTypeRegistered", "Anchored", "RoleGranted"} <= kinds
    assert got == want
    ix.close()
