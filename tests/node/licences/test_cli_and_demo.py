"""The catalogue file, `credledger licence …`, `deploy --with-catalogue`, and `up`'s demo data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from stdnum.iso7064 import mod_37_36

from credledger.node.devnet import free_port
from credledger.node.licences.catalogue import load_catalogue
from tests.conftest import ROOT
from tests.node.licences.conftest import ENTERPRISE, TOKENS, LicenceChain
from tests.node.licences.harness import Node
from tests.support.node_process import UpProcess


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "credledger.node.cli", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_catalogue_has_the_business_licence_and_24_kinds_in_six_categories() -> None:
    cat = load_catalogue()
    assert len(cat.types) == 25
    assert cat.types[0].code == "BL-BUSINESS" and cat.types[0].zh == "营业执照"
    by_category: dict[str, int] = {}
    for t in cat.types[1:]:
        by_category[t.category] = by_category.get(t.category, 0) + 1
    assert by_category == {"FOOD": 4, "SE": 4, "IND": 4, "INSP": 4, "METR": 4, "MED": 4}
    names = {c.code: c.zh for c in cat.categories}
    assert [names[c] for c in ("FOOD", "SE", "IND", "INSP", "METR", "MED")] == [
        "食品餐饮", "特种设备", "工业生产", "检验检测", "计量", "药品医疗",
    ]  # fmt: skip
    assert len({t.code for t in cat.types}) == 25
    assert len({t.type_id for t in cat.types}) == 25
    assert all(t.zh and t.en for t in cat.types)


def test_cli_issue_suspend_show_verify(node_a: Node, tmp_path: Path) -> None:
    doc = tmp_path / "permit.pdf"
    doc.write_bytes(b"%PDF food permit for the CLI test " + os.urandom(8))
    env = {"CREDLEDGER_NODE_URL": node_a.url, "CREDLEDGER_TOKEN": TOKENS["market"]}
    issued = cli(
        "licence", "issue", "--type", "FOOD-OPERATION", "--serial", f"JY-CLI-{os.getpid()}",
        "--uscc", ENTERPRISE, "--document", str(doc), "--valid-from", "2025-01-01",
        "--valid-until", "2030-12-31", "--json", env=env,
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    lid = json.loads(issued.stdout)["licenceId"]
    ok = cli("licence", "verify", str(doc), "--licence", lid, env=env)
    assert ok.returncode == 0 and "VALID" in ok.stdout
    sus = cli("licence", "suspend", lid, "--reason", "1", "--note", "cli test", env=env)
    assert sus.returncode == 0, sus.stderr
    assert "SUSPENDED" in sus.stdout
    bad = cli("licence", "verify", str(doc), env={"CREDLEDGER_NODE_URL": node_a.url})
    assert bad.returncode == 1 and "SUSPENDED" in bad.stdout
    shown = cli("licence", "show", lid, env=env)
    assert shown.returncode == 0 and "SUSPENDED" in shown.stdout
    # times in the configured zone, the zone named; the last valid day as the node gives it
    assert "from 2025-01-01 00:00:00 +08:00" in shown.stdout, shown.stdout
    assert "last valid day 2030-12-31" in shown.stdout
    assert "Asia/Shanghai" in shown.stdout
    assert not re.search(r"(?<![0-9a-fA-Fx])1[0-9]{9}(?![0-9])", shown.stdout), shown.stdout
    times = re.findall(r"20\d\d-\d\d-\d\d \d\d:\d\d:\d\d \+08:00", shown.stdout)
    assert len(times) >= 4, shown.stdout  # valid from, issued, suspended since, history
    utc = cli("licence", "show", lid, env={**env, "CREDLEDGER_TIMEZONE": "UTC"})
    assert "from 2024-12-31 16:00:00 +00:00" in utc.stdout, utc.stdout
    assert "last valid day 2030-12-31" in utc.stdout  # a day is the node's, not the zone's
    refused = cli("licence", "revoke", lid, "--reason", "1", env={**env, "CREDLEDGER_TOKEN": "x"})
    assert refused.returncode != 0
    assert "401" in refused.stderr
    token = cli("licence", "token")
    assert token.returncode == 0 and "token_sha256" in token.stdout


def test_deploy_with_catalogue(lchain: LicenceChain, tmp_path: Path) -> None:
    manifest = tmp_path / "fresh.json"
    out = cli(
        "deploy", "--rpc", lchain.info.rpc_url, "--dev-account", "5",
        "--manifest", str(manifest), "--with-catalogue",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "licence types: 25 registered now" in out.stdout
    address = json.loads(manifest.read_text())["contracts"]["LicenceRegistry"]["address"]
    registry = lchain.chain.contract("LicenceRegistry", address)
    for t in load_catalogue().types:
        index, _, name = registry.functions.getType(t.type_id).call()
        assert index > 0 and json.loads(name)["code"] == t.code


def test_up_starts_with_demo_departments_and_enterprise(tmp_path: Path) -> None:
    node = UpProcess(
        tmp_path, chain_port=free_port(), manifest=tmp_path / "manifest.json", demo=None
    )
    node.start()
    base = node.url

    def two_licences(r: httpx.Response) -> bool:
        return r.status_code == 200 and len(r.json()["licences"]) == 2

    try:
        view = node.wait_ready(f"/v1/enterprises/{ENTERPRISE}", two_licences).json()
        codes = sorted(x["type"]["code"] for x in view["licences"])
        assert codes == ["BL-BUSINESS", "FOOD-OPERATION"]
        food = next(x for x in view["licences"] if x["type"]["code"] == "FOOD-OPERATION")
        # every demo licence has a GB/T 36904 identifier an independent MOD 37,36 accepts, and the
        # node finds it by it (the demo departments have their unified social credit codes)
        for x in view["licences"]:
            parts = x["identifier"].split(".")
            assert ".".join(parts[:5]) == "1.2.156.3005.2"
            assert mod_37_36.is_valid("".join(parts[5:])), x["identifier"]
            found = httpx.get(f"{base}/v1/licences/{x['identifier']}", timeout=30).json()
            assert found["licenceId"] == x["licenceId"]
            assert found["metadata"]["holderName"] and found["metadata"]["holderCode"] == ENTERPRISE
        r = httpx.post(
            f"{base}/v1/licences/{food['licenceId']}/suspend",
            headers={"Authorization": "Bearer devnet-enforcement-token"},
            json={"reasonCode": 1},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        demo_doc = tmp_path / "data" / "demo" / "food-operation.txt"
        v = httpx.post(
            f"{base}/v1/verify/document",
            headers={"Authorization": "Bearer devnet-clerk-token"},
            files={"document": demo_doc.read_bytes()},
            timeout=30,
        ).json()
        assert v["verdict"] == "SUSPENDED"
    finally:
        node.stop()
    out = node.output()
    assert "devnet-market-token" in out and "demo enterprise" in out


def test_cli_admin_registers_a_type(node_a: Node) -> None:
    env = {"CREDLEDGER_NODE_URL": node_a.url, "CREDLEDGER_TOKEN": TOKENS["admin"]}
    code = f"METR-CLI-{os.getpid()}"
    out = cli(
        "licence", "register-type", "--code", code, "--category", "METR",
        "--zh", "测试计量证书", "--en", "CLI test certificate", env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert f"registered {code}" in out.stdout
    market = node_a.health()["licences"]["departments"][0]["address"]
    grant = cli(
        "licence", "authorise", "--type", code, "--department", market, "--role", "issuer",
        env=env,
    )  # fmt: skip
    assert grant.returncode == 0, grant.stderr
    denied = cli(
        "licence", "register-type", "--code", code + "-X", "--category", "METR", "--zh", "x",
        "--en", "x", env={**env, "CREDLEDGER_TOKEN": TOKENS["market"]},
    )  # fmt: skip
    assert denied.returncode != 0 and "403" in denied.stderr
