"""AnchorRegistry: anchoring, repeats, Merkle verification, and anchorer terms checked on read."""

from __future__ import annotations

from eth_hash.auto import keccak

from credledger.node.core import merkle
from credledger.node.core.contracts.anchor_registry import (
    ANCHORER_ROLE,
    AnchorerRetired,
    InvalidBatch,
    RootAlreadyAnchored,
)
from credledger.node.core.contracts.openzeppelin import (
    AccessControlEnforcedDefaultAdminDelay,
    AccessControlEnforcedDefaultAdminRules,
    AccessControlUnauthorizedAccount,
)
from tests.contracts.conftest import Env, warp
from tests.contracts.helpers import expect, only_event, reverts

DOCS = [keccak(f"doc {i}".encode()) for i in range(7)]


def block_time(env: Env, receipt: dict[str, object]) -> int:
    return int(env.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])  # type: ignore[arg-type]


def test_deploy_plan_wires_anchorer_and_version(env: Env) -> None:
    a = env.anchors()
    assert a.is_anchorer(env.addr("admin"))
    assert not a.is_anchorer(env.addr("outsider"))
    assert bytes(a.contract.functions.ANCHORER_ROLE().call()) == ANCHORER_ROLE
    assert a.contract.functions.VERSION().call() == "3.0.0"
    since, until = a.anchorer_term(env.addr("admin"))
    assert since > 0 and until == 0


def test_anchor_emits_and_records(env: Env) -> None:
    a = env.anchors()
    tree = merkle.build(DOCS)
    r = a.anchor(tree.root, len(DOCS))
    t = block_time(env, r)  # type: ignore[arg-type]
    assert only_event(a, "Anchored", r) == expect(
        root=tree.root, anchorer=env.addr("admin"), leafCount=7, anchoredAt=t
    )
    assert a.anchored_at(tree.root) == t
    rec = a.anchor_record(tree.root)
    assert rec is not None and (rec.time, rec.anchorer) == (t, env.addr("admin"))
    for i, doc in enumerate(DOCS):
        assert a.verify_document(tree.root, doc, tree.proof(i)) == t
    # the contract's leaf is the frozen core's leaf
    assert merkle.leaf_hash(DOCS[0]) == keccak(keccak(DOCS[0]))


def test_verify_refuses_wrong_document_proof_or_root(env: Env) -> None:
    a = env.anchors()
    tree = merkle.build(DOCS)
    a.anchor(tree.root, len(DOCS))
    assert a.verify_document(tree.root, keccak(b"other"), tree.proof(0)) == 0
    assert a.verify_document(tree.root, DOCS[0], tree.proof(1)) == 0
    assert a.verify_document(tree.root, DOCS[0], []) == 0
    other = merkle.build(DOCS[:3])
    assert a.verify_document(other.root, DOCS[0], other.proof(0)) == 0  # never anchored
    assert a.anchored_at(other.root) == 0
    assert a.anchor_record(other.root) is None
    single = merkle.build([DOCS[0]])
    a.anchor(single.root, 1)
    assert a.verify_document(single.root, DOCS[0], []) > 0


def test_anchor_reverts(env: Env) -> None:
    a = env.anchors()
    root = keccak(b"root")
    r = a.anchor(root, 3)
    with reverts(RootAlreadyAnchored, root, block_time(env, r)):  # type: ignore[arg-type]
        a.anchor(root, 3)
    with reverts(RootAlreadyAnchored, root, block_time(env, r)):  # type: ignore[arg-type]
        env.anchors("outsider").anchor(root, 3)
    with reverts(InvalidBatch, b"\0" * 32, 3):
        a.anchor(b"\0" * 32, 3)
    with reverts(InvalidBatch, keccak(b"x"), 0):
        a.anchor(keccak(b"x"), 0)


