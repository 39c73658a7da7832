"""Issue 19 items 3 and 5 on the wallet: a citizen ID in any free-text field (presentation
audience, device label, a material's content type and file name, a person's login and name, the
enterprise's name, a sign-in login, a path) is refused with 422 (a path: 4xx) and never echoed;
afterwards it is in no SQLite file, no log and no transaction or event of the chain. Integers of
any length answer 422 with a JSON body, never 500."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from credledger.node.core import presentation as pr
from credledger.node.core.identifiers import citizen_id_check_digit, is_citizen_id
from credledger.wallet.web.common import SESSION_COOKIE, csrf_of
from tests.wallet.conftest import Enterprise, WalletEnv, new_uscc
from tests.wallet.harness import Wallet

pytestmark = [pytest.mark.chain]

BODY = "32010219800229" + "153"
CID = BODY + citizen_id_check_digit(BODY)
HUGE = "9" * 5000


def _needles() -> dict[str, bytes]:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in CID)
    return {
        "clear": CID.encode(),
        "lower x": CID.lower().encode(),
        "first 17": CID[:17].encode(),
        "full width": full_width.encode(),
        "sha256": hashlib.sha256(CID.encode()).digest(),
        "keccak": keccak(CID.encode()),
    }


def _leaks(data: bytes) -> list[str]:
    hexed = data.hex().encode()
    return [k for k, n in _needles().items() if n in data or n.hex().encode() in hexed]


def _files(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file()]


def test_a_citizen_id_is_refused_in_every_wallet_field_and_found_nowhere(
    wenv: WalletEnv, wallet: Wallet, enterprise: Enterprise
) -> None:
    assert is_citizen_id(CID)
    tok = enterprise.token
    lid = wenv.issue_licence(enterprise.uscc, enterprise.address)
    phone = pr.DeviceKeySigner.generate()
    until = int(time.time()) + 86400
    spaced = " ".join([CID[:6], CID[6:14], CID[14:]])
    attempts: list[tuple[str, str, dict[str, object]]] = [
        ("POST", "/v1/presentations", {"json": {"assetIds": [lid], "audience": f"market/{CID}"}}),
        ("POST", "/v1/presentations", {"json": {"assetIds": [lid], "audience": spaced}}),
        ("POST", "/v1/devices", {"json": {"publicKey": phone.public_key.hex(), "assetIds": [lid],
                                          "expiresAt": until, "label": f"手机 {CID}"}}),
        ("POST", "/v1/materials", {"files": {"file": ("report.pdf", b"%PDF id test",
                                                      f"text/plain; owner={CID}")}}),
        ("POST", "/v1/materials", {"files": {"file": (f"身份证{CID}.pdf", b"%PDF id test 2")}}),
        ("POST", "/v1/administrators", {"json": {"login": CID.lower(), "name": "张三",
                                                 "password": "a-long-password-1"}}),
        ("POST", "/v1/administrators", {"json": {"login": "zhang3", "name": f"张三 {CID}",
                                                 "password": "a-long-password-1"}}),
        ("POST", "/v1/agents", {"json": {"login": CID, "name": "李四", "password": "pw-pw-pw-pw-1",
                                         "assets": [lid], "actions": ["present"],
                                         "until": until}}),
    ]  # fmt: skip
    for method, path, kw in attempts:
        r = wallet.request(method, path, tok, **kw)
        assert r.status_code == 422, (path, r.status_code, r.text[:300])
        assert r.json()["error"] == "contains_citizen_id", r.text
        assert not _leaks(r.text.encode()), r.text
    # no token needed: the enterprise's name at registration, a login at sign-in
    r = wallet.post("/v1/accounts", json={"uscc": new_uscc(), "name": f"公司 {CID}",
                                          "password": "a-long-password-1"})  # fmt: skip
    assert r.status_code == 422 and not _leaks(r.content), r.text
    r = wallet.post("/v1/sessions", json={"uscc": enterprise.uscc, "login": CID.lower(),
                                          "password": "wrong-password"})  # fmt: skip
    assert r.status_code == 422 and not _leaks(r.content), r.text
    # paths and queries: 4xx, nothing echoed
    for method, path in [
        ("DELETE", f"/v1/people/{CID}"),
        ("GET", f"/v1/grants/{CID}"),
        ("GET", f"/v1/materials/{CID}"),
        ("GET", f"/v1/address-book/{CID}"),
        ("GET", f"/static/{CID}{'a' * 300}"),
        ("GET", f"/v1/folders/suggest?name={CID}.pdf"),
    ]:
        r = wallet.request(method, path, tok)
        assert r.status_code < 500 and not _leaks(r.content), (path, r.status_code, r.text[:300])
    # afterwards: in no file of the wallet or the node (SQLite, WAL, logs), in no transaction or
    # event of the chain
    wallet.stop()  # flush the WAL and the log
    try:
        files = [*_files(wallet.workdir, wenv.node.data_dir), wenv.node.log_path]
        assert any(p.suffix in (".sqlite", ".db", ".sqlite3") for p in files), files
        for p in files:
            assert not _leaks(p.read_bytes()), f"{p} holds the citizen ID"
        w3 = wenv.chain.w3
        for number in range(w3.eth.block_number + 1):
            block = w3.eth.get_block(number, full_transactions=True)
            for tx in block["transactions"]:
                assert isinstance(tx, Mapping)
                assert not _leaks(bytes(tx["input"])), f"a transaction in block {number}"
        for log in w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest"}):
            assert not _leaks(bytes(log["data"]) + b"".join(log["topics"])), "an event"
    finally:
        wallet.start()


def test_integers_of_any_length_answer_422(
    wenv: WalletEnv, wallet: Wallet, enterprise: Enterprise
) -> None:
    tok = enterprise.token
    lid = wenv.issue_licence(enterprise.uscc, enterprise.address)
    grantee = "0x" + "12" * 20
    body = {"assetId": lid, "grantee": grantee, "purpose": "LOAN-APPLICATION", "expiresAt": HUGE}
    phone = pr.DeviceKeySigner.generate()
    device = {"publicKey": phone.public_key.hex(), "assetIds": [lid], "expiresAt": HUGE}
    for path, b in [("/v1/grants", body), ("/v1/grants/typed-data", body), ("/v1/devices", device),
                    ("/v1/grants", {**body, "expiresAt": 2_000_000_000, "maxUses": HUGE}),
                    ("/v1/presentations", {"assetIds": [lid], "ttl": HUGE})]:  # fmt: skip
        r = wallet.post(path, tok, json=b)
        assert r.status_code == 422, (path, r.status_code, r.text[:300])
        assert r.json()["error"] == "invalid_input" and HUGE not in r.text, r.text[:300]
    # a raw number literal that long in the JSON body
    r = wallet.post("/v1/grants", tok, content=b'{"expiresAt": ' + HUGE.encode() + b"}",
                    headers={"Content-Type": "application/json"})  # fmt: skip
    assert 400 <= r.status_code < 500 and r.json()["error"], r.text[:300]
    # the page's grant form
    cookies = {"Cookie": f"{SESSION_COOKIE}={tok}", "Origin": wallet.url}
    form = {"csrf": csrf_of(tok), "assetId": lid, "grantee": grantee,
            "purpose": "LOAN-APPLICATION", "until": "2036-01-31", "maxUses": HUGE}  # fmt: skip
    r = wallet.post("/web/grants", headers=cookies, data=form)
    assert r.status_code in (303, 422), (r.status_code, r.text[:300])
    r = wallet.post("/web/grants", headers=cookies, data={**form, "maxUses": "1", "until": HUGE})
    assert r.status_code in (303, 422), (r.status_code, r.text[:300])


def test_any_path_is_a_4xx_never_a_500(wallet: Wallet, enterprise: Enterprise) -> None:
    from tests.node.api.test_no_personal_id import ODD_PATHS

    extra = ["/v1/grants/" + "9" * 5000, "/v1/materials/%ff", "/v1/people/" + "a" * 5000,
             "/web/grants/" + "a" * 300 + "/revoke", "/materials/" + "9" * 5000]  # fmt: skip
    for path in [*ODD_PATHS, *extra]:
        for token in (None, enterprise.token):
            r = wallet.get(path, token)
            assert r.status_code < 500, (path[:80], r.status_code, r.text[:300])
