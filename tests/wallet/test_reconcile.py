"""The wallet follows the chain: a kill -9 during grant bursts loses no grant; retries grant once.

Real processes: one anvil, a node, a wallet process of its own that the tests kill with SIGKILL
and restart on the same data dir. What the chain holds is read with the ConsentRegistry binding.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from credledger.node.core.contracts.consent_registry import (
    ConsentEvent,
    ConsentRegistry,
    GrantRequest,
    grant_key,
    purpose_of,
)
from credledger.node.core.contracts.eip712 import sign_typed_data
from credledger.node.core.receipts import hex32, parse_hash
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.wallet.consent import ConsentChain
from credledger.wallet.grants import GrantInput
from credledger.wallet.idempotency import request_hash
from credledger.wallet.reconcile import Reconciler
from credledger.wallet.store import WalletStore
from tests.wallet.conftest import BANK, Enterprise, WalletEnv, new_uscc
from tests.wallet.harness import Wallet
from tests.wallet.test_reuse import Bank, refused

pytestmark = pytest.mark.chain
AUDIT = purpose_of("AUDIT")
RECOVERY_BOUND = 15.0  # seconds after restart by which every on-chain grant is in the wallet


@pytest.fixture
def own(wenv: WalletEnv, tmp_path: Path) -> Iterator[Wallet]:
    """A wallet process of its own (relayer dev account 3), killed and restarted by the tests."""
    with wenv.own_wallet(tmp_path / "reconcile", relayer=3) as w:
        yield w


def registry(wenv: WalletEnv) -> ConsentRegistry:
    return ConsentRegistry(wenv.chain, wenv.contracts["ConsentRegistry"])


def chain_grants(wenv: WalletEnv, holder: str) -> list[ConsentEvent]:
    """Every ConsentGranted event of ``holder``, read with the binding."""
    events = registry(wenv).events_of([holder], 0, wenv.chain.block_number())
    return [e for e in events if e.kind == "granted"]


def active_grant_ids(wenv: WalletEnv, holder: str) -> set[str]:
    reg, out = registry(wenv), set()
    for e in chain_grants(wenv, holder):
        if reg.is_authorized(holder, e.asset_id, e.grantee, e.purpose):
            out.add(grant_id(e))
    return out


def grant_id(e: ConsentEvent) -> str:
    return hex32(grant_key(e.holder, e.asset_id, e.grantee, e.purpose))


def register(w: Wallet, **extra: Any) -> Enterprise:
    uscc = new_uscc()
    out = w.register(uscc, "上海对账测试有限公司", **extra)
    return Enterprise(uscc, out["name"], out["address"], w.login(uscc))


def anchored_material(w: Wallet, ent: Enterprise) -> dict[str, Any]:
    m = w.file(ent.token, "审计报告.pdf", f"audit {ent.uscc} {time.time()}".encode())
    return w.wait_state(ent.token, m["id"], "anchored")


def grant_body(asset: str, grantee: str, expires: int) -> dict[str, Any]:
    return {"assetId": asset, "grantee": grantee, "purpose": "AUDIT", "expiresAt": expires}


def listed(w: Wallet, token: str) -> dict[str, dict[str, Any]]:
    return {g["grantId"]: g for g in w.ok(w.get("/v1/grants", token))["grants"]}


def wait_listed(w: Wallet, token: str, ids: set[str]) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + RECOVERY_BOUND
    while True:
        rows = listed(w, token)
        if ids <= set(rows) or time.monotonic() > deadline:
            assert ids <= set(rows), f"not in the wallet: {sorted(ids - set(rows))}"
            return rows
        time.sleep(0.2)


def test_kill_during_grant_burst_loses_no_grant_and_retries_grant_once(
    wenv: WalletEnv, own: Wallet
) -> None:
    ent = register(own)
    m = anchored_material(own, ent)
    expires = int(time.time()) + 3600
    requests = [
        (secrets.token_hex(8), grant_body(m["id"], Account.create().address, expires))
        for _ in range(50)
    ]
    answered: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def send(item: tuple[str, dict[str, Any]]) -> None:
        key, body = item
        try:
            r = httpx.post(f"{own.url}/v1/grants", json=body, timeout=60,
                           headers={"Authorization": f"Bearer {ent.token}",
                                    "Idempotency-Key": key})  # fmt: skip
        except httpx.HTTPError:
            return  # the wallet died under this request
        if r.status_code == 201:
            with lock:
                answered[key] = r.json()

    pool = ThreadPoolExecutor(12)
    futures = [pool.submit(send, item) for item in requests]
    deadline = time.monotonic() + 60
    while len(answered) < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    own.kill()  # SIGKILL mid-burst: some grants are on chain, unanswered, with no row
    for f in futures:
        f.result()
    pool.shutdown()
    assert 8 <= len(answered) < 50, len(answered)

    on_chain = active_grant_ids(wenv, ent.address)
    assert len(on_chain) >= len(answered)
    own.start()
    token = own.login(ent.uscc)
    t0 = time.monotonic()
    rows = wait_listed(own, token, on_chain)
    recovered = on_chain - {a["grantId"] for a in answered.values()}
    # a grant whose row the wallet committed before the kill but whose answer was lost is listed
    # as the wallet's own; only grants with no row are adopted from the chain (marked so)
    adopted = {gid for gid in on_chain if rows[gid].get("recoveredFromChain")}
    assert adopted <= recovered, adopted - recovered
    print(f"{len(answered)} answered, {len(on_chain)} on chain, {len(recovered)} recovered "
          f"in {time.monotonic() - t0:.1f} s")  # fmt: skip
    for gid in on_chain:
        assert rows[gid]["state"] == "active"
        assert own.ok(own.get(f"/v1/grants/{gid}", token))["grantId"] == gid

    # every client retries with its key: one grant per slot on chain, the answered ones unchanged
    with ThreadPoolExecutor(8) as retry:
        again = list(retry.map(lambda item: own.post("/v1/grants", token, json=item[1],
                                                     headers={"Idempotency-Key": item[0]}),
                               requests))  # fmt: skip
    for (key, _), r in zip(requests, again, strict=True):
        assert r.status_code == 201, r.text
        if key in answered:
            assert r.json()["transactionHash"] == answered[key]["transactionHash"]
    per_slot = Counter(grant_id(e) for e in chain_grants(wenv, ent.address))
    assert len(per_slot) == 50 and set(per_slot.values()) == {1}, per_slot.most_common(3)

    # the recovered grants are revocable from the wallet
    for gid in sorted(recovered)[:3] or sorted(on_chain)[:1]:
        out = own.ok(own.post(f"/v1/grants/{gid}/revoke", token))
        assert out["state"] == "revoked"
    assert active_grant_ids(wenv, ent.address) == set(per_slot) - (
        set(sorted(recovered)[:3] or sorted(on_chain)[:1])
    )


def test_grants_and_revocations_made_elsewhere_are_adopted(wenv: WalletEnv, own: Wallet) -> None:
    """An external-custody holder grants and revokes straight on the contract: the wallet, which
    never saw those requests, lists the grant (recovered from chain) and then shows it revoked."""
    holder = Account.create()
    ent = register(own, address=holder.address)
    m = own.file(ent.token, "章程.pdf", f"articles {ent.uscc}".encode())
    bank = dev_account(BANK).address
    relay = ConsentRegistry(wenv.chain, wenv.contracts["ConsentRegistry"],
                            TxSender(wenv.chain, dev_account(2)))  # fmt: skip
    req = GrantRequest.material(holder.address, parse_hash(m["documentSha256"]), bank, AUDIT,
                                int(time.time()) + 3600, 2)  # fmt: skip
    deadline = int(time.time()) + 600
    receipt = relay.grant_by_sig(req, deadline, relay.sign_grant(holder, req, deadline))
    gid = hex32(grant_key(holder.address, req.asset_id, bank, AUDIT))
    assert hex32(req.asset_id) == m["id"]
    rows = wait_listed(own, ent.token, {gid})
    g = rows[gid]
    assert g["state"] == "active" and g["maxUses"] == 2 and g["assetKind"] == "material"
    assert g["grantedBy"] == "chain" and g["purpose"]["code"] == "AUDIT"
    assert g["recoveredFromChain"] is True
    assert g["transactionHash"] == hex32(bytes(receipt["transactionHash"]))

    sig = relay.sign_revoke(holder, req.asset_id, bank, AUDIT, deadline)
    relay.revoke_by_sig(holder.address, req.asset_id, bank, AUDIT, deadline, sig)
    until = time.monotonic() + RECOVERY_BOUND
    while (g := own.ok(own.get(f"/v1/grants/{gid}", ent.token))).get("revokedBy") != "chain":
        assert time.monotonic() < until, g
        time.sleep(0.2)
    assert g["state"] == "revoked"
    history = own.ok(own.get("/v1/history", ent.token))
    assert "recoveredFromChain" in str(history)


def test_idempotency_key_and_identical_retries(wenv: WalletEnv, own: Wallet) -> None:
    ent = register(own)
    m = anchored_material(own, ent)
    bank = dev_account(BANK).address
    body = grant_body(m["id"], bank, int(time.time()) + 3600)
    key = {"Idempotency-Key": "order-7f3a-" + secrets.token_hex(4)}

    # two at once with the same key: one relay, the same answer
    with ThreadPoolExecutor(2) as pool:
        rs = list(pool.map(lambda _: own.post("/v1/grants", ent.token, json=body, headers=key),
                           range(2)))  # fmt: skip
    first, second = (own.ok(r, 201) for r in rs)
    assert first["transactionHash"] == second["transactionHash"]
    # later, the stored answer
    assert own.ok(own.post("/v1/grants", ent.token, json=body, headers=key), 201) == first
    # the same key with another body: 409, nothing relayed
    other = {**body, "maxUses": 3}
    r = own.post("/v1/grants", ent.token, json=other, headers=key)
    assert r.status_code == 409 and r.json()["error"] == "idempotency_key_reused", r.text
    # a retry without a key while the slot holds the identical active grant: that grant
    same = own.ok(own.post("/v1/grants", ent.token, json=body), 201)
    assert same["existing"] is True and same["transactionHash"] == first["transactionHash"]
    slot = [e for e in chain_grants(wenv, ent.address) if grant_id(e) == first["grantId"]]
    assert len(slot) == 1
    # different terms are a new grant (a re-grant), as before
    regrant = own.ok(own.post("/v1/grants", ent.token, json=other), 201)
    assert regrant["transactionHash"] != first["transactionHash"] and "existing" not in regrant
    # a bad key is refused
    r = own.post("/v1/grants", ent.token, json=body, headers={"Idempotency-Key": "a b"})
    assert r.status_code == 422, r.text


def test_a_use_with_no_grant_at_all_is_grant_not_found(wenv: WalletEnv, own: Wallet) -> None:
    ent = register(own)
    m = anchored_material(own, ent)
    bank = Bank(wenv, BANK)
    failed = bank.failed_consume(ent.address, m["id"])
    assert refused(own, bank.body(failed, ent.address, m["id"])) == "grant_not_found"


def test_filings_left_by_a_kill_are_anchored_after_restart(wenv: WalletEnv, own: Wallet) -> None:
    ent = register(own)
    filed = [own.file(ent.token, f"发票-{i}.pdf", f"invoice {i} {ent.uscc}".encode())
             for i in range(5)]  # fmt: skip
    own.kill()  # before (some of) their anchors are confirmed or recorded
    time.sleep(3)  # the node anchors what was submitted while the wallet is down
    own.start()
    token = own.login(ent.uscc)
    for m in filed:
        got = own.wait_state(token, m["id"], "anchored", timeout=60)
        assert got["anchor"]["transactionHash"]
        receipt = own.ok(own.get(f"/v1/materials/{m['id']}/receipt", token))
        assert receipt["transactionHash"] == got["anchor"]["transactionHash"]


class CountingConsent(ConsentChain):
    """The wallet's real ConsentChain, counting the head reads and log queries it makes."""

    heads = 0
    queries = 0

    def head(self) -> int:
        self.heads += 1
        return super().head()

    def events(self, holders: list[str], start: int, end: int) -> list[ConsentEvent]:
        self.queries += 1
        return super().events(holders, start, end)


