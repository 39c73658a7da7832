"""Department e-seals on a real node (issue 20 item 4, docs/standards.md "E-seals").

One node acts for three departments with fresh chain keys: ``sealer`` and ``retiring`` each have
an SM2 seal key registered on chain (their licences are sealed), ``plain`` has none. A fourth
department, ``other``, exists only on chain, with a seal key of its own (the foreign key). The
tests check what a clerk, the API, the CLI and OpenSSL alone see.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from credledger.node.auth import TokenBook, hash_token
from credledger.node.core.contracts.licence_registry import (
    IssueRequest,
    LicenceRegistry,
    Seal,
    licence_id_of,
    serial_of,
)
from credledger.node.core.errors import ContractRevert
from credledger.node.core.keystore import save_sm2_key
from credledger.node.core.signer import dev_account
from credledger.node.core.sm2 import Sm2PrivateKey, der_to_rs
from credledger.node.core.tx import TxSender
from credledger.node.departments import Department, Departments
from credledger.node.licences.catalogue import type_id
from credledger.node.licences.service import authorise_departments
from tests.node.licences.conftest import ENTERPRISE, LicenceChain, document, serial, sha
from tests.node.licences.harness import SUBJECT_SECRET, Node
from tests.support.node_process import UpProcess

TYPES = ["FOOD-OPERATION", "FOOD-PRODUCTION", "SE-OPERATOR"]
SEALER_USCC = "11310000MB2F00001F"
OTHER_USCC = "11310000MB2F00002J"
CITIZEN_ID = "11010519491231002X"
PASS = "seal-test-passphrase"
TOKENS = {
    "sealer": "tok-sealer-" + "1" * 32,
    "retiring": "tok-retiring-" + "2" * 32,
    "plain": "tok-plain-" + "3" * 32,
    "clerk": "tok-seal-clerk-" + "4" * 32,
}


@dataclass
class SealWorld:
    lchain: LicenceChain
    node: Node
    registry: LicenceRegistry
    accounts: dict[str, LocalAccount]
    keys: dict[str, Sm2PrivateKey]
    key_ids: dict[str, int]
    tmp: Path

    def sender(self, name: str) -> TxSender:
        return TxSender(self.lchain.chain, self.accounts[name])


def _eth_keystore(folder: Path, name: str, account: LocalAccount) -> tuple[Path, Path]:
    ks = folder / f"{name}.json"
    ks.write_text(json.dumps(Account.encrypt(account.key, PASS)), encoding="utf-8")
    pw = folder / f"{name}.pass"
    pw.write_text(PASS, encoding="utf-8")
    return ks, pw


def _config(world_dir: Path, accounts: dict[str, LocalAccount], seal_files: dict[str, Path]) -> str:
    lines = [f'subject_secret = "{SUBJECT_SECRET}"', "", "[licences]", "admin_token_sha256 = []"]
    ks, pw = _eth_keystore(world_dir, "signer", accounts["signer"])
    lines += ["", "[signer]", f'keystore = "{ks}"', f'password_file = "{pw}"']
    for name in ("sealer", "retiring", "plain"):
        ks, pw = _eth_keystore(world_dir, name, accounts[name])
        lines += [
            "",
            "[[departments]]",
            f'name = "{name}"',
            f'display_name = "{name} 部门"',
            f'uscc = "{SEALER_USCC}"',
            f'keystore = "{ks}"',
            f'password_file = "{pw}"',
            f'token_sha256 = ["{hash_token(TOKENS[name])}"]',
            f"issues = {json.dumps(TYPES)}",
            f"supervises = {json.dumps(TYPES)}",
        ]
        if name in seal_files:
            lines += [f'seal_keystore = "{seal_files[name]}"', f'seal_passphrase = "{PASS}"']
    lines += [
        "",
        "[[clerks]]",
        'name = "seal-clerk"',
        'department = "sealer"',
        f'token_sha256 = ["{hash_token(TOKENS["clerk"])}"]',
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def world(lchain: LicenceChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SealWorld]:
    tmp = tmp_path_factory.mktemp("seals")
    chain = lchain.chain
    registry_address = lchain.contracts["LicenceRegistry"]
    names = ("sealer", "retiring", "plain", "other", "signer")
    accounts = {n: Account.create() for n in names}
    for a in accounts.values():
        lchain.rpc("anvil_setBalance", [a.address, hex(10**21)])
    admin = TxSender(chain, dev_account(0))

    def dept(name: str) -> Department:
        t = frozenset(TYPES)
        return Department(name, name, TxSender(chain, accounts[name]), t, t)

    authorise_departments(
        chain,
        registry_address,
        admin,
        Departments([dept(n) for n in ("sealer", "retiring", "plain", "other")], TokenBook()),
    )
    anchor = chain.contract("AnchorRegistry", lchain.contracts["AnchorRegistry"])
    role = anchor.functions.ANCHORER_ROLE().call()
    admin.send(anchor.functions.grantRole(role, accounts["signer"].address))

    registry = LicenceRegistry(chain, registry_address)
    keys: dict[str, Sm2PrivateKey] = {}
    key_ids: dict[str, int] = {}
    seal_files: dict[str, Path] = {}
    for name in ("sealer", "retiring", "other"):
        keys[name] = Sm2PrivateKey.generate()
        seal_files[name] = tmp / f"seal-{name}.json"
        save_sm2_key(seal_files[name], keys[name], PASS)
        bound = registry.with_sender(TxSender(chain, accounts[name]))
        key_ids[name], _ = bound.register_department_key(
            accounts[name].address, 1, keys[name].public_key().raw()
        )
    node = Node(
        "S",
        lchain.info.rpc_url,
        tmp / "node",
        lchain.manifest,
        _config(tmp, accounts, {k: v for k, v in seal_files.items() if k != "other"}),
        signer_dev_account=0,  # overridden by [signer] keystore in the config
    )
    node.start()
    try:
        yield SealWorld(lchain, node, registry, accounts, keys, key_ids, tmp)
    finally:
        node.stop()


def _issue(world: SealWorld, who: str = "sealer", **extra: Any) -> tuple[dict[str, Any], bytes]:
    doc = document("sealed")
    body: dict[str, Any] = {
        "type": "FOOD-OPERATION",
        "serialNumber": serial("S"),
        "documentHash": sha(doc),
        "validFrom": "2024-01-01",
        "validUntil": "2036-12-31",
        "holderUscc": ENTERPRISE,
        "metadata": {"holderName": "上海示例食品有限公司"},
    }
    body.update(extra)
    out = world.node.ok(world.node.post("/v1/licences", TOKENS[who], json=body), 201)
    return out, doc


def _verify(world: SealWorld, licence_id: str, doc: bytes, **extra: Any) -> dict[str, Any]:
    body = {"documentHash": sha(doc), "licenceId": licence_id, **extra}
    return world.node.ok(world.node.post("/v1/verify/document", json=body))


def _seal(world: SealWorld, licence_id: str) -> dict[str, Any]:
    return world.node.ok(world.node.get(f"/v1/licences/{licence_id}/seal"))


def test_sealed_licence_verifies_valid_with_its_seal(world: SealWorld) -> None:
    issued, doc = _issue(world)
    assert issued["seal"]["keyId"] == world.key_ids["sealer"]
    v = _verify(world, issued["licenceId"], doc)
    assert v["verdict"] == "VALID", v
    seal = v["seal"]
    assert seal["status"] == "VALID", seal
    assert seal["keyId"] == world.key_ids["sealer"]
    assert seal["department"].lower() == world.accounts["sealer"].address.lower()

    s = _seal(world, issued["licenceId"])
    assert s["algorithm"] == "SM2-with-SM3"
    assert s["distId"] == "1234567812345678"
    assert s["version"] == 1
    assert s["key"]["keyId"] == world.key_ids["sealer"]
    assert s["key"]["retiredAt"] is None
    assert s["transactionHash"] == issued["transactionHash"]
    assert s["blockNumber"] == issued["blockNumber"]
    signed = json.loads(base64.b64decode(s["signedData"]))
    assert signed == s["metadata"]
    assert signed["number"] == issued["serialNumber"]
    assert signed["holderCode"] == ENTERPRISE
    assert signed["identifier"].startswith("1.2.156.3005.2.")
    assert ".001." in signed["identifier"]
    # the signature is the on-chain (r, s), and verifies with the published public key
    r, s_ = der_to_rs(base64.b64decode(s["signature"]))
    assert (f"0x{r:064x}", f"0x{s_:064x}") == (s["r"], s["s"])
    pub = world.keys["sealer"].public_key()
    assert pub.verify(base64.b64decode(s["signedData"]), base64.b64decode(s["signature"]))
    assert s["publicKeyPem"].strip() == pub.pem().decode().strip()


def test_openssl_alone_verifies_the_seal(world: SealWorld, tmp_path: Path) -> None:
    """The exact steps of docs/standards.md "E-seals", with the system's openssl."""
    issued, _ = _issue(world)
    s = _seal(world, issued["licenceId"])
    (tmp_path / "key.pem").write_text(s["publicKeyPem"], encoding="ascii")
    (tmp_path / "signed.bin").write_bytes(base64.b64decode(s["signedData"]))
    (tmp_path / "sig.der").write_bytes(base64.b64decode(s["signature"]))
    cmd = [
        "openssl", "pkeyutl", "-verify", "-rawin", "-digest", "sm3",
        "-pkeyopt", f"distid:{s['distId']}", "-pubin", "-inkey", "key.pem",
        "-in", "signed.bin", "-sigfile", "sig.der",
    ]  # fmt: skip
    ok = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Signature Verified Successfully" in ok.stdout
    # one byte of the metadata changed: OpenSSL refuses
    tampered = base64.b64decode(s["signedData"]).replace(b'"number":"', b'"number":"X', 1)
    (tmp_path / "signed.bin").write_bytes(tampered)
    bad = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode != 0
    assert "Signature Verification Failure" in bad.stdout + bad.stderr


