"""Selective disclosure from the wallet (issue 21 item 4): the enterprise chooses two fields, the
wallet presents an SD-JWT VC bound to the enterprise's key with a KB-JWT, and both the node and the
`sd-jwt` reference implementation verify it showing only those two fields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier

from credledger.node.core import sdjwt
from credledger.node.credentials.ids import parse_kid
from credledger.node.credentials.keys import jwk_of_raw
from tests.node.credentials.conftest import ENTERPRISE, CredEnv
from tests.wallet.harness import Wallet

AUD = "https://bank.example/verifier"


@pytest.fixture(scope="module")
def wallet(cred: CredEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wallet]:
    w = Wallet(tmp_path_factory.mktemp("cred-wallet"), cred.info.rpc_url, cred.node.url,
               cred.manifest, relayer_dev_account=7)  # fmt: skip
    w.start()
    try:
        yield w
    finally:
        w.stop()


def _licence(cred: CredEnv, holder: str | None) -> str:
    from tests.node.credentials.conftest import issue

    extra: dict[str, Any] = {"holderAddress": holder} if holder else {}
    return str(issue(cred, **extra)["licenceId"])


@pytest.fixture(scope="module")
def holder(wallet: Wallet) -> tuple[str, str]:
    """The test enterprise in the wallet: its session token and its chain address."""
    out = wallet.register(ENTERPRISE, "上海示例餐饮管理有限公司")
    return wallet.login(ENTERPRISE), str(out["address"])


def _present(wallet: Wallet, token: str, lid: str, disclose: list[str]) -> Any:
    return wallet.post("/v1/credentials/presentations", token, json={
        "licenceId": lid, "disclose": disclose, "nonce": "n-1", "audience": AUD,
    })  # fmt: skip


def _verify(cred: CredEnv, presentation: str, audience: str = AUD) -> dict[str, Any]:
    return cred.node.ok(cred.node.post("/v1/credentials/verify", json={
        "credential": presentation, "nonce": "n-1", "audience": audience}))  # fmt: skip


def test_wallet_presents_two_fields_and_verifiers_see_only_those(
    cred: CredEnv, wallet: Wallet, holder: tuple[str, str]
) -> None:
    token, address = holder
    lid = _licence(cred, address)
    body = wallet.ok(_present(wallet, token, lid, ["name", "validUntil"]), 201)
    presentation = body["presentation"]
    assert body["disclosed"] == ["name", "validUntil"]
    assert len(sdjwt.parse(presentation).disclosures) == 2
    # the node: VALID, bound to the holder, only the two fields
    v = _verify(cred, presentation)
    assert v["verdict"] == "VALID", v
    assert v["holderBound"] is True
    assert v["disclosed"] == {"name": "食品经营许可证", "validUntil": "2036-12-31"}

    # the reference implementation, with the key from the chain
    def issuer_key(iss: str, header: dict[str, Any]) -> JWK:
        key = cred.registry.department_key(parse_kid(header["kid"]).key_id)
        assert key is not None
        return JWK(**jwk_of_raw(key.public_key))

    got = SDJWTVerifier(presentation, issuer_key, expected_aud=AUD,
                        expected_nonce="n-1").get_verified_payload()  # fmt: skip
    assert {"name", "validUntil"} <= set(got) and "holderCode" not in got
    # the same presentation at another verifier fails its audience
    assert _verify(cred, presentation, "https://other.example")["verdict"] == "TAMPERED"
    # the holder key is the enterprise's, every time: a second presentation has the same cnf
    again = wallet.ok(_present(wallet, token, lid, ["number"]), 201)
    assert again["holderJwk"] == body["holderJwk"]


def test_wallet_refuses_an_unheld_licence_and_unknown_fields(
    cred: CredEnv, wallet: Wallet, holder: tuple[str, str]
) -> None:
    token, address = holder
    r = _present(wallet, token, _licence(cred, None), ["name"])
    assert r.status_code == 403, r.text
    r = _present(wallet, token, _licence(cred, address), ["shoeSize"])
    assert r.status_code == 422 and "shoeSize" in r.text, r.text
    r = _present(wallet, "", _licence(cred, address), ["name"])  # no session
    assert r.status_code == 401, r.text


def test_the_wallet_page_makes_a_presentation_with_the_ticked_fields(
    cred: CredEnv, wallet: Wallet, holder: tuple[str, str]
) -> None:
    import html
    import re

    from credledger.wallet.web.common import SESSION_COOKIE, csrf_of

    token, address = holder
    lid = _licence(cred, address)
    cookies = {"Cookie": f"{SESSION_COOKIE}={token}"}
    view = wallet.get("/?lang=zh", headers=cookies).text
    assert "开放凭证" in view and f'name="licence" value="{lid}"' in view
    r = wallet.post("/web/credentials?lang=zh", headers=cookies, data={
        "csrf": csrf_of(token), "licence": lid, "disclose": ["number", "holderName"],
        "nonce": "page-nonce", "audience": AUD})  # fmt: skip
    assert r.status_code == 200, r.text
    assert 'data-field="number"' in r.text and 'data-field="holderName"' in r.text
    found = re.search(
        r'<textarea[^>]*class="mono data presentation"[^>]*>([^<]+)</textarea>', r.text
    )
    assert found, r.text[-2000:]
    body = {"credential": html.unescape(found.group(1)), "nonce": "page-nonce", "audience": AUD}
    v = cred.node.ok(cred.node.post("/v1/credentials/verify", json=body))
    assert v["verdict"] == "VALID", v
    assert v["disclosedFields"] == ["holderName", "number"]
    # without a nonce: the reason on the page, in its language
    form = {"csrf": csrf_of(token), "licence": lid, "disclose": ["number"], "audience": AUD}
    r = wallet.post("/web/credentials?lang=zh", headers=cookies, data=form)
    assert r.status_code == 422 and 'role="alert"' in r.text
    # a forged form (no CSRF token) is refused
    r = wallet.post("/web/credentials", headers=cookies, data={"licence": lid, "nonce": "n",
                                                               "audience": AUD})  # fmt: skip
    assert r.status_code == 403


def test_the_wallet_exports_a_held_licence_as_a_vc_jwt_and_an_sd_jwt_vc(
    cred: CredEnv, wallet: Wallet, holder: tuple[str, str]
) -> None:
    """The asset view's credential files (API and page): what the node verifies VALID; another
    enterprise's licence is not exported."""
    from credledger.wallet.web.common import SESSION_COOKIE

    token, address = holder
    lid = _licence(cred, address)
    vc = wallet.get(f"/v1/credentials/{lid}?format=vc-jwt", token)
    assert vc.status_code == 200 and vc.headers["content-type"].startswith("application/vc+jwt")
    v = cred.node.ok(cred.node.post("/v1/credentials/verify", json={"credential": vc.text}))
    assert v["verdict"] == "VALID", v
    sd = wallet.get(f"/v1/credentials/{lid}?format=sd-jwt", token)
    assert sd.status_code == 200 and sdjwt.parse(sd.text).disclosures
    # the page: links under the licence, the file as an attachment
    cookies = {"Cookie": f"{SESSION_COOKIE}={token}"}
    assert f'href="/web/credentials/{lid}/vc-jwt"' in wallet.get("/?lang=en", headers=cookies).text
    page = wallet.get(f"/web/credentials/{lid}/vc-jwt", headers=cookies)
    assert page.status_code == 200 and "attachment" in page.headers["content-disposition"]
    assert page.text == vc.text or page.text.count(".") == 2
    # not signed in, or a licence the enterprise does not hold
    assert wallet.get(f"/web/credentials/{lid}/vc-jwt").status_code in (303, 401, 403)
    other = _licence(cred, None)
    assert wallet.get(f"/v1/credentials/{other}?format=vc-jwt", token).status_code in (403, 404)
