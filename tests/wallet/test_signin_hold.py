"""Sign-in that holds under a burst and cannot be turned against the rightful user (issue 19).

A wallet process of its own with the default argon2id cost (64 MiB, 3 passes), so the memory
figure is the real one: 60 concurrent wrong passwords for one account evaluate at most the limit
(the wallet's own count of evaluated passwords, ``/health`` → ``signIn.passwordChecks``), its RSS
stays within 300 MB of idle, the right password still signs in from another address (a client
socket bound to 127.0.0.2), and ``X-Forwarded-For`` from an address that is not a configured
proxy changes nothing. Page forms from another origin are refused (403) whatever their token.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from credledger.wallet.web.common import SESSION_COOKIE, csrf_of
from tests.support.slow_headers import trickle
from tests.wallet.conftest import BANK, Enterprise, WalletEnv, new_uscc
from tests.wallet.harness import PASSWORD, Wallet

pytestmark = pytest.mark.chain

LIMIT = 5  # security.login_failures (default)
REAL_KDF = {
    "CREDLEDGER_WALLET_SECURITY__ARGON2_MEMORY_KIB": str(64 * 1024),
    "CREDLEDGER_WALLET_SECURITY__ARGON2_TIME_COST": "3",
}
PROXY = "127.0.0.9"  # the one trusted proxy of the test's wallet


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def checks(w: Wallet) -> int:
    return int(w.ok(w.get("/health"))["signIn"]["passwordChecks"])


def client_from(w: Wallet, address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (127.0.0.x are all this machine)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=w.url, timeout=120, transport=transport)


def test_a_burst_of_wrong_passwords_is_bounded_and_locks_nobody_else_out(
    wenv: WalletEnv, tmp_path: Path
) -> None:
    env = {**REAL_KDF, "CREDLEDGER_WALLET_API__TRUSTED_PROXIES": f'["{PROXY}/32"]'}
    with wenv.own_wallet(tmp_path / "signin", relayer=4, env=env) as w:
        assert w.proc is not None
        uscc = new_uscc()
        w.register(uscc, "上海登录测试有限公司")
        idle = rss_mb(w.proc.pid)
        before = checks(w)
        wrong = {"uscc": uscc, "password": "not the password 1"}
        peak = [idle]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak.append(rss_mb(w.proc.pid))  # type: ignore[union-attr]
                stop.wait(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            with client_from(w, "127.0.0.1") as c:
                barrier = threading.Barrier(60)

                def attempt(_: int) -> int:
                    barrier.wait()
                    return c.post("/v1/sessions", json=wrong).status_code

                with ThreadPoolExecutor(60) as pool:
                    codes = list(pool.map(attempt, range(60)))
        finally:
            stop.set()
            sampler.join()
        evaluated = checks(w) - before
        print(
            f"\n60 concurrent wrong sign-ins: {codes.count(401)} x 401, {codes.count(429)} x 429, "
            f"{evaluated} evaluated; RSS idle {idle:.0f} MB, peak {max(peak):.0f} MB"
        )
        assert codes.count(401) <= LIMIT and codes.count(401) + codes.count(429) == 60, codes
        assert evaluated <= LIMIT, evaluated
        assert max(peak) - idle < 300, (idle, max(peak))

        # the right password from another address signs in; from the guessing one it waits
        with client_from(w, "127.0.0.2") as other:
            r = other.post("/v1/sessions", json={"uscc": uscc, "password": PASSWORD})
            assert r.status_code == 201, r.text
        with client_from(w, "127.0.0.1") as same:
            r = same.post("/v1/sessions", json={"uscc": uscc, "password": PASSWORD})
            assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0

        # a rotated X-Forwarded-For from an address that is not a trusted proxy changes nothing:
        # the guessing address is still the one counted (nothing more is evaluated)
        before = checks(w)
        with client_from(w, "127.0.0.1") as c:
            for i in range(10):
                r = c.post("/v1/sessions", json=wrong,
                           headers={"X-Forwarded-For": f"203.0.113.{i}"})  # fmt: skip
                assert r.status_code == 429
        assert checks(w) == before
        # a fresh account, guessed from 127.0.0.3 with a new forwarded address each time: the
        # limit of that one address holds
        fresh = new_uscc()
        w.register(fresh, "上海登录测试二有限公司")
        before = checks(w)
        with client_from(w, "127.0.0.3") as c:
            codes = [
                c.post("/v1/sessions", json={"uscc": fresh, "password": "wrong password 12"},
                       headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
                for i in range(LIMIT + 3)
            ]  # fmt: skip
        assert codes == [401] * LIMIT + [429] * 3
        assert checks(w) - before == LIMIT
        # from the configured proxy, X-Forwarded-For names the client: each its own budget
        with client_from(w, PROXY) as proxy:

            def via(client: str) -> int:
                return proxy.post("/v1/sessions", json={"uscc": fresh, "password": "wrong 123456"},
                                  headers={"X-Forwarded-For": client}).status_code  # fmt: skip

            assert [via("192.0.2.1") for _ in range(LIMIT + 1)] == [401] * LIMIT + [429]
            assert via("192.0.2.2") == 401


def test_page_forms_from_another_origin_are_refused(wallet: Wallet, enterprise: Enterprise) -> None:
    tok = enterprise.token
    cookies = f"{SESSION_COOKIE}={tok}"
    form = {"csrf": csrf_of(tok), "assetId": "0x" + "11" * 32, "grantee": f"0x{BANK:040x}",
            "purpose": "AUDIT", "until": "2030-01-01", "maxUses": "1"}  # fmt: skip
    hostile = [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": wallet.url.replace("127.0.0.1", "localhost")},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": wallet.url, "Sec-Fetch-Site": "cross-site"},
    ]
    for headers in hostile:
        for lang, words in (("en", "did not come from this page"), ("zh", "并非来自本页面")):
            r = wallet.post(f"/web/grants?lang={lang}", data=form,
                            headers={"Cookie": cookies, **headers})  # fmt: skip
            assert r.status_code == 403 and 'id="refused"' in r.text, (headers, r.status_code)
            assert words in r.text
        r = wallet.post("/web/login", data={"csrf": "x", "uscc": enterprise.uscc,
                                            "password": PASSWORD}, headers=headers)  # fmt: skip
        assert r.status_code == 403 and "set-cookie" not in r.headers
    assert wallet.ok(wallet.get("/v1/grants", tok))["grants"] == []
    # the page's own origin, same-origin fetch metadata, or no such headers at all (a script
    # with the token): the form is taken (a 404 for the unknown asset, past the CSRF check)
    for headers in ({"Origin": wallet.url, "Sec-Fetch-Site": "same-origin"}, {},
                    {"Sec-Fetch-Site": "same-site"}):  # fmt: skip
        r = wallet.post("/web/grants", data=form, headers={"Cookie": cookies, **headers})
        assert r.status_code == 404 and 'id="error"' in r.text, (headers, r.status_code)
    # sign-in through the page from its own origin
    with httpx.Client(base_url=wallet.url, timeout=30) as c:
        page = c.get("/")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf
        r = c.post("/web/login", data={"csrf": csrf.group(1), "uscc": enterprise.uscc,
                                       "password": PASSWORD},
                   headers={"Origin": wallet.url})  # fmt: skip
        assert r.status_code == 303 and "wallet_session=" in r.headers["set-cookie"]


def test_slow_headers_are_cut_at_the_wallet(wallet: Wallet) -> None:
    cut = trickle(wallet.port, 20, 30)
    assert max(cut) <= 12 and min(cut) >= 9, cut
    assert wallet.get("/v1/ping").status_code == 200