def test_an_idle_pass_is_one_head_read_and_empty_blocks_write_nothing(
    wenv: WalletEnv, wallet: Wallet, tmp_path: Path
) -> None:
    """In process, on the session's chain: the reconciler of a store with the session wallet's
    enterprises (copied rows) reads only the head while no block arrives, queries logs once per
    new block and stores no cursor for empty blocks; its first pass finds their grants."""
    ent = register(wallet)
    m = anchored_material(wallet, ent)
    g = wallet.ok(wallet.post("/v1/grants", ent.token, json=grant_body(
        m["id"], dev_account(BANK).address, int(time.time()) + 3600)), 201)  # fmt: skip
    store = WalletStore(tmp_path / "wallet.sqlite3")
    with store.tx() as c:
        c.execute(
            "INSERT INTO enterprises (uscc, name, address, custody, data_key, created_at)"
            " VALUES (?,?,?,?,?,?)",
            (ent.uscc, ent.name, ent.address, "external", b"", time.time()),
        )
    relayer = TxSender(wenv.chain, dev_account(2))
    consent = CountingConsent(wenv.chain, wenv.contracts["ConsentRegistry"], relayer)
    rec = Reconciler(store, consent, 0)
    assert rec.sync() == 1 and rec.adopted == 1
    row = store.one("SELECT source, tx_hash FROM grants WHERE id=?", g["grantId"])
    assert row is not None and tuple(row) == ("chain", g["transactionHash"])
    cursor = store.one("SELECT block, updated_at FROM chain_cursors")
    assert cursor is not None and cursor["block"] == wenv.chain.block_number()
    heads, queries = consent.heads, consent.queries
    for _ in range(5):
        assert rec.sync() == 0
    assert (consent.heads - heads, consent.queries - queries) == (5, 0)
    wenv.rpc("evm_mine")
    assert rec.sync() == 0 and consent.queries == queries + 1
    assert tuple(store.one("SELECT block, updated_at FROM chain_cursors") or ()) == tuple(cursor)
    store.close()