def test_tampered_metadata_is_refused_with_the_reason(world: SealWorld) -> None:
    issued, doc = _issue(world)
    metadata = _seal(world, issued["licenceId"])["metadata"]
    # the holder presents the metadata as sealed: VALID, checked over what was presented
    v = _verify(world, issued["licenceId"], doc, metadata=metadata)
    assert v["verdict"] == "VALID" and v["seal"]["status"] == "VALID", v
    assert "presented" in v["seal"]["reason"]
    for field, value in (("holderName", "另一家公司"), ("validUntil", "2099-12-31")):
        forged = {**metadata, field: value}
        v = _verify(world, issued["licenceId"], doc, metadata=forged)
        assert v["verdict"] == "TAMPERED", v
        assert v["seal"]["status"] == "INVALID"
        assert "does not verify" in v["seal"]["reason"]
        assert v["reasons"][0].startswith("e-seal: ")
    # another licence's (correctly sealed) metadata does not pass for this one
    other, _ = _issue(world)
    foreign_md = _seal(world, other["licenceId"])["metadata"]
    v = _verify(world, issued["licenceId"], doc, metadata=foreign_md)
    assert v["verdict"] == "TAMPERED" and "names another licence" in v["seal"]["reason"], v
    # malformed metadata: 422 with the field
    r = world.node.post(
        "/v1/verify/document",
        json={"documentHash": sha(doc), "licenceId": issued["licenceId"], "metadata": {"x": 1}},
    )
    assert r.status_code == 422 and "metadata" in r.json()["message"]


