"""The materials bank: folders, dedupe, clerk filings, download, delete, limits, crash safety."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from credledger.node.core.identifiers import citizen_id_check_digit
from tests.wallet.conftest import Enterprise, WalletEnv, new_uscc
from tests.wallet.harness import CLERK_TOKEN, Wallet

pytestmark = pytest.mark.chain


@pytest.fixture
def side_wallet(wenv: WalletEnv, tmp_path: Path) -> Iterator[Wallet]:
    """A second wallet process of its own (killed and restarted by tests), small upload limit."""
    env = {"CREDLEDGER_WALLET_MATERIALS__MAX_BYTES": "200000"}
    with wenv.own_wallet(tmp_path / "side", relayer=6, env=env) as w:
        yield w


def test_folders_are_suggested_from_the_name(wallet: Wallet, enterprise: Enterprise) -> None:
    cases = {
        "2024年度审计报告.pdf": "AUDIT-REPORT",
        "Lease agreement Yangpu.pdf": "CONTRACT",
        "房屋租赁.docx": "LEASE",
        "增值税发票-001.pdf": "INVOICE",
        "法人身份证.jpg": "IDENTITY",
        "scan_0001.pdf": "OTHER",
    }
    for name, code in cases.items():
        assert wallet.ok(wallet.get("/v1/folders/suggest", params={"name": name}))["code"] == code
        m = wallet.file(enterprise.token, name, f"{name} {enterprise.uscc}".encode())
        assert m["folder"]["code"] == code, name
    explicit = wallet.file(enterprise.token, "scan.pdf", b"explicit " * 3, folder="合同")
    assert explicit["folder"] == {"code": "CONTRACT", "zh": "合同", "en": "Contracts"}
    table = wallet.ok(wallet.get("/v1/folders"))["folders"]
    assert {"营业执照", "章程", "合同", "审计报告", "身份证明", "租赁", "发票", "其他"} <= {
        f["zh"] for f in table
    }
    listed = wallet.ok(wallet.get("/v1/materials", enterprise.token, params={"folder": "合同"}))
    assert {m["folder"]["code"] for m in listed["materials"]} == {"CONTRACT"}


def test_same_bytes_same_material_and_download_delete(
    wallet: Wallet, enterprise: Enterprise, other_enterprise: Enterprise
) -> None:
    data = os.urandom(50_000)
    m = wallet.file(enterprise.token, "经营合同.pdf", data)
    assert m["documentSha256"] == "0x" + hashlib.sha256(data).hexdigest()
    assert wallet.file(enterprise.token, "renamed.pdf", data, status=200)["id"] == m["id"]
    # the same bytes in another enterprise: another material (the asset id commits to the holder)
    theirs = wallet.file(other_enterprise.token, "经营合同.pdf", data)
    assert theirs["id"] != m["id"]
    r = wallet.get(f"/v1/materials/{m['id']}/file", enterprise.token)
    assert r.status_code == 200 and r.content == data
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    # the file at rest is encrypted: its bytes are nowhere in the data dir
    for p in (wallet.data_dir / "files").rglob("*.bin"):
        assert data[:64] not in p.read_bytes()
    wallet.wait_state(enterprise.token, m["id"], "anchored")
    gone = wallet.ok(wallet.delete(f"/v1/materials/{m['id']}/file", enterprise.token))
    assert gone["fileDeleted"] and gone["state"] == "anchored"
    assert wallet.get(f"/v1/materials/{m['id']}/file", enterprise.token).status_code == 410
    assert wallet.get(f"/v1/materials/{m['id']}/receipt", enterprise.token).status_code == 200
    back = wallet.file(enterprise.token, "again.pdf", data, status=200)
    assert not back["fileDeleted"]
    assert wallet.get(f"/v1/materials/{m['id']}/file", enterprise.token).content == data


def test_clerk_files_for_an_enterprise(wallet: Wallet, enterprise: Enterprise) -> None:
    files = {"file": ("章程.pdf", b"articles filed at the counter " + enterprise.uscc.encode())}
    form = {"uscc": enterprise.uscc}
    assert wallet.post("/v1/clerk/materials", files=files, data=form).status_code == 401
    assert wallet.post("/v1/clerk/materials", "not-a-clerk", files=files,
                       data=form).status_code == 403  # fmt: skip
    assert wallet.post("/v1/clerk/materials", enterprise.token, files=files,
                       data=form).status_code == 403  # fmt: skip
    m = wallet.ok(wallet.post("/v1/clerk/materials", CLERK_TOKEN, files=files, data=form), 201)
    assert m["filedBy"] == {"kind": "clerk", "name": "Yangpu service counter"}
    mine = wallet.ok(wallet.get(f"/v1/materials/{m['id']}", enterprise.token))
    assert mine["notice"] == "filed by Yangpu service counter, awaiting your confirmation"
    assert mine["label"] is None
    wallet.wait_state(enterprise.token, m["id"], "anchored")
    done = wallet.ok(wallet.post(f"/v1/materials/{m['id']}/confirm", enterprise.token))
    assert done["state"] == "trusted" and "notice" not in done


def test_limits_and_personal_ids(side_wallet: Wallet) -> None:
    uscc = new_uscc()
    side_wallet.register(uscc, "戊公司")
    tok = side_wallet.login(uscc)
    r = side_wallet.post("/v1/materials", tok, files={"file": ("big.pdf", b"x" * 300_000)})
    assert r.status_code == 413 and r.json()["details"]["limit"] > 0
    r = side_wallet.post("/v1/materials", tok, files={"file": ("n" * 300 + ".pdf", b"x")})
    assert r.status_code == 413
    first17 = "11010519491231002"
    cid = first17 + citizen_id_check_digit(first17)
    r = side_wallet.post("/v1/materials", tok, files={"file": (f"身份证{cid}.jpg", b"x")})
    assert r.status_code == 422 and cid not in r.text
    assert (
        side_wallet.post("/v1/materials", tok, files={"file": ("empty.pdf", b"")}).status_code
        == 422
    )


def test_confirm_before_anchored_is_409(wenv: WalletEnv, tmp_path: Path) -> None:
    # a wallet whose node does not answer: its materials stay pending
    with wenv.own_wallet(tmp_path / "nonode", relayer=6, node_url="http://127.0.0.1:9") as w:
        uscc = new_uscc()
        w.register(uscc, "己公司")
        tok = w.login(uscc)
        m = w.file(tok, "contract.pdf", b"pending forever")
        time.sleep(0.5)
        r = w.post(f"/v1/materials/{m['id']}/confirm", tok)
        assert r.status_code == 409 and "not anchored" in r.json()["message"]
        assert w.get(f"/v1/materials/{m['id']}/receipt", tok).status_code == 404
        assert w.ok(w.get("/health"))["anchoring"]["lastError"]


def test_kill_9_during_filings_loses_nothing_acknowledged(side_wallet: Wallet) -> None:
    uscc = new_uscc()
    side_wallet.register(uscc, "庚公司")
    tok = side_wallet.login(uscc)
    acked: dict[str, bytes] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def filer(n: int) -> None:
        with httpx.Client(base_url=side_wallet.url, timeout=10) as c:
            i = 0
            while not stop.is_set():
                data = f"filing {n}-{i} ".encode() + os.urandom(60_000)
                i += 1
                try:
                    r = c.post("/v1/materials", files={"file": (f"f{n}-{i}.pdf", data)},
                               headers={"Authorization": f"Bearer {tok}"})  # fmt: skip
                except httpx.HTTPError:
                    return
                if r.status_code == 201:
                    with lock:
                        acked[r.json()["id"]] = data

    threads = [threading.Thread(target=filer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acked) < 8 and time.monotonic() < deadline:  # a loaded machine files slowly
        time.sleep(0.05)
    side_wallet.kill()
    stop.set()
    for t in threads:
        t.join(timeout=15)
    assert len(acked) >= 5, "too few filings before the kill to test anything"

    side_wallet.start()
    # every acknowledged filing is there, byte for byte (the session survived the restart)
    for mid, data in acked.items():
        r = side_wallet.get(f"/v1/materials/{mid}/file", tok)
        assert r.status_code == 200 and r.content == data
    # no orphan: every stored file has its row and every row its file; no temporary files left
    conn = sqlite3.connect(side_wallet.data_dir / "wallet.sqlite3")
    rows = {(str(e), i[2:]) for e, i in conn.execute("SELECT enterprise_id, id FROM materials")}
    conn.close()
    files_dir = side_wallet.data_dir / "files"
    on_disk = {(p.parent.name, p.stem) for p in files_dir.glob("*/*.bin")}
    assert on_disk == rows
    assert list((files_dir / "tmp").iterdir()) == []
    # and the filings the wallet had not yet anchored are anchored after the restart
    for mid in list(acked)[:3]:
        side_wallet.wait_state(tok, mid, "anchored")
