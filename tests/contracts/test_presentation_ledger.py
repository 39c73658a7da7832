"""PresentationLedger: a statement is spent once on the whole chain; a group skips spent ones."""

from __future__ import annotations

from eth_hash.auto import keccak

from credledger.node.core.contracts.presentation_ledger import (
    PresentationLedger,
    ZeroStatement,
    spend_calldata,
)
from tests.contracts.conftest import Env
from tests.contracts.helpers import reverts

S = [keccak(f"statement {i}".encode()) for i in range(4)]


def ledger(env: Env, as_: str) -> PresentationLedger:
    address = env.manifest["contracts"]["PresentationLedger"]["address"]
    return PresentationLedger(env.chain, address, env.senders[as_])


def test_deploy_plan_has_the_ledger(env: Env) -> None:
    assert ledger(env, "admin").version() == "1.0.0"


def test_first_spender_wins_and_the_rest_are_skipped(env: Env) -> None:
    a, b = ledger(env, "anchorer2"), ledger(env, "grantee")
    assert a.spent_by(S[0]) is None
    r1 = a.spend([S[0], S[1]])
    assert a.spent_in(r1) == {S[0], S[1]}
    at = int(env.chain.w3.eth.get_block(r1["blockNumber"])["timestamp"])
    # a group with one spent and one new statement: only the new one is B's, nothing reverts
    r2 = b.spend([S[1], S[2], S[2]])
    assert r2["status"] == 1
    assert b.spent_in(r2) == {S[2]}
    events = b.spent_events(r2)
    assert events == [{"statement": S[2], "verifier": env.addr("grantee")}]
    # the fast decoding of the node's hot path agrees with web3's, also for a mixed group
    assert b.spent_by(S[3]) is None
    r3 = b.spend(S[:4])
    assert b.spent_in(r3) == {bytes(e["statement"]) for e in b.spent_events(r3)} == {S[3]}
    spend = b.spent_by(S[1])
    assert spend is not None and spend.verifier == env.addr("anchorer2") and spend.at == at
    spend = a.spent_by(S[2])
    assert spend is not None and spend.verifier == env.addr("grantee")
    # spending again at the first spender changes nothing either
    assert a.spent_in(a.spend([S[0]])) == set()


def test_the_hand_encoded_input_is_web3s(env: Env) -> None:
    a = ledger(env, "grantee")
    for group in ([], S[:1], S):
        web3_data = a.contract.encode_abi("spend", args=[group])
        assert "0x" + spend_calldata(group).hex() == web3_data


def test_zero_is_not_a_statement(env: Env) -> None:
    with reverts(ZeroStatement):
        ledger(env, "grantee").spend([S[3], b"\0" * 32])
    assert ledger(env, "grantee").spent_by(S[3]) is None


def test_the_raw_receipt_of_the_hot_path_decides_as_web3s(env: Env) -> None:
    """``wait_spend`` reads the RPC's raw receipt (hex strings); the statements it names as
    taken first are those of web3's receipt of the same transaction; a revert still raises."""
    a = ledger(env, "anchorer2")
    group = [keccak(f"raw statement {i}".encode()) for i in range(3)]
    a.spend(group[:1])
    tx_hash = a.send_spend(group)
    raw = a.wait_spend(tx_hash, group)
    assert isinstance(raw["logs"][0]["topics"][0], str)
    web3_receipt = env.chain.w3.eth.get_transaction_receipt(tx_hash)
    assert a.spent_in(raw) == a.spent_in(web3_receipt) == set(group[1:])
    bad = [group[0], b"\0" * 32]
    with reverts(ZeroStatement):
        a.wait_spend(a.send_spend(bad), bad)
