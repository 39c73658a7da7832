"""Single use across the network (issue 19): a token accepted at one node is refused at every other
node on the same chain, and a kill -9 during checks leaves no spent token without its record.

Real processes on the counter tests' anvil: the market counter node C (signer dev account 0), a
replica of the market department sharing C's chain key (R0), one with its own key (R5), and the
drug administration's node D (key 3). Each keeps its own SQLite; only the PresentationLedger on
chain is shared.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from credledger.node.core.contracts.presentation_ledger import PresentationLedger
from credledger.node.core.signer import dev_account
from credledger.node.devnet import free_port
from tests.node.counter.conftest import TOKENS, Parties, counter_config, lid, wait_for
from tests.node.licences.conftest import TOKENS as LICENCE_TOKENS
from tests.node.licences.conftest import LicenceChain, _node_b_config
from tests.node.licences.harness import Node


def _node(name: str, lchain: LicenceChain, tmp: Path, config: str, key: int) -> Node:
    return Node(name, lchain.info.rpc_url, tmp / f"node-{name}", lchain.manifest, config, key)


@pytest.fixture(scope="module")
def others(
    lchain: LicenceChain, counter_node: Node, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Node]]:
    tmp = tmp_path_factory.mktemp("network-single-use")
    nodes = {
        "R0": _node("R0", lchain, tmp, counter_config(), 0),
        "R5": _node("R5", lchain, tmp, counter_config(), 5),
        "D": _node("D", lchain, tmp, _node_b_config(), 3),
    }
    try:
        for n in nodes.values():
            n.start()
        yield nodes
    finally:
        for n in nodes.values():
            n.stop()


def ledger(parties: Parties) -> PresentationLedger:
    return PresentationLedger(parties.lchain.chain, parties.lchain.contracts["PresentationLedger"])


def check(node: Node, token: str, clerk: str = TOKENS["clerk"]) -> dict[str, Any]:
    return node.ok(node.post("/v1/verify/presentation", clerk, json={"token": token}))


def codes(answer: dict[str, Any]) -> list[str]:
    return [r["code"] for r in answer["reasons"]]


def wait_indexed(parties: Parties, nodes: list[Node]) -> None:
    height = int(parties.lchain.chain.w3.eth.block_number)
    for n in nodes:
        n.wait_indexed(height, timeout=20)


def test_a_token_is_valid_once_on_the_whole_network(
    parties: Parties, others: dict[str, Node]
) -> None:
    c, r0, r5, d = parties.node, others["R0"], others["R5"], others["D"]
    issued = parties.issue()
    wait_indexed(parties, [c, r0, r5, d])
    clerk_d = LICENCE_TOKENS["clerk_b"]
    # no audience: C, then another department (D) and both replicas
    t = parties.token([lid(issued)]).encode()
    first = check(c, t)
    assert first["verdict"] == "VALID", first
    for node, clerk in ((d, clerk_d), (r0, TOKENS["clerk"]), (r5, TOKENS["clerk"])):
        got = check(node, t, clerk)
        assert got["verdict"] == "REFUSED" and codes(got) == ["REPLAYED"], (node.name, got)
        assert "another verifier" in got["reasons"][0]["message"]
        assert got["reasons"][0]["firstVerifier"] == dev_account(0).address
        assert got["reasons"][0]["firstAt"] > 0
    assert codes(check(c, t)) == ["REPLAYED"]  # the local fast path at C
    # audience "market" and "market/counter-1": a replica of the department, with C's key or not
    for aud in ("market", "market/counter-1"):
        for replica in (r0, r5):
            t = parties.token([lid(issued)], audience=aud).encode()
            assert check(replica, t)["verdict"] == "VALID"
            for node in (c, r0, r5):
                got = check(node, t)
                assert got["verdict"] == "REFUSED" and codes(got) == ["REPLAYED"], got
    # the statement is spent on chain by the node that said VALID, and its record is kept there
    sh = first["presentation"]["statementHash"]
    spend = ledger(parties).spent_by(bytes.fromhex(sh[2:]))
    assert spend is not None and spend.verifier == dev_account(0).address
    record = c.ok(c.get(f"/v1/verifications/{first['verification']['id']}"))["record"]
    assert record["verdict"] == "VALID"


def test_one_token_at_two_nodes_at_once_is_valid_exactly_once(
    parties: Parties, others: dict[str, Node]
) -> None:
    # three nodes with three chain keys: C, the replica R5 and the other department D (two
    # processes sharing one key race for its nonces, for every transaction they send: the
    # sequential test above covers that replica)
    clerks = {"C": TOKENS["clerk"], "R5": TOKENS["clerk"], "D": LICENCE_TOKENS["clerk_b"]}
    nodes = [parties.node, others["R5"], others["D"]]
    # R0 shares C's key and has done its part (the sequential test above): stopped, so its
    # anchoring of that test's records cannot take C's nonces while C spends (a 503 in CI)
    others["R0"].stop()
    issued = parties.issue()
    wait_indexed(parties, nodes)
    for _ in range(4):
        t = parties.token([lid(issued)]).encode()
        answers: list[dict[str, Any]] = []
        gate = threading.Barrier(len(nodes))

        def one(
            node: Node,
            token: str = t,
            gate: threading.Barrier = gate,
            answers: list[dict[str, Any]] = answers,
        ) -> None:
            gate.wait()
            answers.append(check(node, token, clerks[node.name]))

        threads = [threading.Thread(target=one, args=(n,)) for n in nodes]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=90)
        verdicts = sorted(a["verdict"] for a in answers)
        assert verdicts == ["REFUSED", "REFUSED", "VALID"], answers
        assert all(codes(a) == ["REPLAYED"] for a in answers if a["verdict"] == "REFUSED")


def test_a_token_bound_to_one_verifier_is_accepted_there_alone_without_a_transaction(
    parties: Parties, others: dict[str, Node]
) -> None:
    """The fast path: the audience ``verifier:<C's chain account>`` (``GET /v1/verify/audience``)
    is refused at every other node (another department's, a replica with its own key), so C's
    own store is the token's single use on the whole network: no spend, no wait for a block."""
    c, r5, d = parties.node, others["R5"], others["D"]
    issued = parties.issue()
    wait_indexed(parties, [c, r5, d])
    me = dev_account(0).address
    aud = c.ok(c.get("/v1/verify/audience"))
    assert aud == {"audience": "verifier:" + me.lower(), "verifier": me, "singleUse": "network"}
    for audience in (aud["audience"], "verifier:" + me):  # typed checksummed: the same verifier
        t = parties.token([lid(issued)], audience=audience)
        for node, clerk in ((r5, TOKENS["clerk"]), (d, LICENCE_TOKENS["clerk_b"])):
            got = check(node, t.encode(), clerk)
            assert got["verdict"] == "REFUSED" and codes(got) == ["WRONG_AUDIENCE"], got
        first = check(c, t.encode())
        assert first["verdict"] == "VALID", first
        got = check(c, t.encode())
        assert got["verdict"] == "REFUSED" and codes(got) == ["REPLAYED"], got
        # nothing was spent on chain; the record is kept as for every check
        assert ledger(parties).spent_by(t.statement_hash(parties.chain_id)) is None
        record = c.ok(c.get(f"/v1/verifications/{first['verification']['id']}"))["record"]
        assert record["verdict"] == "VALID"
    # another node's verifier audience is refused here
    other = parties.token([lid(issued)], audience="verifier:" + dev_account(5).address.lower())
    got = check(c, other.encode())
    assert got["verdict"] == "REFUSED" and codes(got) == ["WRONG_AUDIENCE"], got


def test_kill_9_during_checks_leaves_no_spent_token_without_its_record(
    parties: Parties, lchain: LicenceChain, tmp_path_factory: pytest.TempPathFactory
) -> None:
    node = _node("K", lchain, tmp_path_factory.mktemp("kill9"), counter_config(), 9)
    node.start()
    try:
        issued = parties.issue()
        wait_indexed(parties, [node])
        tokens = [parties.token([lid(issued)]) for _ in range(40)]
        statements = [t.statement_hash(parties.chain_id) for t in tokens]
        answered: dict[int, dict[str, Any]] = {}

        def send(i: int) -> None:
            with contextlib.suppress(httpx.HTTPError):  # the node dies under it
                r = httpx.post(
                    node.url + "/v1/verify/presentation",
                    json={"token": tokens[i].encode()},
                    headers={"Authorization": f"Bearer {TOKENS['clerk']}"},
                    timeout=60,
                )
                if r.status_code == 200:
                    answered[i] = r.json()

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(tokens))]
        for th in threads:
            th.start()
        wait_for(lambda: len(answered) >= 5, timeout=60)
        assert node.proc is not None
        os.killpg(node.proc.pid, signal.SIGKILL)
        node.proc.wait(timeout=10)
        node.proc = None
        for th in threads:
            th.join(timeout=60)
        lost = len(tokens) - len(answered)
        node.start()
        book = ledger(parties)
        key = dev_account(9).address

        def spent_by_k() -> list[int]:
            return [
                i
                for i, s in enumerate(statements)
                if (x := book.spent_by(s)) is not None and x.verifier == key
            ]

        def all_recorded() -> bool:
            for i in spent_by_k():
                checks = node.ok(node.get(f"/v1/presentations/0x{statements[i].hex()}"))
                valid = [c for c in checks["verifications"] if c["verdict"] == "VALID"]
                if (
                    len(valid) != 1
                    or node.get(f"/v1/verifications/{valid[0]['id']}").status_code != 200
                ):
                    return False
            return True

        # the reconciler finishes what the kill left pending, within seconds of the start
        wait_for(all_recorded, timeout=30)
        spent = spent_by_k()
        assert len(spent) >= len([a for a in answered.values() if a["verdict"] == "VALID"])
        assert all(a["verdict"] == "VALID" for a in answered.values()), answered
        # every token, presented again: refused, and the first verification it names exists
        for i, t in enumerate(tokens):
            got = check(node, t.encode())
            if i in spent:
                assert codes(got) == ["REPLAYED"], got
                first = got["reasons"][0]["firstVerification"]
                assert node.get(f"/v1/verifications/{first}").status_code == 200
            else:  # never spent: the kill came first; the take was given back
                assert got["verdict"] == "VALID", got
        print(f"kill -9: {len(answered)} answered, {lost} lost, {len(spent)} spent by the node")
    finally:
        node.stop()


