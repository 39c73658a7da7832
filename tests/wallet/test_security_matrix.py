"""Every authenticated endpoint × every role, two enterprises, no token, expired and bad tokens.

Each row of ``ENDPOINTS`` says which principals may act (``OK``: a 2xx or a domain answer that
is not a refusal) and how the others are refused. Enterprise B acting on enterprise A's resources
must get 403 or 404, and lists must never show A's ids to B.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account import Account

from credledger.node.core.signer import dev_account
from tests.wallet.conftest import BANK, new_uscc
from tests.wallet.harness import PASSWORD, Wallet

pytestmark = pytest.mark.chain

OK = "ok"
PRINCIPALS = ("owner", "admin", "agent", "other", "none", "expired", "garbage")


@dataclass
class World:
    wallet: Wallet
    tokens: dict[str, str | None]
    a_uscc: str
    a_address: str
    material: str
    grant: str
    admin_login: str
    counter: list[int] = field(default_factory=lambda: [0])

    def unique(self, prefix: str) -> str:
        self.counter[0] += 1
        return f"{prefix}{self.counter[0]}"

    def fresh_material(self) -> str:
        data = f"fresh material {self.unique('m')} {time.time()}".encode()
        mid: str = self.wallet.file(self.tokens["owner"] or "", "fresh.pdf", data)["id"]
        return mid

    def fresh_agent(self) -> str:
        body = _agent_body(self)
        self.wallet.ok(self.wallet.post("/v1/agents", self.tokens["owner"], json=body), 201)
        login: str = body["login"]
        return login

    def fresh_grant(self) -> str:
        body = {"assetId": self.material, "grantee": Account.create().address,
                "purpose": "TENDER", "expiresAt": int(time.time()) + 3600}  # fmt: skip
        r = self.wallet.post("/v1/grants", self.tokens["owner"], json=body)
        gid: str = self.wallet.ok(r, 201)["grantId"]
        return gid


@pytest.fixture(scope="module")
def world(wallet: Wallet) -> World:
    a, b = new_uscc(), new_uscc()
    a_address = wallet.register(a, "A 公司")["address"]
    wallet.register(b, "B 公司")
    owner = wallet.login(a)
    admin_login = "matrix-admin"
    wallet.ok(wallet.post("/v1/administrators", owner,
                          json={"login": admin_login, "name": "admin", "password": PASSWORD}),
              201)  # fmt: skip
    x = wallet.file(owner, "matrix.pdf", b"matrix material " + a.encode())["id"]
    wallet.wait_state(owner, x, "anchored")
    g = wallet.ok(wallet.post("/v1/grants", owner, json={
        "assetId": x, "grantee": dev_account(BANK).address, "purpose": "AUDIT",
        "expiresAt": int(time.time()) + 3600}), 201)["grantId"]  # fmt: skip
    wallet.ok(wallet.post("/v1/agents", owner, json={
        "login": "matrix-agent", "name": "agent", "password": PASSWORD, "assets": [x],
        "actions": ["view"], "until": int(time.time()) + 3600}), 201)  # fmt: skip
    expired = wallet.login(a)
    conn = sqlite3.connect(wallet.data_dir / "wallet.sqlite3", timeout=30)
    with conn:
        conn.execute("UPDATE sessions SET expires_at=? WHERE token_hash=?",
                     (time.time() - 1, hashlib.sha256(expired.encode()).hexdigest()))  # fmt: skip
    conn.close()
    tokens: dict[str, str | None] = {
        "owner": owner,
        "admin": wallet.login(a, admin_login),
        "agent": wallet.login(a, "matrix-agent"),
        "other": wallet.login(b),
        "none": None,
        "expired": expired,
        "garbage": "clw_" + "x" * 43,
    }
    return World(wallet, tokens, a, a_address, x, g, admin_login)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: Callable[[World], str]
    expect: dict[str, Any]  # principal -> OK or a set of statuses; missing: 401 for anonymous
    body: Callable[[World], dict[str, Any]] | None = None
    files: bool = False
    # whether A's ids may appear in B's answer (never)
    list_leak_check: bool = False


def _agent_body(w: World) -> dict[str, Any]:
    return {"login": w.unique("ag"), "name": "n", "password": PASSWORD, "assets": [w.material],
            "actions": ["view"], "until": int(time.time()) + 600}  # fmt: skip


def _grant_body(w: World) -> dict[str, Any]:
    return {"assetId": w.material, "grantee": Account.create().address, "purpose": "AUDIT",
            "expiresAt": int(time.time()) + 600}  # fmt: skip


DENY = {403}
HIDDEN = {403, 404}
ALL_OK = {"owner": OK, "admin": OK, "agent": OK, "other": OK}

ENDPOINTS: dict[str, Endpoint] = {
    "me": Endpoint("GET", lambda w: "/v1/me", ALL_OK, list_leak_check=True),
    "people": Endpoint("GET", lambda w: "/v1/people", ALL_OK, list_leak_check=True),
    "add-admin": Endpoint(
        "POST", lambda w: "/v1/administrators",
        {"owner": OK, "admin": DENY, "agent": DENY, "other": OK},
        body=lambda w: {"login": w.unique("ad"), "name": "n", "password": PASSWORD},
    ),
    "add-agent": Endpoint(
        "POST", lambda w: "/v1/agents",
        {"owner": OK, "admin": OK, "agent": DENY, "other": HIDDEN}, body=_agent_body,
    ),
    "remove-agent": Endpoint(
        "DELETE", lambda w: f"/v1/people/{w.fresh_agent()}",
        {"owner": OK, "admin": OK, "agent": HIDDEN, "other": HIDDEN},
    ),
    "export-key": Endpoint(
        "POST", lambda w: "/v1/keys/export",
        {"owner": OK, "admin": OK, "agent": DENY, "other": OK},
        body=lambda w: {"password": PASSWORD, "passphrase": "a new passphrase"},
    ),
    "file": Endpoint(
        "POST", lambda w: "/v1/materials",
        {"owner": OK, "admin": OK, "agent": DENY, "other": OK}, files=True,
    ),
    "materials": Endpoint("GET", lambda w: "/v1/materials", ALL_OK, list_leak_check=True),
    "material": Endpoint(
        "GET", lambda w: f"/v1/materials/{w.material}",
        {"owner": OK, "admin": OK, "agent": OK, "other": HIDDEN},
    ),
    "receipt": Endpoint(
        "GET", lambda w: f"/v1/materials/{w.material}/receipt",
        {"owner": OK, "admin": OK, "agent": OK, "other": HIDDEN},
    ),
    "confirm": Endpoint(
        "POST", lambda w: f"/v1/materials/{w.material}/confirm",
        {"owner": OK, "admin": OK, "agent": DENY, "other": HIDDEN},
    ),
    "download": Endpoint(
        "GET", lambda w: f"/v1/materials/{w.material}/file",
        {"owner": OK, "admin": OK, "agent": OK, "other": HIDDEN},
    ),
    "delete-file": Endpoint(
        "DELETE", lambda w: f"/v1/materials/{w.fresh_material()}/file",
        {"owner": OK, "admin": OK, "agent": HIDDEN, "other": HIDDEN},
    ),
    "grant-typed-data": Endpoint(
        "POST", lambda w: "/v1/grants/typed-data",
        {"owner": OK, "admin": OK, "agent": DENY, "other": HIDDEN}, body=_grant_body,
    ),
    "grant": Endpoint(
        "POST", lambda w: "/v1/grants",
        {"owner": OK, "admin": OK, "agent": DENY, "other": HIDDEN}, body=_grant_body,
    ),
    "grants": Endpoint("GET", lambda w: "/v1/grants", ALL_OK, list_leak_check=True),
    "grant-get": Endpoint(
        "GET", lambda w: f"/v1/grants/{w.grant}",
        {"owner": OK, "admin": OK, "agent": OK, "other": HIDDEN},
    ),
    "revoke-typed-data": Endpoint(
        "POST", lambda w: f"/v1/grants/{w.grant}/revoke/typed-data",
        {"owner": OK, "admin": OK, "agent": DENY, "other": HIDDEN},
    ),
    "revoke": Endpoint(
        "POST", lambda w: f"/v1/grants/{w.fresh_grant()}/revoke",
        {"owner": OK, "admin": OK, "agent": HIDDEN, "other": HIDDEN},
    ),
    "assets": Endpoint("GET", lambda w: "/v1/assets", ALL_OK, list_leak_check=True),
    "history": Endpoint(
        "GET", lambda w: "/v1/history",
        {"owner": OK, "admin": OK, "agent": DENY, "other": OK}, list_leak_check=True,
    ),
}  # fmt: skip

# the owner goes last: some of its calls change what the others would see
ORDER = ("none", "expired", "garbage", "other", "agent", "admin", "owner")


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_endpoint_matrix(world: World, name: str) -> None:
    ep = ENDPOINTS[name]
    wrong: list[str] = []
    for who in ORDER:
        kw: dict[str, Any] = {}
        if ep.body is not None:
            kw["json"] = ep.body(world)
        if ep.files:
            kw["files"] = {"file": (f"{who}.pdf", f"{who} {time.time()}".encode())}
        r = world.wallet.request(ep.method, ep.path(world), world.tokens[who], **kw)
        expected = ep.expect.get(who, {401})
        if expected == OK:
            good = r.status_code < 400 or r.status_code in (409, 422)
        else:
            good = r.status_code in expected
        if not good:
            wrong.append(f"{who}: {r.status_code} (want {expected}) {r.text[:120]}")
        if r.status_code >= 400:
            assert r.json()["error"], r.text  # every refusal is a JSON error body
        if who == "other" and ep.list_leak_check and r.status_code == 200:
            for secret in (world.material, world.grant, world.a_address, world.a_uscc):
                assert secret.lower() not in r.text.lower(), f"B sees A's {secret} in {name}"
    assert not wrong, f"{ep.method} {name}:\n" + "\n".join(wrong)


def test_other_enterprise_changed_nothing(world: World) -> None:
    """After every refusal above, A's material and grant are as they were."""
    owner = world.tokens["owner"]
    m = world.wallet.ok(world.wallet.get(f"/v1/materials/{world.material}", owner))
    assert not m["fileDeleted"]
    g = world.wallet.ok(world.wallet.get(f"/v1/grants/{world.grant}", owner))
    assert g["state"] == "active"