def test_anchor_by_non_anchorer_counts_for_nothing_and_can_be_taken_over(env: Env) -> None:
    out = env.anchors("outsider")
    tree = merkle.build(DOCS)
    r = out.anchor(tree.root, 7)
    ev = only_event(out, "Anchored", r)
    assert ev["anchorer"] == env.addr("outsider").lower()
    assert out.anchored_at(tree.root) == 0
    assert out.verify_document(tree.root, DOCS[0], tree.proof(0)) == 0
    rec = out.anchor_record(tree.root)
    assert rec is not None and rec.anchorer == env.addr("outsider")
    # another non-anchorer cannot take it over
    with reverts(AccessControlUnauthorizedAccount, env.addr("relayer"), ANCHORER_ROLE):
        env.anchors("relayer").anchor(tree.root, 7)
    # an anchorer can
    r2 = env.anchors().anchor(tree.root, 7)
    assert env.anchors().verify_document(tree.root, DOCS[0], tree.proof(0)) == block_time(env, r2)  # type: ignore[arg-type]


def test_anchorer_terms(env: Env) -> None:
    admin = env.anchors()
    node2 = env.anchors("anchorer2")
    before = keccak(b"before grant")
    node2.anchor(before, 1)
    assert node2.anchored_at(before) == 0  # not an anchorer yet
    r = admin.grant_anchorer(env.addr("anchorer2"))
    granted_at = block_time(env, r)  # type: ignore[arg-type]
    assert node2.anchorer_term(env.addr("anchorer2")) == (granted_at, 0)
    during = keccak(b"during term")
    t_during = block_time(env, node2.anchor(during, 1))  # type: ignore[arg-type]
    assert node2.anchored_at(during) == t_during
    warp(env.chain, 10)
    r = admin.revoke_anchorer(env.addr("anchorer2"))
    revoked_at = block_time(env, r)  # type: ignore[arg-type]
    assert node2.anchorer_term(env.addr("anchorer2")) == (granted_at, revoked_at)
    after = keccak(b"after revocation")
    node2.anchor(after, 1)
    assert node2.anchored_at(after) == 0
    assert node2.anchored_at(during) == t_during  # anchors made during the term keep counting
    with reverts(AnchorerRetired, env.addr("anchorer2"), revoked_at):
        admin.grant_anchorer(env.addr("anchorer2"))
    with reverts(AccessControlUnauthorizedAccount, env.addr("outsider"), b"\0" * 32):
        env.anchors("outsider").grant_anchorer(env.addr("outsider"))
    # renouncing ends the term too
    admin._send(admin.contract.functions.renounceRole(ANCHORER_ROLE, env.addr("admin")))
    assert admin.anchorer_term(env.addr("admin"))[1] > 0
    assert not admin.is_anchorer(env.addr("admin"))


ADMIN_ROLE = b"\0" * 32


def test_governance_is_default_admin_rules_with_a_day_delay(env: Env) -> None:
    a = env.anchors()
    fn = a.contract.functions
    assert fn.defaultAdmin().call() == env.addr("admin")
    assert fn.defaultAdminDelay().call() == 86_400
    new_admin = env.addr("relayer")
    with reverts(AccessControlEnforcedDefaultAdminRules):
        a._send(fn.grantRole(ADMIN_ROLE, new_admin))
    a._send(fn.beginDefaultAdminTransfer(new_admin))
    _, schedule = fn.pendingDefaultAdmin().call()
    relayer = env.anchors("relayer")
    with reverts(AccessControlEnforcedDefaultAdminDelay, schedule):
        relayer._send(relayer.contract.functions.acceptDefaultAdminTransfer())
    assert a.is_anchorer(env.addr("admin"))  # the old admin still governs until the hand-over
    warp(env.chain, 86_401)
    relayer._send(relayer.contract.functions.acceptDefaultAdminTransfer())
    assert fn.defaultAdmin().call() == new_admin
    # the new admin grants anchorers; the old one no longer can
    relayer.grant_anchorer(env.addr("anchorer2"))
    assert a.is_anchorer(env.addr("anchorer2"))
    with reverts(AccessControlUnauthorizedAccount, env.addr("admin"), ADMIN_ROLE):
        a.grant_anchorer(env.addr("outsider"))
