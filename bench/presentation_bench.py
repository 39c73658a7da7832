"""Presentation verifications at the node (POST /v1/verify/presentation), beside the same
server's trivial endpoint (GET /docs) measured in the same run.

    .venv/bin/python bench/presentation_bench.py [--seconds 10] [--assets 1] [--python-client]

Starts anvil and a real `credledger up` node (demo departments and clerk), issues licences bound
to a holder address, then verifies fresh tokens (each token is single-use, so every request is a
full check: signature, the read model at one block, the durable single-use insert, the
verification record and its anchoring submission). Nothing is cached across blocks. The load
generator is `wrk` in its own process (8 connections, each request a different token from a file,
every answer checked for VALID), against the same server's trivial endpoint in the same run;
`--python-client` uses client threads in this process instead (where wrk is missing).
Writes bench/results/presentation.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the catalogue's data files
from _infra import ROOT, chain_and_node, run_wrk, write_result

from credledger.node.auth import hash_token
from credledger.node.core import presentation as pr
from credledger.node.core.chain import Chain
from credledger.node.core.manifest import addresses
from credledger.node.core.signer import dev_account
from credledger.node.core.tx import TxSender
from credledger.node.licences.catalogue import load_catalogue
from credledger.node.licences.service import register_catalogue

CLERK_TOKEN = "bench-clerk-token-" + "c" * 32
MARKET_TOKEN = "bench-market-token-" + "m" * 32
ADMIN_TOKEN = "bench-admin-token-" + "a" * 32


SEAL_PASSPHRASE = "bench-seal-passphrase"


def config(seal_keystore: Path | None = None) -> str:
    """The node's config: the market department (dev account 1) and one clerk; with
    ``seal_keystore`` the department seals its licences (registered at its first issuance) and
    every presentation check also checks the seal (docs/standards.md "E-seals")."""
    seal = (
        [
            'uscc = "11310000MB2F00001F"',
            f'seal_keystore = "{seal_keystore}"',
            f'seal_passphrase = "{SEAL_PASSPHRASE}"',
            "seal_register = true",
        ]
        if seal_keystore is not None
        else []
    )
    return (
        "\n".join(
            [
                'subject_secret = "presentation-bench-subject-secret-0123456789"',
                "[licences]",
                f'admin_token_sha256 = ["{hash_token(ADMIN_TOKEN)}"]',
                "[[departments]]",
                'name = "market"',
                "dev_account = 1",
                f'token_sha256 = ["{hash_token(MARKET_TOKEN)}"]',
                'issues = ["FOOD-OPERATION"]',
                'supervises = ["FOOD-OPERATION"]',
                *seal,
                "[[clerks]]",
                'name = "counter-1"',
                'department = "market"',
                f'token_sha256 = ["{hash_token(CLERK_TOKEN)}"]',
            ]
        )
        + "\n"
    )


def run(clients: int, items: list[object], fn: object) -> tuple[float, list[float]]:
    lock = threading.Lock()
    todo = list(items)
    lat: list[float] = []

    def worker() -> None:
        with httpx.Client(timeout=60) as c:
            while True:
                with lock:
                    if not todo:
                        return
                    item = todo.pop()
                t = time.perf_counter()
                fn(c, item)  # type: ignore[operator]
                d = time.perf_counter() - t
                with lock:
                    lat.append(d)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, lat


WRK_CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
LUA = """
tokens = {{}}
for line in io.lines("{tokens}") do tokens[#tokens + 1] = line end
i, valid, other, first_other = 0, 0, 0, nil
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {clerk}"
request = function()
  i = i + 1
  if i > #tokens then i = #tokens end
  return wrk.format(nil, nil, nil, '{{"token":"' .. tokens[i] .. '"}}')
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


def wrk(url: str, seconds: int, script: Path | None = None) -> dict[str, float]:
    out, m = run_wrk(url, seconds, WRK_CONNECTIONS, script)
    counts = re.search(r"VALID (\d+) OTHER (\d+)", out)
    return {
        "rps": m["requests_per_second"],
        "p50": m["p50_ms"],
        "p99": m["p99_ms"],
        "valid": int(counts.group(1)) if counts else -1,
        "other": int(counts.group(2)) if counts else -1,
        **(
            {"first_other": first.group(1)}
            if (first := re.search(r"FIRST OTHER (.*)", out))
            else {}
        ),
    }


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return round(1000 * xs[min(len(xs) - 1, int(q * len(xs)))], 2)


# counter.single_use: the node's own spent store, or the on-chain spend (issue 19's target)
# and the network mode's fast path: tokens whose audience names this node (`verifier:0x…`)
MODES = {
    "node": "single-use in this node",
    "network": "single-use across the network: on-chain spend",
    "network-verifier": "single-use across the network: token bound to this verifier",
}
TARGETS = {
    "node": ("≥ 300/s, p99 < 50 ms", 300),
    "network": ("≥ 500/s, p99 < 50 ms", 500),
    "network-verifier": ("≥ 500/s, p99 < 50 ms", 500),
}
COMMANDS = {
    "node": "bench/presentation_bench.py",
    "network": "bench/presentation_network_bench.py",
    "network-verifier": "bench/presentation_verifier_bench.py",
}


def mode(args: argparse.Namespace) -> str:
    return args.single_use + ("-verifier" if args.audience == "verifier" else "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=600)
    ap.add_argument("--assets", type=int, default=1)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--trivial-requests", type=int, default=1000)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "presentation.json"))
    ap.add_argument("--seconds", type=int, default=10, help="wrk: seconds per measurement")
    ap.add_argument("--python-client", action="store_true", help="client threads, not wrk")
    ap.add_argument("--quick", action="store_true", help="3 s (wrk), or 150 tokens")
    ap.add_argument(
        "--single-use",
        choices=("node", "network"),
        default="node",
        help="the node's counter.single_use (bench/presentation_network_bench.py: network)",
    )
    ap.add_argument(
        "--audience",
        choices=("none", "verifier"),
        default="none",
        help="verifier: every token names this node (GET /v1/verify/audience), the fast path",
    )
    ap.add_argument(
        "--seals",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the department seals its licences, so each check verifies an SM2 e-seal",
    )
    args = ap.parse_args()
    use_wrk = not args.python_client and shutil.which("wrk") is not None
    if args.quick:
        args.tokens, args.trivial_requests, args.seconds = 150, 300, 3
    holder = dev_account(6)
    signer = pr.ChainKeySigner(holder.key)
    cfg = Path(tempfile.mkdtemp(prefix="credledger-bench-cfg-")) / "config.toml"
    seal_keystore = None
    if args.seals:
        from credledger.node.core.keystore import save_sm2_key
        from credledger.node.core.sm2 import Sm2PrivateKey

        seal_keystore = cfg.parent / "market-seal.json"
        save_sm2_key(seal_keystore, Sm2PrivateKey.generate(), SEAL_PASSPHRASE)
    cfg.write_text(config(seal_keystore))
    env = {
        "CREDLEDGER_ANCHORING__BATCH_INTERVAL": "2",
        "CREDLEDGER_CONFIG": str(cfg),
        "CREDLEDGER_COUNTER__SINGLE_USE": args.single_use,
    }
    with chain_and_node(env=env) as running:
        url = running.node_url
        chain_id = Chain([running.rpc_url]).chain_id
        # the licence types on chain (the deployer, dev account 0, is the registry's admin)
        manifest = json.loads((running.workdir / "manifest.json").read_text())
        chain = Chain([running.rpc_url])
        register_catalogue(
            chain, addresses(manifest)["LicenceRegistry"], TxSender(chain, dev_account(0)),
            load_catalogue(),
        )  # fmt: skip
        auth = {"department": dev_account(1).address, "roles": ["issuer", "supervisor"]}
        r = httpx.post(url + "/v1/licence-types/FOOD-OPERATION/authorisations", json=auth,
                       headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60)  # fmt: skip
        assert r.status_code == 200, r.text
        assets = []
        for i in range(args.assets):
            body = {
                "type": "FOOD-OPERATION",
                "serialNumber": f"BENCH-{time.time_ns()}-{i}",
                "documentHash": "0x" + f"{i + 1:064x}",
                "validFrom": "2024-01-01",
                "validUntil": "2036-12-31",
                "holderUscc": "91310000MA1FL1234Q",
                "holderAddress": holder.address,
            }
            r = httpx.post(url + "/v1/licences", json=body, timeout=60,
                           headers={"Authorization": f"Bearer {MARKET_TOKEN}"})  # fmt: skip
            assert r.status_code == 201, r.text
            assert ("seal" in r.json()) == args.seals, r.text
            assets.append(bytes.fromhex(r.json()["licenceId"][2:]))
        headers = {"Authorization": f"Bearer {CLERK_TOKEN}"}
        audience = None
        if args.audience == "verifier":
            audience = httpx.get(url + "/v1/verify/audience", timeout=60).json()["audience"]
        if use_wrk:
            # enough fresh tokens for the node's best case (a token is valid for 120 s)
            n = max(args.tokens, 1500 * args.seconds) + 20
            tokens = [pr.create(signer, assets, chain_id, audience).encode() for _ in range(n)]
            work = Path(tempfile.mkdtemp(prefix="credledger-bench-wrk-"))
            (work / "tokens.txt").write_text("\n".join(tokens[20:]) + "\n")
            script = work / "verify.lua"
            script.write_text(LUA.format(tokens=work / "tokens.txt", clerk=CLERK_TOKEN))
            with httpx.Client(timeout=60) as c:  # warm-up
                for t in tokens[:20]:
                    r = c.post(url + "/v1/verify/presentation", json={"token": t}, headers=headers)
                    assert r.status_code == 200 and r.json()["verdict"] == "VALID", r.text
            wrk(url + "/docs", 1)
            v = wrk(url + "/v1/verify/presentation", args.seconds, script)
            t = wrk(url + "/docs", args.seconds)
            report(args, v, t)
            return
        tokens = [
            pr.create(signer, assets, chain_id, audience).encode() for _ in range(args.tokens + 20)
        ]

        def verify(c: httpx.Client, token: str) -> None:
            r = c.post(url + "/v1/verify/presentation", json={"token": token}, headers=headers)
            assert r.status_code == 200 and r.json()["verdict"] == "VALID", r.text

        def trivial(c: httpx.Client, _: int) -> None:
            assert c.get(url + "/docs").status_code == 200

        run(args.clients, list(tokens[:20]), verify)  # warm-up
        t_verify, lat_v = run(args.clients, list(tokens[20:]), verify)
        t_trivial, lat_t = run(args.clients, list(range(args.trivial_requests)), trivial)
    vps = args.tokens / t_verify
    tps = args.trivial_requests / t_trivial
    result = {
        "benchmark": "presentation verification POST /v1/verify/presentation",
        "tokens": args.tokens,
        "assets_per_token": args.assets,
        "seals_checked": args.seals,
        "clients": args.clients,
        "verifications_per_second": round(vps, 1),
        "verify_p50_ms": pct(lat_v, 0.50),
        "verify_p99_ms": pct(lat_v, 0.99),
        "verify_mean_ms": round(1000 * statistics.fmean(lat_v), 2),
        "trivial_requests_per_second": round(tps, 1),
        "trivial_p50_ms": pct(lat_t, 0.50),
        "trivial_p99_ms": pct(lat_t, 0.99),
        "verify_to_trivial_ratio": round(vps / tps, 3),
        "target": ">= 300 verifications/s on 2 cores with p99 < 50 ms",
    }
    result["summary"] = [
        {
            "benchmark": f"POST /v1/verify/presentation ({args.assets} asset, {MODES[mode(args)]}"
            + (", e-seals checked)" if args.seals else ")"),
            "result": f"{vps:,.0f} verifications/s, p50 {result['verify_p50_ms']} ms, "
            f"p99 {result['verify_p99_ms']} ms",
            "reference": f"trivial GET /docs {tps:,.0f} req/s, p99 {result['trivial_p99_ms']} ms",
            "ratio": f"{vps / tps:.3f}×",
            "target": TARGETS[mode(args)][0],
            "met": vps >= TARGETS[mode(args)][1] and result["verify_p99_ms"] < 50,
            "command": COMMANDS[mode(args)],
        }
    ]
    print(
        f"verify {vps:.1f}/s p50 {result['verify_p50_ms']} ms p99 {result['verify_p99_ms']} ms; "
        f"trivial {tps:.1f}/s p50 {result['trivial_p50_ms']} ms p99 {result['trivial_p99_ms']} ms"
    )
    write_result(args.out, result)


def report(args: argparse.Namespace, v: dict[str, float], t: dict[str, float]) -> None:
    """The wrk run's result: every answer must have been VALID (no token ran out or replayed)."""
    if v["other"] != 0:
        raise SystemExit(f"{v['other']} answers were not VALID (tokens ran out?): {v}")
    vps, tps = v["valid"] / args.seconds, t["rps"]
    result = {
        "benchmark": "presentation verification POST /v1/verify/presentation",
        "load_generator": f"wrk, 1 thread, {WRK_CONNECTIONS} connections, {args.seconds} s each",
        "assets_per_token": args.assets,
        "seals_checked": args.seals,
        "verifications": int(v["valid"]),
        "verifications_per_second": round(vps, 1),
        "verify_p50_ms": v["p50"],
        "verify_p99_ms": v["p99"],
        "trivial_requests_per_second": round(tps, 1),
        "trivial_p50_ms": t["p50"],
        "trivial_p99_ms": t["p99"],
        "verify_to_trivial_ratio": round(vps / tps, 3),
        "target": ">= 300 verifications/s on 2 cores with p99 < 50 ms",
    }
    result["summary"] = [
        {
            "benchmark": f"POST /v1/verify/presentation ({args.assets} asset, {MODES[mode(args)]}"
            + (", e-seals checked)" if args.seals else ")"),
            "result": f"{vps:,.0f} verifications/s, p50 {v['p50']} ms, p99 {v['p99']} ms",
            "reference": f"trivial GET /docs {tps:,.0f} req/s, p99 {t['p99']} ms",
            "ratio": f"{vps / tps:.3f}×",
            "target": TARGETS[mode(args)][0],
            "met": vps >= TARGETS[mode(args)][1] and v["p99"] < 50,
            "command": COMMANDS[mode(args)],
        }
    ]
    print(f"verify {vps:.1f}/s p50 {v['p50']} ms p99 {v['p99']} ms; "
          f"trivial {tps:.1f}/s p50 {t['p50']} ms p99 {t['p99']} ms")  # fmt: skip
    write_result(args.out, result)


if __name__ == "__main__":
    main()
