"""``validUntil`` has one meaning everywhere: the last valid day.

One licence issued with ``validUntil=2031-12-31`` (on chain: the exclusive end 2032-01-01 00:00
Beijing time) shows 2031-12-31, and never 2032-01-01, on every surface a person or a program
reads: ``GET /v1/licences/{id}``, ``credledger licence show`` (text and JSON), a presentation
verdict, the clerk page's card, the enterprise page ``/e/<uscc>``, the wallet's asset API and
its page — a real node, a real wallet and a real anvil.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_cli
from tests.node.counter import conftest as counter_fixtures
from tests.node.counter.conftest import TOKENS, Parties, lid
from tests.node.licences.conftest import issue_body
from tests.wallet.conftest import new_uscc
from tests.wallet.harness import Wallet

# the counter tests' chain and node (a clerk signs in there), re-used here
lchain = counter_fixtures.lchain
counter_node = counter_fixtures.counter_node
parties = counter_fixtures.parties

LAST_DAY = "2031-12-31"
NEXT_DAY = "2032-01-01"
BEIJING = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def wallet(parties: Parties, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wallet]:
    w = Wallet(
        tmp_path_factory.mktemp("surfaces-wallet"),
        parties.lchain.info.rpc_url,
        parties.node.url,
        parties.lchain.manifest,
        relayer_dev_account=9,
    )
    w.start()
    try:
        yield w
    finally:
        w.stop()


def _shows_the_last_day(where: str, text: str) -> None:
    assert LAST_DAY in text, f"{where} does not show {LAST_DAY}"
    assert NEXT_DAY not in text, f"{where} shows the exclusive end {NEXT_DAY}"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_every_surface_shows_the_last_valid_day(
    parties: Parties, wallet: Wallet, tmp_path: Path
) -> None:
    node = parties.node
    uscc = new_uscc()
    account = wallet.register(uscc, "上海有效期测试有限公司")
    body = issue_body(uscc=uscc, holderAddress=parties.holder.address, validUntil=LAST_DAY)
    issued = node.ok(node.post("/v1/licences", TOKENS["market"], json=body), 201)
    licence_id = issued["licenceId"]
    end = int(dt.datetime(2032, 1, 1, tzinfo=BEIJING).timestamp())
    assert issued["validUntil"] == LAST_DAY and issued["validUntilExclusive"] == end
    ident = issued["identifier"]  # GB/T 36904: shown on every surface as well
    assert ident and ident.startswith("1.2.156.3005.2.")

    # the API: the licence, its history and the enterprise view
    shown = node.ok(node.get(f"/v1/licences/{licence_id}"))
    assert shown["validUntil"] == LAST_DAY
    assert shown["validUntilIso"] == "2031-12-31T23:59:59+08:00"
    assert shown["validUntilExclusive"] == end  # the contract's value, as a number
    assert shown["history"][0]["validUntil"] == LAST_DAY
    _shows_the_last_day("GET /v1/licences/{id}", json.dumps(shown))
    assert ident in json.dumps(shown), "GET /v1/licences/{id}"
    enterprise = node.ok(node.get(f"/v1/enterprises/{uscc}"))
    _shows_the_last_day("GET /v1/enterprises/{uscc}", json.dumps(enterprise))
    assert ident in json.dumps(enterprise), "GET /v1/enterprises/{uscc}"

    # the CLI
    for args in ((), ("--json",)):
        out = run_cli("licence", "show", licence_id, "--node", node.url, *args)
        assert out.returncode == 0, out.stderr
        _shows_the_last_day(f"credledger licence show {' '.join(args)}", out.stdout)
        assert ident in out.stdout, f"credledger licence show {' '.join(args)}"

    # a presentation verdict
    verdict = parties.verify(parties.token([lid(issued)]).encode())
    assert verdict["verdict"] == "VALID", verdict
    asset = verdict["assets"][0]
    assert asset["validUntil"] == asset["validLastDay"] == LAST_DAY
    _shows_the_last_day("the presentation verdict", json.dumps(verdict))
    assert ident in json.dumps(verdict), "the presentation verdict"

    # the clerk page: sign in, scan the token, read the card
    with httpx.Client(base_url=node.url, timeout=60) as clerk:
        r = clerk.post(
            "/clerk/login",
            data={"csrf": _csrf(clerk.get("/clerk").text), "token": TOKENS["clerk"]},
        )
        assert r.status_code == 303 and r.headers["location"] == "/clerk", r.text
        token = parties.token([lid(issued)]).encode()
        r = clerk.post(
            "/clerk/verify", data={"csrf": _csrf(clerk.get("/clerk").text), "token": token}
        )
        assert r.status_code == 303 and "result=" in r.headers["location"], r.text
        card = clerk.get(r.headers["location"])
        assert card.status_code == 200
        _shows_the_last_day("the clerk page", card.text)
        assert ident in card.text, "the clerk page"

    # the enterprise page
    page = httpx.get(f"{node.url}/e/{uscc}", timeout=60)
    assert page.status_code == 200
    _shows_the_last_day("/e/<uscc>", page.text)
    assert ident in page.text, "/e/<uscc>"

    # the wallet: its asset API and its page
    session = wallet.login(uscc)
    assets = wallet.ok(wallet.get("/v1/assets", session))
    mine = [x for x in assets["licences"] if x["licenceId"] == licence_id]
    assert mine and mine[0]["validUntil"] == LAST_DAY, assets
    _shows_the_last_day("the wallet's GET /v1/assets", json.dumps(mine))
    assert ident in json.dumps(mine), "the wallet's GET /v1/assets"
    home = httpx.get(wallet.url + "/", cookies={"wallet_session": session}, timeout=60)
    assert home.status_code == 200 and account["address"] and licence_id in home.text
    _shows_the_last_day("the wallet page", home.text)
    assert ident in home.text, "the wallet page"
