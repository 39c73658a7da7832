"""Open credentials (issue 21): SD-JWT VC presentation verifications per second at the node
(``POST /v1/credentials/verify``: issuer key and its service from the chain, the JWS, two
disclosures, the holder's KB-JWT with nonce and audience, the licence's issuer, type, number and
status from the read model) and exports per second (``GET /v1/licences/{id}/credential``), beside
the same server's trivial endpoint (``GET /docs``) in the same run.

    .venv/bin/python bench/credentials_bench.py [--quick] [--out PATH]

Starts anvil and a real ``credledger up`` node with the devnet demo (its departments' P-256
credential keys made and registered on chain), binds the demo food permit to ``--holders``
distinct holder keys (one SD-JWT VC each, through the wallet's service token) and presents each
with a KB-JWT disclosing two fields. The load generator is ``wrk`` in its own process (8
connections; each request a different holder's presentation, every answer checked for VALID).
With more holders than the verifier's key cache (4,096) every holder key is imported again, as
for a stream of strangers. Writes bench/results/credentials.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from joserfc.jwk import ECKey

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _infra import ROOT, chain_and_node, run_wrk, write_result

from credledger.node.core import sdjwt
from credledger.node.core.demo import DEMO_ENTERPRISE_USCC

WALLET_TOKEN = "devnet-wallet-token"  # the demo's wallet service (binds holder keys)
AUDIENCE = "https://bank.example/verifier"
NONCE = "bench-nonce"
CONNECTIONS = 8
TARGET_RPS = 1000
TARGET_P99_MS = 20.0

LUA = """
items = {{}}
for line in io.lines("{bodies}") do items[#items + 1] = line end
i, valid, other, first_other = 0, 0, 0, nil
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  if i > #items then i = 1 end
  return wrk.format(nil, nil, nil, items[i])
end
response = function(status, headers, body)
  if status == 200 and string.find(body, '"verdict":"VALID"', 1, true) then
    valid = valid + 1
  else
    if other == 0 then first_other = status .. " " .. string.sub(body, 1, 300) end
    other = other + 1
  end
end
threads = {{}}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("VALID %d OTHER %d\\n", t:get("valid"), t:get("other")))
    if t:get("first_other") then io.write("FIRST OTHER " .. t:get("first_other") .. "\\n") end
  end
