"""Idempotency keys and 20 concurrent issuing clients: no nonce error, no duplicate."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.node.licences.conftest import NOT_ON_CHAIN, TOKENS, LicenceChain, issue_body
from tests.node.licences.harness import Node


def _issued_events(lchain: LicenceChain, licence_id: str) -> int:
    registry = lchain.chain.contract("LicenceRegistry", lchain.contracts["LicenceRegistry"])
    logs = registry.events.LicenceIssued().get_logs(
        from_block=0, argument_filters={"licenceId": bytes.fromhex(licence_id[2:])}
    )
    return len(logs)


def test_identical_retries_never_issue_twice(node_a: Node, lchain: LicenceChain) -> None:
    body = issue_body()
    key = {"Idempotency-Key": "retry-" + body["serialNumber"]}
    first = node_a.ok(node_a.post("/v1/licences", TOKENS["market"], json=body, headers=key), 201)
    second = node_a.ok(node_a.post("/v1/licences", TOKENS["market"], json=body, headers=key), 201)
    assert second["replayed"] is True
    assert second["transactionHash"] == first["transactionHash"]
    assert second["licenceId"] == first["licenceId"]
    assert _issued_events(lchain, first["licenceId"]) == 1
    # the same key for another request is a conflict, and nothing is issued
    other = {**body, "serialNumber": body["serialNumber"] + "-x"}
    r = node_a.post("/v1/licences", TOKENS["market"], json=other, headers=key)
    assert r.status_code == 409
    assert "already used for a different request" in r.json()["message"]
    # without a key, a repeat is refused by the contract (same type and serial)
    r = node_a.post("/v1/licences", TOKENS["market"], json=body)
    assert r.status_code == 409
    assert r.json()["details"]["contract_error"] == "LicenceExists"


def test_idempotent_lifecycle_change(node_a: Node) -> None:
    lid = node_a.ok(node_a.post("/v1/licences", TOKENS["market"], json=issue_body()), 201)[
        "licenceId"
    ]
    key = {"Idempotency-Key": "suspend-" + lid}
    a = node_a.post(
        f"/v1/licences/{lid}/suspend", TOKENS["market"], json={"reasonCode": 1}, headers=key
    )
    b = node_a.post(
        f"/v1/licences/{lid}/suspend", TOKENS["market"], json={"reasonCode": 1}, headers=key
    )
    assert a.status_code == b.status_code == 200
    assert a.json()["transactionHash"] == b.json()["transactionHash"]
    history = node_a.ok(node_a.get(f"/v1/licences/{lid}"))["history"]
    assert [h["action"] for h in history] == ["ISSUED", "SUSPENDED"]


def _issuance(node: Node) -> dict[str, int]:
    counts: dict[str, int] = node.health()["licences"]["issuance"].get(
        "market", {"transactions": 0, "licences": 0, "queued": 0, "inFlight": 0}
    )
    return counts


def test_twenty_concurrent_clients_share_two_transactions(
    node_a: Node, lchain: LicenceChain
) -> None:
    """Group commit, exactly: with mining held, the first issuance goes out alone and every
    request that arrives meanwhile waits; once it is mined, all of them go in ONE issueBatch."""
    bodies = [issue_body() for _ in range(20)]
    # one retry with the same key raced against its original
    racing = issue_body()
    key = {"Idempotency-Key": "race-" + racing["serialNumber"]}
    before = _issuance(node_a)

    def send(body: dict[str, object], headers: dict[str, str] | None = None) -> httpx.Response:
        with httpx.Client(base_url=node_a.url, timeout=120) as c:
            h = {"Authorization": f"Bearer {TOKENS['market']}", **(headers or {})}
            return c.post("/v1/licences", json=body, headers=h)

    lchain.rpc("evm_setAutomine", [False])
    try:
        with ThreadPoolExecutor(22) as pool:
            futures = [pool.submit(send, b) for b in bodies]
            race = [pool.submit(send, racing, key), pool.submit(send, racing, key)]
            # every request has reached the department's queue or the transaction in flight
            deadline = time.monotonic() + 60
            while True:
                now = _issuance(node_a)
                if now["queued"] + now["inFlight"] == 21:
                    break
                assert time.monotonic() < deadline, now
                time.sleep(0.05)
            first_group = now["inFlight"]
            while not all(f.done() for f in [*futures, *race]):
                lchain.rpc("evm_mine")
                time.sleep(0.1)
            results = [f.result() for f in futures]
            raced = [f.result() for f in race]
    finally:
        lchain.rpc("evm_setAutomine", [True])
    assert [r.status_code for r in results] == [201] * 20, [
        r.text for r in results if r.status_code != 201
    ]
    ids = [r.json()["licenceId"] for r in results]
    txs = [r.json()["transactionHash"] for r in results]
    assert len(set(ids)) == 20
    # 21 issuances (20 + the raced one) in exactly two transactions: the first group, sent at
    # once, and one issueBatch with everything that queued up behind it
    issued_in = {tx: txs.count(tx) for tx in txs}
    raced_tx = next(r.json()["transactionHash"] for r in raced if r.status_code == 201)
    issued_in[raced_tx] = issued_in.get(raced_tx, 0) + 1
    assert sorted(issued_in.values()) == sorted([first_group, 21 - first_group])
    after = _issuance(node_a)
    assert after["transactions"] - before["transactions"] == 2
    assert after["licences"] - before["licences"] == 21
    batch_tx = max(issued_in, key=lambda t: issued_in[t])
    tx = lchain.chain.w3.eth.get_transaction(batch_tx)  # type: ignore[arg-type]
    registry = lchain.chain.contract("LicenceRegistry", lchain.contracts["LicenceRegistry"])
    assert registry.decode_function_input(tx["input"])[0].fn_name == "issueBatch"
    for lid in ids:
        assert _issued_events(lchain, lid) == 1
    # the raced pair: one issued; the other replayed it or was told the first is still running
    codes = sorted(r.status_code for r in raced)
    assert codes in ([201, 201], [201, 409]), [r.text for r in raced]
    raced_id = next(r.json()["licenceId"] for r in raced if r.status_code == 201)
    assert _issued_events(lchain, raced_id) == 1
    # the anchoring pipeline logs its nonces at INFO; no warning or error may mention one
    for line in node_a.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        low = line.lower()
        assert "nonce too low" not in low and "already known" not in low, line
        if '"level": "warning"' in low or '"level": "error"' in low or "traceback" in low:
            assert "nonce" not in low, line


def test_keyed_retry_after_a_lost_answer_recovers_the_licence(
    node_a: Node, lchain: LicenceChain
) -> None:
    # the first attempt reached the chain but its answer was lost (crash, timeout): here it is
    # sent without a key, then retried with one
    body = issue_body()
    first = node_a.ok(node_a.post("/v1/licences", TOKENS["market"], json=body), 201)
    key = {"Idempotency-Key": "lost-" + body["serialNumber"]}
    again = node_a.ok(node_a.post("/v1/licences", TOKENS["market"], json=body, headers=key), 201)
    assert again["recovered"] is True
    assert again["licenceId"] == first["licenceId"]
    assert again["transactionHash"] == first["transactionHash"]
    assert _issued_events(lchain, first["licenceId"]) == 1
    # the same type and serial with another document is not "the same licence": 409
    other = {**body, "documentHash": "0x" + "77" * 32}
    key2 = {"Idempotency-Key": "lost2-" + body["serialNumber"]}
    r = node_a.post("/v1/licences", TOKENS["market"], json=other, headers=key2)
    assert r.status_code == 409


def test_a_bad_request_among_concurrent_ones_fails_alone(
    node_a: Node, lchain: LicenceChain
) -> None:
    taken = issue_body()
    node_a.ok(node_a.post("/v1/licences", TOKENS["market"], json=taken), 201)
    bodies = [issue_body() for _ in range(29)]
    clash = {**taken, "documentHash": "0x" + "66" * 32}  # same type and serial: exists
    not_on_chain = issue_body(NOT_ON_CHAIN)  # the contract refuses this type for market
    everything = [*bodies[:10], clash, *bodies[10:20], not_on_chain, *bodies[20:]]

    def send(body: dict[str, object]) -> httpx.Response:
        with httpx.Client(base_url=node_a.url, timeout=120) as c:
            h = {"Authorization": f"Bearer {TOKENS['market']}"}
            return c.post("/v1/licences", json=body, headers=h)

    with ThreadPoolExecutor(len(everything)) as pool:
        results = list(pool.map(send, everything))
    by_body = dict(zip([id(b) for b in everything], results, strict=True))
    assert by_body[id(clash)].status_code == 409
    assert by_body[id(not_on_chain)].status_code == 403
    for b in bodies:
        r = by_body[id(b)]
        assert r.status_code == 201, r.text
        assert _issued_events(lchain, r.json()["licenceId"]) == 1


def test_keyed_retry_of_a_batch_whose_answer_was_lost(node_a: Node, lchain: LicenceChain) -> None:
    bodies = {"licences": [issue_body(), issue_body("SE-USE-REGISTRATION")]}
    first = node_a.ok(node_a.post("/v1/licences:batch", TOKENS["market"], json=bodies), 201)
    key = {"Idempotency-Key": "lost-batch-" + bodies["licences"][0]["serialNumber"]}
    again = node_a.ok(
        node_a.post("/v1/licences:batch", TOKENS["market"], json=bodies, headers=key), 201
    )
    assert again["recovered"] is True
    assert again["transactionHash"] == first["transactionHash"]
    assert again["gasUsed"] == first["gasUsed"]
    assert [x["licenceId"] for x in again["licences"]] == [
        x["licenceId"] for x in first["licences"]
    ]
    for x in first["licences"]:
        assert _issued_events(lchain, x["licenceId"]) == 1
    # half of it on chain is not "this batch": 409, nothing issued twice
    half = {"licences": [bodies["licences"][0], issue_body()]}
    key2 = {"Idempotency-Key": "lost-batch2-" + bodies["licences"][0]["serialNumber"]}
    r = node_a.post("/v1/licences:batch", TOKENS["market"], json=half, headers=key2)
    assert r.status_code == 409, r.text