def test_batch_and_coalesced_issuances_are_sealed(world: SealWorld) -> None:
    items = [
        {
            "type": "FOOD-PRODUCTION",
            "serialNumber": serial("B"),
            "documentHash": sha(document("batch")),
            "validFrom": "2024-01-01",
            "holderUscc": ENTERPRISE,
        }
        for _ in range(3)
    ]
    r = world.node.post("/v1/licences:batch", TOKENS["sealer"], json={"licences": items})
    out = world.node.ok(r, 201)
    sealed = [_seal(world, x["licenceId"]) for x in out["licences"]]
    assert {s["transactionHash"] for s in sealed} == {out["transactionHash"]}
    for s in sealed:
        assert json.loads(base64.b64decode(s["signedData"]))["validUntil"] == "长期"
        assert s["check"]["status"] == "VALID"
    # concurrent single issuances (group commit): every one sealed
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda _: _issue(world), range(8)))
    for issued, doc in done:
        assert _verify(world, issued["licenceId"], doc)["seal"]["status"] == "VALID"


def test_amendment_is_sealed_as_the_next_version(world: SealWorld) -> None:
    issued, _ = _issue(world)
    new_doc = document("amended")
    world.node.ok(
        world.node.post(
            f"/v1/licences/{issued['licenceId']}/amend",
            TOKENS["sealer"],
            json={"documentHash": sha(new_doc), "validUntil": "2037-06-30"},
        )
    )
    s = _seal(world, issued["licenceId"])
    md = json.loads(base64.b64decode(s["signedData"]))
    assert s["version"] == 2 and ".002." in md["identifier"] and md["validUntil"] == "2037-06-30"
    v = _verify(world, issued["licenceId"], new_doc)
    assert v["verdict"] == "VALID" and v["seal"]["status"] == "VALID", v