def test_a_request_signed_before_a_crash_is_relayed_once(wenv: WalletEnv, own: Wallet) -> None:
    """What a kill leaves in ``grant_requests`` (written as the wallet writes it): a signed
    request not yet relayed is relayed on retry; one the chain already took is answered, not
    relayed again. External custody, so the test signs as the holder."""
    holder = Account.create()
    ent = register(own, address=holder.address)
    m = own.file(ent.token, "租赁合同.pdf", f"lease {ent.uscc} {time.time()}".encode())
    relay = ConsentRegistry(wenv.chain, wenv.contracts["ConsentRegistry"],
                            TxSender(wenv.chain, dev_account(2)))  # fmt: skip

    def signed_body(grantee: str) -> dict[str, Any]:
        body = grant_body(m["id"], grantee, int(time.time()) + 3600)
        td = own.ok(own.post("/v1/grants/typed-data", ent.token, json=body))
        sig = sign_typed_data(holder, td["typedData"])
        nonce = int(td["typedData"]["message"]["nonce"])
        return {**body, "deadline": td["deadline"], "signature": "0x" + sig.hex(), "_n": nonce}

    not_relayed, relayed = (
        signed_body(Account.create().address),
        signed_body(Account.create().address),
    )
    # the chain took the second one (the wallet relayed it, then died before its row)
    req = GrantRequest.material(holder.address, parse_hash(m["documentSha256"]),
                                relayed["grantee"], AUDIT, relayed["expiresAt"], 0)  # fmt: skip
    landed = relay.grant_by_sig(req, relayed["deadline"], bytes.fromhex(relayed["signature"][2:]))
    own.stop()
    with sqlite3.connect(own.data_dir / "wallet.sqlite3") as db:
        (eid,) = db.execute("SELECT id FROM enterprises WHERE uscc=?", (ent.uscc,)).fetchone()
        for key, b in (("k-not-relayed", not_relayed), ("k-relayed", relayed)):
            item = GrantInput(b["assetId"], b["grantee"], b["purpose"], b["expiresAt"], 0,
                              b["deadline"], b["signature"])  # fmt: skip
            db.execute(
                "INSERT INTO grant_requests (enterprise_id, idem_key, request_hash, nonce,"
                " deadline, signature, created_at) VALUES (?,?,?,?,?,?,?)",
                (eid, key, request_hash(item), str(b["_n"]), b["deadline"],
                 b["signature"][2:], time.time()),
            )  # fmt: skip
    own.start()
    token = own.login(ent.uscc)
    for key, b in (("k-not-relayed", not_relayed), ("k-relayed", relayed)):
        body = {k: v for k, v in b.items() if k != "_n"}
        out = own.ok(own.post("/v1/grants", token, json=body, headers={"Idempotency-Key": key}),
                     201)  # fmt: skip
        if key == "k-relayed":
            assert out["transactionHash"] == hex32(bytes(landed["transactionHash"]))
        again = own.ok(own.post("/v1/grants", token, json=body, headers={"Idempotency-Key": key}),
                       201)  # fmt: skip
        assert again["transactionHash"] == out["transactionHash"]
    per_slot = Counter(grant_id(e) for e in chain_grants(wenv, holder.address))
    assert len(per_slot) == 2 and set(per_slot.values()) == {1}