end
"""


def wrk(url: str, seconds: int, script: Path | None = None) -> dict[str, Any]:
    out, m = run_wrk(url, seconds, CONNECTIONS, script)
    counts = re.search(r"VALID (\d+) OTHER (\d+)", out)
    first = re.search(r"FIRST OTHER (.*)", out)
    return {
        "rps": m["requests_per_second"],
        "p50": m["p50_ms"],
        "p99": m["p99_ms"],
        "non_2xx": m["non_2xx"],
        **({"valid": int(counts.group(1)), "other": int(counts.group(2))} if counts else {}),
        **({"first_other": first.group(1)} if first else {}),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "credentials.json"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--holders", type=int, default=5000)
    ap.add_argument("--quick", action="store_true", help="3 s per measurement, 300 holders")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.holders = 3, 300
        if "--out" not in sys.argv:
            args.out = str(ROOT / "bench" / "results" / "quick" / "credentials.json")
    # a verifier is public (no token): the per-address public limit would measure the limiter
    env = {
        "CREDLEDGER_API__RATE_LIMITS__PUBLIC_PER_MINUTE": "60000000",
        "CREDLEDGER_API__RATE_LIMITS__PUBLIC_BURST": "10000000",
    }
    with chain_and_node(env=env, args=["--demo"]) as running:
        url = running.node_url

        def two_licences(r: httpx.Response) -> bool:
            return r.status_code == 200 and len(r.json().get("licences", [])) == 2

        deadline = time.monotonic() + 120
        while True:
            r = httpx.get(f"{url}/v1/enterprises/{DEMO_ENTERPRISE_USCC}", timeout=30)
            if two_licences(r):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the demo licences did not appear: {r.text[:300]}")
            time.sleep(0.5)
        food = next(x for x in r.json()["licences"] if x["type"]["code"] == "FOOD-OPERATION")
        lid = food["licenceId"]
        export_url = f"{url}/v1/licences/{lid}/credential?format=sd-jwt"
        bodies = []
        t0 = time.perf_counter()
        with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {WALLET_TOKEN}"}) as c:
            for _ in range(args.holders):
                key = ECKey.generate_key("P-256")
                jwk = {k: str(v) for k, v in key.as_dict(private=False).items()
                       if k in ("kty", "crv", "x", "y")}  # fmt: skip
                got = c.get(export_url, params={"format": "sd-jwt", "holderJwk": json.dumps(jwk)})
                assert got.status_code == 200, got.text
                p = sdjwt.present(got.text, ["name", "validUntil"], sdjwt.signer_of(key),
                                  nonce=NONCE, aud=AUDIENCE, iat=int(time.time()))  # fmt: skip
                bodies.append(json.dumps({"credential": p, "nonce": NONCE, "audience": AUDIENCE}))
        bound_exports_s = time.perf_counter() - t0
        work = Path(tempfile.mkdtemp(prefix="credledger-bench-cred-"))
        (work / "bodies.txt").write_text("\n".join(bodies) + "\n")
        script = work / "verify.lua"
        script.write_text(LUA.format(bodies=work / "bodies.txt"))
        check = httpx.post(url + "/v1/credentials/verify", content=bodies[0],
                           headers={"Content-Type": "application/json"}, timeout=60)  # fmt: skip
        assert check.json()["verdict"] == "VALID", check.text
        wrk(url + "/docs", 1)  # warm-up
        verify = wrk(url + "/v1/credentials/verify", args.seconds, script)
        export = wrk(export_url, args.seconds)
        trivial = wrk(url + "/docs", args.seconds)
    met = (
        verify["rps"] >= TARGET_RPS
        and verify["p99"] < TARGET_P99_MS
        and verify.get("other", 1) == 0
    )
    result: dict[str, Any] = {
        "benchmark": "SD-JWT VC presentations verified at POST /v1/credentials/verify",
        "holders": args.holders,
        "seconds": args.seconds,
        "connections": CONNECTIONS,
        "verify": verify,
        "export_sd_jwt": export,
        "bound_exports_per_second_one_client": round(args.holders / bound_exports_s, 1),
        "trivial_docs": trivial,
        "verify_to_trivial_ratio": round(verify["rps"] / trivial["rps"], 3),
        "target": f">= {TARGET_RPS} verifications/s, p99 < {TARGET_P99_MS} ms, status included",
    }
    result["summary"] = [
        {
            "benchmark": "SD-JWT VC presentation verifications, POST /v1/credentials/verify "
            "(KB-JWT, 2 disclosures, key and status from the chain)",
            "result": f"{verify['rps']:,.0f}/s, p50 {verify['p50']} ms, p99 {verify['p99']} ms "
            f"({args.holders:,} holders)",
            "reference": f"GET /docs {trivial['rps']:,.0f} req/s",
            "ratio": f"{verify['rps'] / trivial['rps']:.2f}",
            "target": f"≥ {TARGET_RPS:,}/s, p99 < {TARGET_P99_MS:.0f} ms",
            "met": met,
            "command": "bench/credentials_bench.py",
        },
        {
            "benchmark": "SD-JWT VC exports, GET /v1/licences/{id}/credential?format=sd-jwt",
            "result": f"{export['rps']:,.0f}/s, p99 {export['p99']} ms",
            "reference": f"GET /docs {trivial['rps']:,.0f} req/s",
            "ratio": f"{export['rps'] / trivial['rps']:.2f}",
            "target": "—",
            "met": None,
            "command": "bench/credentials_bench.py",
        },
    ]
    print(json.dumps({k: result[k] for k in ("verify", "export_sd_jwt", "trivial_docs")}))
    write_result(args.out, result)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