class Cut:
    """A TCP forwarder between a node and the chain that can be cut and mended (an outage)."""

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port.rstrip("/")))
        self.port = free_port()
        self.server: socket.socket | None = None
        self.conns: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def mend(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(64)
        self.server = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True).start()

    def cut(self) -> None:
        if self.server is not None:
            with contextlib.suppress(OSError):  # wakes the accept() (close alone does not)
                self.server.shutdown(socket.SHUT_RDWR)
            self.server.close()
            self.server = None
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()
        self.conns.clear()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                a, _ = srv.accept()
            except OSError:
                return
            b = socket.create_connection(self.target)
            self.conns += [a, b]
            for x, y in ((a, b), (b, a)):
                threading.Thread(target=self._pipe, args=(x, y), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def test_a_chain_outage_answers_503_and_records_nothing_as_valid(
    parties: Parties, lchain: LicenceChain, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cut = Cut(lchain.info.rpc_url)
    cut.mend()
    tmp = tmp_path_factory.mktemp("outage")
    node = Node("O", cut.url, tmp / "node-O", lchain.manifest, counter_config(), 9)
    node.start()
    try:
        issued = parties.issue()
        wait_indexed(parties, [node])
        token = parties.token([lid(issued)])
        sh = "0x" + token.statement_hash(parties.chain_id).hex()
        cut.cut()
        r = node.post("/v1/verify/presentation", TOKENS["clerk"], json={"token": token.encode()})
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "rpc_unavailable"
        assert "could not be spent on the network" in r.json()["message"]
        checks = node.ok(node.get(f"/v1/presentations/{sh}"))["verifications"]
        assert [c["verdict"] for c in checks] == ["PENDING"]  # never VALID
        assert ledger(parties).spent_by(bytes.fromhex(sh[2:])) is None
        cut.mend()
        # the reconciler finishes the record: nobody spent it, so it was not accepted and the
        # take is given back; the holder's token is then accepted once
        wait_for(
            lambda: (
                [
                    c["verdict"]
                    for c in node.ok(node.get(f"/v1/presentations/{sh}"))["verifications"]
                ]
                == ["REFUSED"]
            ),
            timeout=30,
        )
        first = node.ok(node.get(f"/v1/presentations/{sh}"))["verifications"][0]
        assert first["reasons"] == ["NOT_ACCEPTED"]
        assert node.ok(node.get(f"/v1/verifications/{first['id']}"))["record"]["verdict"] == (
            "REFUSED"
        )
        assert check(node, token.encode())["verdict"] == "VALID"
    finally:
        node.stop()
        cut.cut()