def test_person_licence_keeps_the_citizen_id_out_of_the_node(world: SealWorld) -> None:
    doc = document("operator")
    issued, _ = _issue(
        world,
        type="SE-OPERATOR",
        documentHash=sha(doc),
        holderUscc=None,
        holderCitizenId=CITIZEN_ID,
        holderName="张三",
        metadata=None,
    )
    s = _seal(world, issued["licenceId"])
    assert s["signedData"] is None and s["signedDataFrom"] == "holder"
    assert s["metadata"]["holderCode"] != CITIZEN_ID and "*" in s["metadata"]["holderCode"]
    assert s["metadata"]["holderName"] == ""  # a person's name is not kept either
    # without the holder's metadata: the seal is sealed by the right key but not checked
    v = _verify(world, issued["licenceId"], doc)
    assert v["verdict"] == "VALID" and v["seal"]["status"] == "UNCHECKED", v
    # the holder presents the full metadata: the signature verifies
    full = {**s["metadata"], "holderCode": CITIZEN_ID, "holderName": "张三"}
    v = _verify(world, issued["licenceId"], doc, metadata=full)
    assert v["verdict"] == "VALID" and v["seal"]["status"] == "VALID", v
    assert (
        world.keys["sealer"]
        .public_key()
        .verify(
            json.dumps(full, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(),
            base64.b64decode(s["signature"]),
        )
    )
    # an amendment re-seals with the holder's ID and name given again (and only then)
    new_doc = document("operator-2")
    path = f"/v1/licences/{issued['licenceId']}/amend"
    r = world.node.post(path, TOKENS["sealer"], json={"documentHash": sha(new_doc)})
    assert r.status_code == 422 and "holderCitizenId" in r.text, r.text
    amend = {"documentHash": sha(new_doc), "holderCitizenId": CITIZEN_ID, "holderName": "张三"}
    world.node.ok(world.node.post(path, TOKENS["sealer"], json=amend))
    s2 = _seal(world, issued["licenceId"])
    assert s2["version"] == 2
    full2 = {**s2["metadata"], "holderCode": CITIZEN_ID, "holderName": "张三"}
    v = _verify(world, issued["licenceId"], new_doc, metadata=full2)
    assert v["verdict"] == "VALID" and v["seal"]["status"] == "VALID", v
    # no database file of the node holds the number or the name in clear
    for f in (world.node.data_dir).rglob("*.sqlite3*"):
        data = f.read_bytes()
        assert CITIZEN_ID.encode() not in data, f
        assert "张三".encode() not in data, f


def test_unsealed_licences(world: SealWorld) -> None:
    # a department without a seal key: VALID, seal MISSING shown; the seal route answers 404
    issued, doc = _issue(world, who="plain")
    v = _verify(world, issued["licenceId"], doc)
    assert v["verdict"] == "VALID" and v["seal"]["status"] == "MISSING", v
    r = world.node.get(f"/v1/licences/{issued['licenceId']}/seal")
    assert r.status_code == 404 and r.json()["error"] == "not_sealed"
    # a department that has a seal key issues without it (straight on chain): refused
    other = world.sender("other")
    bound = world.registry.with_sender(other)
    number = serial("U")
    doc2 = document("unsealed")
    bound.issue(
        IssueRequest(
            type_id("FOOD-OPERATION"),
            serial_of(number),
            b"\x11" * 32,
            bytes.fromhex(sha(doc2)[2:]),
            1_700_000_000,
        )
    )
    lid = "0x" + licence_id_of(type_id("FOOD-OPERATION"), serial_of(number)).hex()
    v = _verify(world, lid, doc2)
    assert v["verdict"] == "TAMPERED" and v["seal"]["status"] == "MISSING", v
    assert "no seal although" in v["seal"]["reason"]


def test_foreign_key_is_refused(world: SealWorld, tmp_path: Path) -> None:
    # on chain: the sealer cannot seal with the other department's key
    bound = world.registry.with_sender(world.sender("sealer"))
    number = serial("F")
    request = IssueRequest(
        type_id("FOOD-OPERATION"), serial_of(number), b"\x22" * 32, b"\x33" * 32, 1_700_000_000
    )
    der = world.keys["other"].sign(b"anything")
    with pytest.raises(ContractRevert) as refused:
        bound.issue_sealed(request, Seal.of(world.key_ids["other"], *der_to_rs(der)))
    assert "InvalidSealKey" in repr(refused.value) or "seal" in refused.value.message.lower()
    # a node configured with another department's seal key refuses to start, saying why
    accounts = dict(world.accounts)
    config = _config(tmp_path, accounts, {"sealer": world.tmp / "seal-other.json"})
    node = Node("F", world.lchain.info.rpc_url, tmp_path / "node", world.lchain.manifest, config, 0)
    UpProcess.start(node)  # not Node.start: it waits for a node that is ready
    try:
        assert node.proc is not None
        code = node.proc.wait(timeout=60)
        assert code != 0
        assert "seal key is not registered on chain" in node.output()
    finally:
        node.stop()


def test_retired_key_refuses_later_seals_and_keeps_earlier_ones(world: SealWorld) -> None:
    before, doc = _issue(world, who="retiring")
    assert _verify(world, before["licenceId"], doc)["seal"]["status"] == "VALID"
    world.registry.with_sender(world.sender("retiring")).retire_department_key(
        world.key_ids["retiring"]
    )
    # a seal made by the retired key now: refused with the reason (the chain refuses it)
    body = {
        "type": "FOOD-OPERATION",
        "serialNumber": serial("R"),
        "documentHash": sha(document("after")),
        "validFrom": "2024-01-01",
        "holderUscc": ENTERPRISE,
    }
    r = world.node.post("/v1/licences", TOKENS["retiring"], json=body)
    assert 400 <= r.status_code < 500, r.text
    assert "retired" in r.text.lower()
    # the seal made before the retirement stays valid, the key's retirement shown
    world.node.wait_indexed(world.lchain.chain.block_number())
    v = _verify(world, before["licenceId"], doc)
    assert v["verdict"] == "VALID" and v["seal"]["status"] == "VALID", v
    assert "retired" in v["seal"]["reason"]
    assert _seal(world, before["licenceId"])["key"]["retiredAt"]
    # a node configured with the retired key refuses to start, saying why
    tmp = world.tmp / "retired-node"
    tmp.mkdir()
    config = _config(tmp, dict(world.accounts), {"retiring": world.tmp / "seal-retiring.json"})
    node = Node("R", world.lchain.info.rpc_url, tmp / "node", world.lchain.manifest, config, 0)
    UpProcess.start(node)
    try:
        assert node.proc is not None
        assert node.proc.wait(timeout=60) != 0
        assert f"(key {world.key_ids['retiring']}) was retired on chain" in node.output()
    finally:
        node.stop()


def test_clerk_page_and_cli_show_the_seal(world: SealWorld) -> None:
    issued, doc = _issue(world)
    with httpx.Client(base_url=world.node.url, timeout=60) as c:
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/clerk").text)
        assert csrf
        r = c.post("/clerk/login", data={"csrf": csrf.group(1), "token": TOKENS["clerk"]})
        assert r.status_code == 303, r.text
        page = c.get("/clerk?lang=en").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf
        r = c.post(
            "/clerk/document",
            data={"csrf": csrf.group(1), "licenceId": issued["licenceId"]},
            files={"document": ("doc.txt", doc, "text/plain")},
        )
        assert r.status_code == 303, r.text
        html = c.get(r.headers["location"] + "&lang=en").text
        assert 'data-seal="VALID"' in html
        assert f'<span class="data">{world.key_ids["sealer"]}</span>' in html
        assert "E-seal" in html and "sealer 部门" in html
        zh = c.get(r.headers["location"] + "&lang=zh-CN").text
        assert "电子印章" in zh and "有效" in zh
    path = world.tmp / "doc.bin"
    path.write_bytes(doc)
    out = subprocess.run(
        [sys.executable, "-m", "credledger.node.cli", "licence", "verify", str(path),
         "--licence", issued["licenceId"], "--node", world.node.url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "e-seal VALID" in out.stdout and f"key {world.key_ids['sealer']}" in out.stdout


def test_devnet_seal_register_registers_at_first_issuance(world: SealWorld, tmp_path: Path) -> None:
    """``seal_register = true`` (devnets): a key the chain lacks is registered by the department
    at its first sealed issuance, and that licence is sealed by it."""
    chain = world.lchain.chain
    account = Account.create()
    world.lchain.rpc("anvil_setBalance", [account.address, hex(10**21)])
    dept = Department("lazy", "lazy", TxSender(chain, account), frozenset(TYPES), frozenset())
    authorise_departments(
        chain,
        world.lchain.contracts["LicenceRegistry"],
        TxSender(chain, dev_account(0)),
        Departments([dept], TokenBook()),
    )
    key = Sm2PrivateKey.generate()
    save_sm2_key(tmp_path / "lazy-seal.json", key, PASS)
    ks, pw = _eth_keystore(tmp_path, "lazy", account)
    token = "tok-lazy-" + "5" * 32
    config = "\n".join(
        [
            f'subject_secret = "{SUBJECT_SECRET}"',
            "[licences]",
            "admin_token_sha256 = []",
            "[[departments]]",
            'name = "lazy"',
            f'uscc = "{SEALER_USCC}"',
            f'keystore = "{ks}"',
            f'password_file = "{pw}"',
            f'token_sha256 = ["{hash_token(token)}"]',
            f"issues = {json.dumps(TYPES)}",
            f'seal_keystore = "{tmp_path / "lazy-seal.json"}"',
            "seal_register = true",
            "",
        ]
    )
    node = Node("L", world.lchain.info.rpc_url, tmp_path / "node", world.lchain.manifest, config, 5)
    node.env["CREDLEDGER_SEAL_PASSPHRASE"] = PASS  # the default variable this time
    node.start()
    try:
        assert world.registry.department_key_ids(account.address) == []
        doc = document("lazy")
        body = {
            "type": "FOOD-OPERATION",
            "serialNumber": serial("L"),
            "documentHash": sha(doc),
            "validFrom": "2024-01-01",
            "holderUscc": ENTERPRISE,
        }
        issued = node.ok(node.post("/v1/licences", token, json=body), 201)
        (key_id,) = world.registry.department_key_ids(account.address)
        assert issued["seal"]["keyId"] == key_id
        v = node.ok(
            node.post(
                "/v1/verify/document",
                json={"documentHash": sha(doc), "licenceId": issued["licenceId"]},
            )
        )
        assert v["verdict"] == "VALID" and v["seal"]["status"] == "VALID", v
    finally:
        node.stop()
