"""`credledger up`'s demo seals every licence it issues: each demo department gets an SM2 seal
key (generated once into the data dir, registered on chain by the department itself), and a
restart on the same chain reuses it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from credledger.node.demo.licences import CLERK_TOKEN
from credledger.node.devnet import free_port
from tests.node.licences.conftest import ENTERPRISE
from tests.support.node_process import UpProcess


def test_demo_licences_are_sealed(tmp_path: Path) -> None:
    node = UpProcess(
        tmp_path, chain_port=free_port(), manifest=tmp_path / "manifest.json", demo=None
    )
    node.start()

    def two_licences(r: httpx.Response) -> bool:
        return r.status_code == 200 and len(r.json()["licences"]) == 2

    try:
        view = node.wait_ready(f"/v1/enterprises/{ENTERPRISE}", two_licences).json()
        key_ids = set()
        for lic in view["licences"]:
            seal = httpx.get(f"{node.url}/v1/licences/{lic['licenceId']}/seal", timeout=30)
            assert seal.status_code == 200, seal.text
            body = seal.json()
            assert body["check"]["status"] == "VALID", body
            assert body["signedDataFrom"] == "node" and body["signedData"]
            key_ids.add(body["key"]["keyId"])
        assert len(key_ids) == 1  # both issued by the market department
        demo_doc = tmp_path / "data" / "demo" / "food-operation.txt"
        v = httpx.post(
            f"{node.url}/v1/verify/document",
            files={"document": demo_doc.read_bytes()},
            timeout=30,
        ).json()
        assert v["verdict"] == "VALID" and v["seal"]["status"] == "VALID", v
        # the presentation token `up` prints: each licence's card carries its seal
        found = re.search(r"^\s+(CLP1[A-Z2-7]+)$", node.output(), re.MULTILINE)
        assert found
        p = httpx.post(
            f"{node.url}/v1/verify/presentation",
            headers={"Authorization": f"Bearer {CLERK_TOKEN}"},
            json={"token": found.group(1)},
            timeout=60,
        ).json()
        assert p["verdict"] == "VALID", p
        assert [a["seal"]["status"] for a in p["assets"]] == ["VALID", "VALID"], p
    finally:
        node.stop()
    out = node.output()
    assert "registered the market department's seal key" in out
    for name in ("market", "drugs", "enforcement"):
        assert (tmp_path / "data" / "demo" / f"seal-{name}.json").is_file()
