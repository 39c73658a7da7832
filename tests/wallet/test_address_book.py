"""The enterprise's address book of grantees, against a real wallet: HTTP routes (roles, checks,
errors in the one JSON shape, declared in the OpenAPI), the CLI, and the grants view, where a
grant made to a name of the book shows that name with the address as secondary text."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from credledger.node.core.db import Database
from credledger.node.core.signer import dev_account
from credledger.wallet.store import MIGRATIONS, WalletStore
from credledger.wallet.web.common import SESSION_COOKIE, csrf_of
from tests.wallet.conftest import BANK, OTHER_BANK, Enterprise, WalletEnv, new_uscc
from tests.wallet.harness import PASSWORD, Wallet, run_wallet_cli

pytestmark = pytest.mark.chain

CITIZEN_ID = "11010519491231002X"  # a valid GB 11643 number (check digit X)


def test_the_wallet_database_gets_the_address_book_table(tmp_path: Path) -> None:
    store = WalletStore(tmp_path / "wallet.sqlite3")
    try:
        assert store.version == len(MIGRATIONS) >= 2
        cols = [r["name"] for r in store.all("PRAGMA table_info(address_book)")]
        assert cols[:4] == ["id", "enterprise_id", "name", "address"]
    finally:
        store.close()
    # opening it again keeps the version (the migration runs once)
    again = Database(tmp_path / "wallet.sqlite3", MIGRATIONS)
    assert again.version == len(MIGRATIONS)
    again.close()


def test_address_book_routes(wallet: Wallet, enterprise: Enterprise) -> None:
    tok = enterprise.token
    bank, other = dev_account(BANK).address, dev_account(OTHER_BANK).address
    assert wallet.ok(wallet.get("/v1/address-book", tok)) == {"entries": []}
    assert wallet.get("/v1/address-book").status_code == 401

    added = wallet.ok(wallet.post("/v1/address-book", tok, json={
        "name": "招商银行上海分行", "address": bank.lower(), "note": "贷款"}), 201)  # fmt: skip
    assert added["address"] == bank and added["name"] == "招商银行上海分行"
    assert added["note"] == "贷款" and added["addedBy"] == "legal_rep:legal-rep"
    wallet.ok(wallet.post("/v1/address-book", tok, json={"name": "Bank of Ningbo",
                                                         "address": other}), 201)  # fmt: skip
    names = [e["name"] for e in wallet.ok(wallet.get("/v1/address-book", tok))["entries"]]
    assert names == ["Bank of Ningbo", "招商银行上海分行"]

    # the same address or name twice: 409; bad input: 422 naming the field, never a 500
    dup = wallet.post("/v1/address-book", tok, json={"name": "again", "address": bank})
    assert dup.status_code == 409 and dup.json()["error"] == "conflict"
    dup = wallet.post(
        "/v1/address-book", tok, json={"name": "bank of ningbo", "address": dev_account(5).address}
    )
    assert dup.status_code == 409
    for body, field in (
        ({"name": "x", "address": "0x1234"}, "address"),
        ({"name": "", "address": dev_account(5).address}, "name"),
        ({"name": f"张三 {CITIZEN_ID}", "address": dev_account(5).address}, "name"),
        ({"name": "ok", "address": dev_account(5).address, "note": f"身份证{CITIZEN_ID}"}, "note"),
        ({"name": "self", "address": enterprise.address}, "address"),
    ):
        r = wallet.post("/v1/address-book", tok, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["details"]["field"] == field
        assert CITIZEN_ID not in r.text  # never echoed
    extra = wallet.post("/v1/address-book", tok, json={"name": "x", "address": bank, "y": 1})
    assert extra.status_code == 422

    # rename (name and note), get, remove; unknown entries are 404
    renamed = wallet.ok(wallet.request("PATCH", f"/v1/address-book/{bank}", tok,
                                       json={"name": "招商银行", "note": ""}))  # fmt: skip
    assert renamed["name"] == "招商银行" and renamed["note"] is None
    clash = wallet.request(
        "PATCH", f"/v1/address-book/{bank}", tok, json={"name": "Bank of Ningbo"}
    )
    assert clash.status_code == 409
    assert wallet.ok(wallet.get(f"/v1/address-book/{bank.lower()}", tok))["name"] == "招商银行"
    gone = wallet.ok(wallet.delete(f"/v1/address-book/{other}", tok))["removed"]
    assert gone["name"] == "Bank of Ningbo"
    assert wallet.delete(f"/v1/address-book/{other}", tok).status_code == 404
    assert wallet.get(f"/v1/address-book/{'0x' + '0' * 40}", tok).status_code == 404
    assert wallet.get("/v1/address-book/nonsense", tok).status_code == 422

    # the changes are in the enterprise's history
    actions = [e["action"] for e in wallet.ok(wallet.get("/v1/history", tok))["events"]]
    assert {"grantee-added", "grantee-renamed", "grantee-removed"} <= set(actions)

    # another enterprise sees its own (empty) book, and cannot touch this one's entries
    uscc = new_uscc()
    wallet.register(uscc, "别家公司")
    stranger = wallet.login(uscc)
    assert wallet.ok(wallet.get("/v1/address-book", stranger)) == {"entries": []}
    assert wallet.delete(f"/v1/address-book/{bank}", stranger).status_code == 404


def test_agents_read_the_book_but_do_not_change_it(wallet: Wallet, enterprise: Enterprise) -> None:
    tok = enterprise.token
    bank = dev_account(BANK).address
    wallet.ok(wallet.post("/v1/address-book", tok, json={"name": "工商银行", "address": bank}), 201)
    admin = {"login": "bookadmin", "name": "管理员", "password": PASSWORD}
    wallet.ok(wallet.post("/v1/administrators", tok, json=admin), 201)
    atok = wallet.login(enterprise.uscc, "bookadmin")
    wallet.ok(wallet.request("PATCH", f"/v1/address-book/{bank}", atok, json={"note": "开户行"}))
    seen = wallet.file(atok, "lease.pdf", b"agent's lease " + enterprise.uscc.encode())
    agent = {"login": "bookagent", "name": "办事人", "password": PASSWORD, "assets": [seen["id"]],
             "actions": ["view"], "until": int(time.time()) + 3600}  # fmt: skip
    wallet.ok(wallet.post("/v1/agents", atok, json=agent), 201)
    gtok = wallet.login(enterprise.uscc, "bookagent")
    entries = wallet.ok(wallet.get("/v1/address-book", gtok))["entries"]
    assert [(e["name"], e["note"]) for e in entries] == [("工商银行", "开户行")]
    body = {"name": "建设银行", "address": dev_account(OTHER_BANK).address}
    assert wallet.post("/v1/address-book", gtok, json=body).status_code == 403
    assert wallet.delete(f"/v1/address-book/{bank}", gtok).status_code == 403
    patch = wallet.request("PATCH", f"/v1/address-book/{bank}", gtok, json={"name": "x"})
    assert patch.status_code == 403


def test_the_openapi_declares_the_errors(wallet: Wallet) -> None:
    paths = wallet.ok(wallet.get("/openapi.json"))["paths"]
    book = paths["/v1/address-book"]
    assert {"401", "403"} <= set(book["get"]["responses"])
    assert {"401", "403", "409", "422"} <= set(book["post"]["responses"])
    one = paths["/v1/address-book/{address}"]
    assert set(one) >= {"get", "patch", "delete"}
    assert {"403", "404", "409", "422"} <= set(one["patch"]["responses"])
    assert {"403", "404"} <= set(one["delete"]["responses"])
    schema = book["post"]["responses"]["409"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ErrorBody"}


def test_address_book_commands(wallet: Wallet, tmp_path: Path) -> None:
    env = {
        "CREDLEDGER_WALLET_URL": wallet.url,
        "CREDLEDGER_WALLET_SESSION": str(tmp_path / "session.json"),
        "CREDLEDGER_WALLET_PASSWORD": PASSWORD,
    }
    uscc = new_uscc()
    wallet.register(uscc, "通讯录公司")
    login = run_wallet_cli("login", "--uscc", uscc, env=env)
    assert login.returncode == 0 and re.search(r"session until \S+ \S+ \+08:00", login.stdout)
    bank = dev_account(BANK).address
    empty = run_wallet_cli("address-book", "list", env=env)
    assert empty.returncode == 0 and "empty" in empty.stdout
    add = run_wallet_cli("address-book", "add", "浦发银行", bank, "--note", "授信", env=env)
    assert add.returncode == 0 and "浦发银行" in add.stdout and bank in add.stdout, add.stderr
    listed = run_wallet_cli("address-book", "list", env=env)
    assert listed.returncode == 0 and "浦发银行" in listed.stdout and "授信" in listed.stdout
    renamed = run_wallet_cli("address-book", "rename", bank, "--name", "浦发", env=env)
    assert renamed.returncode == 0 and "浦发" in renamed.stdout
    twice = run_wallet_cli("address-book", "add", "again", bank, env=env)
    assert twice.returncode != 0 and "Traceback" not in twice.stderr
    assert len(twice.stderr.strip().splitlines()) == 1 and "409" in twice.stderr
    gone = run_wallet_cli("address-book", "remove", bank, env=env)
    assert gone.returncode == 0 and "removed 浦发" in gone.stdout
    # the history prints every time in the zone, the zone named (another zone: its offset)
    history = run_wallet_cli("history", env={**env, "CREDLEDGER_TIMEZONE": "Europe/London"})
    lines = [x for x in history.stdout.splitlines() if "grantee-" in x]
    assert len(lines) == 3 and all(re.match(r"\S+ \S+ \+0[01]:00 ", x) for x in lines), lines
    as_json = run_wallet_cli("address-book", "list", "--json", env=env)
    assert as_json.returncode == 0 and '"entries": []' in as_json.stdout


def test_the_grants_view_grants_by_name_and_shows_it(
    wenv: WalletEnv, wallet: Wallet, enterprise: Enterprise
) -> None:
    tok = enterprise.token
    bank = dev_account(BANK).address
    lid = wenv.issue_licence(enterprise.uscc, enterprise.address)
    cookies = {"Cookie": f"{SESSION_COOKIE}={tok}"}  # a header: per-request cookies are deprecated
    csrf = csrf_of(tok)
    # the page adds the entry, then grants to its name (the datalist offers it)
    r = wallet.post("/web/address-book", headers=cookies,
                    data={"csrf": csrf, "name": "交通银行", "address": bank})  # fmt: skip
    assert r.status_code == 303 and "msg.grantee_added" in r.headers["location"]
    view = wallet.get("/grants?lang=zh", headers=cookies).text
    assert re.search(r'<option value="交通银行">' + bank + "</option>", view)
    form = {"csrf": csrf, "assetId": lid, "grantee": "交通银行", "purpose": "LOAN-APPLICATION",
            "until": "2036-01-31", "maxUses": "1"}  # fmt: skip
    r = wallet.post("/web/grants", headers=cookies, data=form)
    assert r.status_code == 303, r.text[-2000:]
    grants = wallet.ok(wallet.get("/v1/grants", tok))["grants"]
    assert [g["grantee"] for g in grants] == [bank]
    view = wallet.get("/grants?lang=en", headers=cookies).text
    card = view[view.index(f'data-grant="{grants[0]["grantId"]}"') :]
    card = card[: card.index("</li>")]
    assert '<span class="data">交通银行</span> <small class="data mono sub">' + bank in card
    # an unknown name is refused in the page's language, naming the field
    r = wallet.post(
        "/web/grants?lang=en", headers=cookies, data={**form, "grantee": "no such bank"}
    )
    assert r.status_code == 422 and "Grantee" in r.text
    # removed from the book: the grant shows the bare address
    r = wallet.post(f"/web/address-book/{bank}/remove", headers=cookies, data={"csrf": csrf})
    assert r.status_code == 303
    view = wallet.get("/grants", headers=cookies).text
    assert "交通银行" not in view and bank in view
