"""An SD-JWT VC implementation we did not write, in JavaScript (@sd-jwt/sd-jwt-vc from npm, the
OpenWallet Foundation's sd-jwt-js): it verifies our exported SD-JWT VC presented with a KB-JWT,
status included (it fetches the node's Token Status List), and we verify one it issued with the
department's registered key and presented with its own KB-JWT."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey

from credledger.node.core import sdjwt
from credledger.node.credentials.keys import jwk_of_raw
from tests.conftest import ROOT
from tests.node.credentials.conftest import TOKENS, CredEnv, issue

MODULES = ROOT / "hardhat-free-devnet" / "node_modules"
SCRIPT = Path(__file__).with_name("js_sd_jwt_vc.mjs")
AUD = "https://verifier.example.eu"


def _public(key: ECKey) -> dict[str, str]:
    return {
        k: str(v) for k, v in key.as_dict(private=False).items() if k in ("kty", "crv", "x", "y")
    }


def test_sd_jwt_js_verifies_ours_and_we_verify_its(cred: CredEnv, tmp_path: Path) -> None:
    lid = issue(cred)["licenceId"]
    holder = ECKey.generate_key("P-256")
    params = {"format": "sd-jwt", "holderJwk": json.dumps(_public(holder))}
    r = cred.node.get(f"/v1/licences/{lid}/credential", TOKENS["wallet"], params=params)
    assert r.status_code == 200, r.text
    ours = sdjwt.present(r.text, ["name", "number"], sdjwt.signer_of(holder),
                         nonce="js-nonce", aud=AUD, iat=int(time.time()))  # fmt: skip
    key = cred.registry.department_key(cred.key_id)
    assert key is not None
    detail = cred.node.ok(cred.node.get(f"/v1/licences/{lid}"))
    md = detail["metadata"]
    kid = sdjwt.unverified(r.text.split("~")[0])[0]["kid"]
    js_holder = ECKey.generate_key("P-256")
    claims: dict[str, Any] = {
        "iss": sdjwt.unverified(r.text.split("~")[0])[1]["iss"],
        "iat": int(time.time()),
        "vct": "urn:credledger:licence-type:FOOD-OPERATION",
        "licence_id": lid,
        "version": 1,
        "cnf": {"jwk": _public(js_holder)},
        **md,
    }
    job = tmp_path / "job.json"
    job.write_text(json.dumps({
        "issuerJwk": jwk_of_raw(key.public_key),
        "presentation": ours,
        "nonce": "js-nonce",
        "issue": {
            "privateJwk": ECKey.import_key(cred.key).as_dict(private=True),
            "kid": kid,
            "claims": claims,
            "disclose": list(md),
            "holderPrivateJwk": js_holder.as_dict(private=True),
            "present": ["holderName", "validUntil"],
            "aud": AUD,
            "nonce": "their-nonce",
        },
    }))  # fmt: skip
    run = subprocess.run(["node", str(SCRIPT), str(MODULES), str(job)], capture_output=True,
                         text=True, timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    # the library accepted ours: signature, disclosures, KB-JWT, status; only the two fields
    verified = out["verified"]
    assert "error" not in verified, verified
    assert verified["header"]["typ"] == "dc+sd-jwt"
    assert verified["kb"]["nonce"] == "js-nonce" and verified["kb"]["aud"] == AUD
    assert verified["claims"]["name"] == "食品经营许可证"
    assert verified["claims"]["number"] == md["number"]
    assert "holderCode" not in verified["claims"]
    # and we accept theirs: VALID, bound to their holder key, only their two fields
    v = cred.node.ok(cred.node.post("/v1/credentials/verify", json={
        "credential": out["issued"], "nonce": "their-nonce", "audience": AUD}))  # fmt: skip
    assert v["verdict"] == "VALID", v
    assert v["holderBound"] is True
    assert v["disclosed"] == {"holderName": md["holderName"], "validUntil": md["validUntil"]}
