"""The credential check page (/credentials): a verifier pastes a presentation and sees the verdict
and only the disclosed fields, each marked as disclosed; in the page's language."""

from __future__ import annotations

import json
import time

from joserfc.jwk import ECKey

from credledger.node.core import sdjwt
from tests.node.credentials.conftest import TOKENS, CredEnv, issue

AUD = "https://bank.example/page"


def test_the_page_shows_the_verdict_and_only_the_disclosed_fields(cred: CredEnv) -> None:
    lid = issue(cred)["licenceId"]
    holder = ECKey.generate_key("P-256")
    jwk = {
        k: str(v) for k, v in holder.as_dict(private=False).items() if k in ("kty", "crv", "x", "y")
    }
    params = {"format": "sd-jwt", "holderJwk": json.dumps(jwk)}
    r = cred.node.get(f"/v1/licences/{lid}/credential", TOKENS["wallet"], params=params)
    assert r.status_code == 200, r.text
    shown = sdjwt.present(r.text, ["name", "validUntil"], sdjwt.signer_of(holder),
                          nonce="page-n", aud=AUD, iat=int(time.time()))  # fmt: skip
    page = cred.node.get("/credentials?lang=zh-CN")
    assert page.status_code == 200 and "核验开放凭证" in page.text
    form = {"credential": shown, "nonce": "page-n", "audience": AUD}
    out = cred.node.post("/credentials?lang=zh-CN", data=form)
    assert out.status_code == 200, out.text
    assert 'data-verdict="VALID"' in out.text
    assert 'data-field="name"' in out.text and 'data-field="validUntil"' in out.text
    assert 'data-field="holderCode"' not in out.text and "91310000MA1FL1234Q" not in out.text
    assert 'data-hidden="9"' in out.text and "已披露" in out.text
    # the wrong audience: TAMPERED
    bad = cred.node.post("/credentials", data={**form, "audience": "https://other.example"})
    assert 'data-verdict="TAMPERED"' in bad.text and 'data-field="name"' not in bad.text
    # from another site: refused before anything is checked
    cross = cred.node.post("/credentials", data=form, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    # not a credential: the reason in the page's language
    junk = cred.node.post("/credentials?lang=zh-CN", data={"credential": "a.b.c"})
    assert junk.status_code == 422 and 'role="alert"' in junk.text
