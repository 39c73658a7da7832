"""Proven with code we did not write (issue 22 item 4, first half): @openid4vc/openid4vp (the
OpenWallet Foundation's oid4vc-ts) acts as the holder — it parses our openid4vp:// link,
fetches our signed request object and checks it (x509_hash client id over the x5c leaf, the
JWS by the certificate's key), and submits the direct_post response; the SD-JWT VC presentation
inside is made by @sd-jwt/sd-jwt-vc with the holder's key. Our verifier answers VALID."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey

from tests.conftest import ROOT
from tests.node.openid4vp.conftest import MATTER, CredEnv, held, start, verdict

MODULES = ROOT / "hardhat-free-devnet" / "node_modules"
SCRIPT = Path(__file__).with_name("js_holder.mjs")


def _run(tmp_path: Path, job: dict[str, Any]) -> dict[str, Any]:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    run = subprocess.run(["node", str(SCRIPT), str(MODULES), str(path)], capture_output=True,
                         text=True, timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    out: dict[str, Any] = json.loads(run.stdout)
    return out


@pytest.mark.parametrize("mode", ["direct_post", "direct_post.jwt"])
def test_an_independent_holder_presents_to_our_verifier(
    cred: CredEnv, tmp_path: Path, mode: str
) -> None:
    holder = ECKey.generate_key("P-256")
    lid, vc = held(cred, holder)
    asked = start(cred, {**MATTER, "responseMode": mode})
    job = {
        "authorizationRequest": asked.answer["authorizationRequest"],
        "credential": vc,
        "holderPrivateJwk": holder.as_dict(private=True),
    }
    out = _run(tmp_path, job)
    assert out["client"]["prefix"] == "x509_hash" and out["jarSigner"] == "x5c", out
    assert out["request"]["nonce"] == asked.request["nonce"]
    assert out["responseMode"] == mode and asked.request["response_mode"] == mode
    assert out["status"] == 200 and json.loads(out["body"]) == {}, out
    got = verdict(cred, asked)
    assert got["verdict"] == "VALID", got
    (one,) = got["credentials"]
    assert one["licenceId"] == lid and one["holderBound"] is True
    assert set(one["disclosed"]) == {"name", "number", "validUntil"}
    # the library's response again: refused as a replay
    again = cred.node.client.post(
        asked.request["response_uri"],
        data={k: v if isinstance(v, str) else json.dumps(v) for k, v in out["sent"].items()},
    )
    assert again.status_code == 409 and again.json()["error"] == "replayed", again.text


def test_an_independent_holders_presentation_for_another_nonce_is_refused(
    cred: CredEnv, tmp_path: Path
) -> None:
    holder = ECKey.generate_key("P-256")
    _, vc = held(cred, holder)
    asked = start(cred)
    job = {
        "authorizationRequest": asked.answer["authorizationRequest"],
        "credential": vc,
        "holderPrivateJwk": holder.as_dict(private=True),
        "nonce": "a-nonce-of-another-request",
    }
    out = _run(tmp_path, job)
    assert out["status"] == 200, out
    got = verdict(cred, asked)
    assert got["verdict"] == "REFUSED" and got["reasonCodes"] == ["wrong_nonce"], got


def test_an_independent_holder_answers_credential_sets_and_claim_sets(
    cred: CredEnv, tmp_path: Path
) -> None:
    """The library resolves and checks a signed request whose DCQL query has credential_sets
    and claim_sets (it carries the query as is: choosing the option is the holder's, here
    ours — the production permit), and submits; our verifier judges that option VALID."""
    holder = ECKey.generate_key("P-256")
    lid, vc = held(cred, holder, type="FOOD-PRODUCTION")
    claims = [{"id": "n", "path": ["name"]}, {"id": "num", "path": ["number"]},
              {"id": "code", "path": ["holderCode"]}]  # fmt: skip

    def cq(cid: str, code: str) -> dict[str, Any]:
        return {"id": cid, "format": "dc+sd-jwt", "claims": claims,
                "meta": {"vct_values": [f"urn:credledger:licence-type:{code}"]},
                "claim_sets": [["n", "num"], ["code"]]}  # fmt: skip

    query = {"credentials": [cq("op", "FOOD-OPERATION"), cq("prod", "FOOD-PRODUCTION")],
             "credential_sets": [{"options": [["op"], ["prod"]]}]}  # fmt: skip
    asked = start(cred, {"dcqlQuery": query})
    job = {
        "authorizationRequest": asked.answer["authorizationRequest"],
        "credential": vc,
        "holderPrivateJwk": holder.as_dict(private=True),
        "queries": ["prod"],
    }
    out = _run(tmp_path, job)
    assert out["dcql"]["credential_sets"] == query["credential_sets"], out["dcql"]
    assert out["status"] == 200 and list(out["sent"]["vp_token"]) == ["prod"], out
    got = verdict(cred, asked)
    assert got["verdict"] == "VALID", got
    (one,) = got["credentials"]
    assert one["licenceId"] == lid and one["claimSet"] == 0, one
