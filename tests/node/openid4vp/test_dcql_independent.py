"""Our DCQL matcher (node/openid4vp/dcql.py) against one we did not write: the `dcql` npm package
(OpenWallet Foundation dcql-ts, 3.0.0), over the same cases — which queries are valid
(credential_sets and claim_sets naming what exists) and which presented claims satisfy a query
(one option of each required set, one claim set in full; the first claim set met). The package is
a pinned dev dependency of hardhat-free-devnet (``make setup`` installs it); another
node_modules may be named by CREDLEDGER_DCQL_MODULES. Missing, the test fails: it never skips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from credledger.node.core.errors import InputError
from credledger.node.openid4vp import dcql
from tests.conftest import ROOT

MODULES = Path(
    os.environ.get("CREDLEDGER_DCQL_MODULES") or ROOT / "hardhat-free-devnet" / "node_modules"
)
SCRIPT = Path(__file__).with_name("dcql_check.mjs")
OP = "urn:credledger:licence-type:FOOD-OPERATION"
PROD = "urn:credledger:licence-type:FOOD-PRODUCTION"
NAME = [{"path": ["name"]}, {"path": ["number"]}]
CLAIMS = [{"id": "n", "path": ["name"]}, {"id": "num", "path": ["number"]},
          {"id": "code", "path": ["holderCode"]}]  # fmt: skip


def _cq(cid: str, vct: str, claims: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": cid, "format": "dc+sd-jwt", "meta": {"vct_values": [vct]}, "claims": claims,
            **extra}  # fmt: skip


EITHER = {"credentials": [_cq("op", OP, NAME), _cq("prod", PROD, NAME)],
          "credential_sets": [{"options": [["op"], ["prod"]]}]}  # fmt: skip
BOTH_OR_PROD = {"credentials": [_cq("op", OP, NAME), _cq("prod", PROD, NAME)],
                "credential_sets": [{"options": [["op", "prod"], ["prod"]]},
                                    {"options": [["op"]], "required": False}]}  # fmt: skip
CLAIM_SETS = {"credentials": [_cq("lic", OP, CLAIMS, claim_sets=[["n", "num"], ["code"]])]}
FULL = {"name": "x", "number": "1", "holderCode": "9131"}

CASES: list[tuple[dict[str, Any], dict[str, Any] | None]] = [
    (EITHER, {"prod": {"vct": PROD, **FULL}}),
    (EITHER, {"op": {"vct": OP, "name": "x", "number": "1"}}),
    (EITHER, {"op": {"vct": PROD, **FULL}}),  # the wrong type under op
    (EITHER, {"prod": {"vct": PROD, "name": "x"}}),  # a claim missing
    (BOTH_OR_PROD, {"op": {"vct": OP, **FULL}}),  # only the optional set
    (BOTH_OR_PROD, {"prod": {"vct": PROD, **FULL}}),
    (BOTH_OR_PROD, {"op": {"vct": OP, **FULL}, "prod": {"vct": PROD, **FULL}}),
    (CLAIM_SETS, {"lic": {"vct": OP, **FULL}}),
    (CLAIM_SETS, {"lic": {"vct": OP, "holderCode": "9131"}}),
    (CLAIM_SETS, {"lic": {"vct": OP, "name": "x", "number": "1"}}),
    (CLAIM_SETS, {"lic": {"vct": OP, "name": "x", "holderCode": None}}),
    ({"credentials": [_cq("a", OP, NAME)]}, {"a": {"vct": OP, "name": "x", "number": "1"}}),
    ({"credentials": [_cq("a", OP, NAME), _cq("b", PROD, NAME)]},
     {"a": {"vct": OP, "name": "x", "number": "1"}}),  # without sets every query is needed
    # validity alone
    ({"credentials": [_cq("a", OP, NAME)], "credential_sets": [{"options": [["b"]]}]}, None),
    ({"credentials": [_cq("a", OP, NAME, claim_sets=[["x"]])]}, None),
    ({"credentials": [_cq("a", OP, CLAIMS, claim_sets=[["code"]])],
      "credential_sets": [{"options": [["a"]], "required": False, "purpose": "why"}]}, None),
]  # fmt: skip


def _ours(query: dict[str, Any], presented: dict[str, Any] | None) -> dict[str, Any]:
    try:
        q = dcql.checked(query)
    except InputError as exc:
        return {"valid": False, "error": exc.message, "satisfied": None, "claimSet": {}}
    if presented is None:
        return {"valid": True, "error": None, "satisfied": None, "claimSet": {}}
    by_id = {cq["id"]: cq for cq in q["credentials"]}
    verdicts = {}
    met = {}
    for qid, claims in presented.items():
        claims = {k: v for k, v in claims.items() if v is not None}
        verdicts[qid] = "REFUSED" if dcql.mismatches(by_id[qid], claims) else "VALID"
        if verdicts[qid] == "VALID" and by_id[qid].get("claim_sets"):
            met[qid] = dcql.claim_set_met(by_id[qid], claims)
    if q.get("credential_sets"):
        satisfied = dcql.sets_judged(q, verdicts)[0] == "VALID"
    else:
        satisfied = all(verdicts.get(qid) == "VALID" for qid in by_id)
    return {"valid": True, "error": None, "satisfied": satisfied, "claimSet": met}


def test_the_dcql_package_and_ours_agree(tmp_path: Path) -> None:
    assert shutil.which("node"), "node is missing: run `make setup`"
    assert (MODULES / "dcql" / "package.json").exists(), "npm package dcql missing: `make setup`"
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([{"query": q, "presented": p} for q, p in CASES]))
    run = subprocess.run(["node", str(SCRIPT), str(MODULES), str(path)], capture_output=True,
                         text=True, timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    theirs = json.loads(run.stdout)
    assert len(theirs) == len(CASES)
    for (query, presented), them in zip(CASES, theirs, strict=True):
        us = _ours(query, presented)
        case = json.dumps({"query": query, "presented": presented})[:400]
        assert us["valid"] == them["valid"], (case, us, them)
        assert us["satisfied"] == them["satisfied"], (case, us, them)
        assert us["claimSet"] == them["claimSet"], (case, us, them)
    assert [t["satisfied"] for t in theirs[:4]] == [True, True, False, False]  # not vacuous
