"""OpenID4VP at the counter (issue 22 item 7): complete request → response → verdict cycles per
second at the node, with the p50 and p99 of the whole cycle and of each step, beside the same
server's trivial ``GET /v1/ping`` (wrk) measured in the same run.

    .venv/bin/python bench/openid4vp_bench.py [--quick] [--out PATH] [--clients 8]

Starts anvil and a real ``credledger up`` node with the devnet demo, binds the demo food permit
to ``--holders`` distinct holder P-256 keys (one SD-JWT VC each, through the wallet's service
token; made before the timed part). One **cycle** is what a counter system and a wallet do:

1. ``create``  — ``POST /v1/presentation-requests`` (the demo clerk's token, a named matter);
2. ``fetch``   — ``GET …/{id}/request``, the signed request object;
3. ``holder``  — the wallet's own work, no HTTP: it checks the JWS with the ``x5c`` leaf
   (joserfc), ``client_id`` = ``x509_hash`` of that leaf, ``exp``, and builds the SD-JWT VC
   presentation with a KB-JWT for the request's nonce and audience (``core.sdjwt``) — and, for
   ``direct_post.jwt``, encrypts the response (joserfc, ECDH-ES + A128GCM to
   ``client_metadata.jwks``);
4. ``respond`` — ``POST …/{id}/response`` (direct_post form, or the JWE);
5. ``verdict`` — ``GET /v1/presentation-requests/{id}``, asserted ``answered`` and VALID.

``--clients`` asyncio tasks (httpx.AsyncClient) run cycles back to back in this process, the
holders taken round-robin. The clients' CPU work shares the 2 cores with the node, so the node
process's own CPU time per cycle (``/proc``) is reported too: 1000 / that = the cycles a node core
could take with the clients elsewhere. A run with one client gives each step's latency without
queueing. Writes bench/results/openid4vp.json (``--quick``: results/quick/openid4vp.json).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from joserfc import jwe, jws
from joserfc.jwk import ECKey

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _infra import ROOT, chain_and_node, run_wrk, write_result

from credledger.node.core import sdjwt
from credledger.node.core.demo import DEMO_ENTERPRISE_USCC

WALLET_TOKEN = "devnet-wallet-token"  # the demo's wallet service (binds holder keys)
CLERK_TOKEN = "devnet-clerk-token"  # the demo clerk (starts presentation requests)
MATTER = {"licenceTypes": ["FOOD-OPERATION"], "fields": ["name", "number", "validUntil"]}
# joserfc refuses JWS headers over 512 bytes by default; the request object's x5c certificate is
# longer (~700), so the wallet's registry allows more
JAR_REGISTRY = jws.JWSRegistry(algorithms=["ES256"])
JAR_REGISTRY.max_header_length = 8192
STEPS = ("create", "fetch", "holder", "respond", "verdict")
MODES = ("direct_post", "direct_post.jwt")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc), 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``, in ms rounded to 0.01."""
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[k] * 1000, 2)


def dist(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {"p50": 0.0, "p99": 0.0, "mean": 0.0}
    mean = round(1000 * sum(seconds) / len(seconds), 2)
    return {"p50": pct(seconds, 50), "p99": pct(seconds, 99), "mean": mean}


class Holder:
    """A wallet holding one SD-JWT VC bound to its P-256 key."""

    def __init__(self, key: ECKey, vc: str) -> None:
        self.key, self.vc, self.sign = key, vc, sdjwt.signer_of(key)

    def answer(self, jar: str, now: int) -> tuple[str, dict[str, str]]:
        """Check the request object as a wallet would and build the response body: (response
        URI, form fields)."""
        header, _ = sdjwt.unverified(jar)
        assert header.get("typ") == "oauth-authz-req+jwt", header
        der = base64.b64decode(header["x5c"][0])
        leaf = x509.load_der_x509_certificate(der)
        pem = leaf.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        claims = json.loads(
            jws.deserialize_compact(jar, ECKey.import_key(pem), registry=JAR_REGISTRY).payload
        )
        client_id = "x509_hash:" + sdjwt.b64url(hashlib.sha256(der).digest())
        assert claims["client_id"] == client_id and claims["exp"] > now, claims
        assert claims["response_type"] == "vp_token", claims
        keep = [c["path"][0] for cq in claims["dcql_query"]["credentials"] for c in cq["claims"]]
        vp = sdjwt.present(self.vc, keep, self.sign, nonce=claims["nonce"], aud=client_id, iat=now)
        vp_token = {cq["id"]: [vp] for cq in claims["dcql_query"]["credentials"]}
        if claims["response_mode"] == "direct_post.jwt":
            (enc,) = claims["client_metadata"]["jwks"]["keys"]
            body = json.dumps({"vp_token": vp_token, "state": claims["state"]})
            head = {"alg": "ECDH-ES", "enc": "A128GCM", "kid": enc["kid"]}
            sealed = jwe.encrypt_compact(head, body, ECKey.import_key(enc))
            return claims["response_uri"], {"response": sealed}
        return claims["response_uri"], {"vp_token": json.dumps(vp_token), "state": claims["state"]}


async def cycle(
    c: httpx.AsyncClient, holder: Holder, mode: str, node_pid: int = 0
) -> dict[str, float]:
    """One request → response → verdict cycle: each step's seconds and, with ``node_pid`` (one
    client alone), the node process's CPU seconds in each step (``cpu_<step>``)."""
    clerk = {"Authorization": f"Bearer {CLERK_TOKEN}"}
    marks: list[tuple[float, float]] = []

    def mark() -> None:
        marks.append((time.perf_counter(), cpu_seconds(node_pid) if node_pid else 0.0))

    mark()
    r = await c.post("/v1/presentation-requests", json={**MATTER, "responseMode": mode},
                     headers=clerk)  # fmt: skip
    assert r.status_code == 201, r.text
    answer = r.json()
    mark()
    uri = parse_qs(urlsplit(answer["authorizationRequest"]).query)["request_uri"][0]
    r = await c.get(uri)
    assert r.status_code == 200, r.text
    mark()
    response_uri, form = holder.answer(r.text, int(time.time()))
    mark()
    r = await c.post(response_uri, data=form)
    assert r.status_code == 200, r.text
    mark()
    r = await c.get(f"/v1/presentation-requests/{answer['id']}", headers=clerk)
    out = r.json()
    assert out.get("state") == "answered" and out.get("verdict") == "VALID", out
    mark()
    t = {"cycle": marks[-1][0] - marks[0][0]}
    for name, (t0, c0), (t1, c1) in zip(STEPS, marks, marks[1:], strict=False):
        t[name] = t1 - t0
        if node_pid:
            t["cpu_" + name] = c1 - c0
    return t


async def drive(
    url: str, holders: list[Holder], mode: str, clients: int, seconds: float, node_pid: int
) -> dict[str, Any]:
    """``clients`` tasks run cycles for ``seconds`` after one second of warm-up."""
    timings: list[dict[str, float]] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:
        start = time.perf_counter() + 1.0
        stop = start + seconds
        cpu: dict[str, float] = {}

        async def monitor() -> None:  # CPU times at the start and the end of the window
            await asyncio.sleep(start - time.perf_counter())
            cpu["node0"], cpu["own0"] = cpu_seconds(node_pid), time.process_time()
            await asyncio.sleep(stop - time.perf_counter())
            cpu["node"] = cpu_seconds(node_pid) - cpu["node0"]
            cpu["own"] = time.process_time() - cpu["own0"]

        async def client(i: int) -> None:
            n = i
            while time.perf_counter() < stop:
                try:
                    alone = node_pid if clients == 1 else 0
                    t = await cycle(c, holders[n % len(holders)], mode, alone)
                except (AssertionError, httpx.HTTPError, KeyError) as exc:
                    errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")
                    await asyncio.sleep(0.01)
                    continue
                finally:
                    n += clients
                if start <= time.perf_counter() <= stop:  # completed in the window
                    timings.append(t)

        await asyncio.gather(monitor(), *(client(i) for i in range(clients)))
    elapsed, node_cpu, own_cpu = seconds, cpu["node"], cpu["own"]
    n = len(timings)
    out: dict[str, Any] = {
        "mode": mode,
        "clients": clients,
        "seconds": round(elapsed, 2),
        "cycles": n,
        "cycles_per_second": round(n / elapsed, 1),
        "errors": len(errors),
        **({"first_error": errors[0]} if errors else {}),
        "cycle_ms": dist([t["cycle"] for t in timings]),
        "steps_ms": {s: dist([t[s] for t in timings]) for s in STEPS},
        "node_cpu_ms_per_cycle": round(1000 * node_cpu / n, 2) if n else None,
        **(
            {
                "node_cpu_ms_by_step": {
                    s: round(1000 * sum(t["cpu_" + s] for t in timings) / n, 2) for s in STEPS
                }
            }
            if clients == 1 and n
            else {}
        ),
        "node_cpu_share": round(node_cpu / elapsed, 2),
        "client_cpu_ms_per_cycle": round(1000 * own_cpu / n, 2) if n else None,
        "client_cpu_share": round(own_cpu / elapsed, 2),
    }
    return out


def bound_holders(url: str, count: int) -> list[Holder]:
    """``count`` holder keys, each with the demo food permit exported bound to it."""
    with httpx.Client(base_url=url, timeout=60) as c:
        deadline = time.monotonic() + 120
        while True:
            r = c.get(f"/v1/enterprises/{DEMO_ENTERPRISE_USCC}")
            if r.status_code == 200 and len(r.json().get("licences", [])) == 2:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the demo licences did not appear: {r.text[:300]}")
            time.sleep(0.5)
        food = next(x for x in r.json()["licences"] if x["type"]["code"] == "FOOD-OPERATION")
        holders = []
        for _ in range(count):
            key = ECKey.generate_key("P-256")
            jwk = {k: str(v) for k, v in key.as_dict(private=False).items()
                   if k in ("kty", "crv", "x", "y")}  # fmt: skip
            got = c.get(f"/v1/licences/{food['licenceId']}/credential",
                        params={"format": "sd-jwt", "holderJwk": json.dumps(jwk)},
                        headers={"Authorization": f"Bearer {WALLET_TOKEN}"})  # fmt: skip
            assert got.status_code == 200, got.text
            holders.append(Holder(key, got.text))
    return holders


def row(loaded: dict[str, Any], single: dict[str, Any], ping: dict[str, Any]) -> dict[str, Any]:
    """One table row: both response modes under load, the node's CPU per cycle and its
    create step (one client), beside the trivial ping."""
    plain, sealed = loaded["direct_post"], loaded["direct_post.jwt"]
    alone = single["direct_post"]
    rps = ping["requests_per_second"]

    def figure(m: dict[str, Any]) -> str:
        return (
            f"{m['cycles_per_second']:,.1f} cycles/s, p50 {m['cycle_ms']['p50']:.0f} ms, "
            f"p99 {m['cycle_ms']['p99']:.0f} ms"
        )

    create = alone.get("node_cpu_ms_by_step", {}).get("create")
    return {
        "benchmark": f"OpenID4VP request → response → verdict cycles at the node "
        f"({plain['clients']} clients on the same 2 cores: POST request, GET signed request "
        "object, holder checks it and presents SD-JWT VC + KB-JWT, POST response, GET verdict "
        "VALID)",
        "result": f"direct_post {figure(plain)}; direct_post.jwt {figure(sealed)}; node CPU "
        f"{plain['node_cpu_ms_per_cycle']:.1f} / {sealed['node_cpu_ms_per_cycle']:.1f} ms per "
        f"cycle (≤ {1000 / plain['node_cpu_ms_per_cycle']:.0f} cycles/s per node core; the "
        f"create step {create:.1f} ms of it, one client)",
        "reference": f"trivial GET /v1/ping {rps:,.0f} req/s (wrk)",
        "ratio": f"{plain['cycles_per_second'] / rps:.4f}× (a cycle is 4 requests)",
        "target": "—",
        "met": None if plain["errors"] == sealed["errors"] == 0 else False,
        "command": "bench/openid4vp_bench.py",
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "openid4vp.json"))
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--holders", type=int, default=500)
    ap.add_argument("--quick", action="store_true", help="4 s per measurement, 50 holders")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.holders = 4, 50
        if "--out" not in sys.argv:
            args.out = str(ROOT / "bench" / "results" / "quick" / "openid4vp.json")
    # the wallet's routes are public (no token): the per-address limit would measure the limiter
    env = {
        "CREDLEDGER_API__RATE_LIMITS__PUBLIC_PER_MINUTE": "60000000",
        "CREDLEDGER_API__RATE_LIMITS__PUBLIC_BURST": "10000000",
    }
    load_before = [round(x, 2) for x in os.getloadavg()]
    with chain_and_node(env=env, args=["--demo"]) as running:
        url, pid = running.node_url, running.pid
        t0 = time.perf_counter()
        holders = bound_holders(url, args.holders)
        setup_s = time.perf_counter() - t0
        run_wrk(url + "/v1/ping", 1, 8)  # warm-up
        _, ping = run_wrk(url + "/v1/ping", max(3, int(args.seconds / 2)), 8)
        single = {mode: asyncio.run(drive(url, holders, mode, 1, args.seconds / 4, pid))
                  for mode in MODES}  # fmt: skip
        loaded = {mode: asyncio.run(drive(url, holders, mode, args.clients, args.seconds, pid))
                  for mode in MODES}  # fmt: skip
    for m in (*single.values(), *loaded.values()):
        print(json.dumps(m))
    print(f"ping {ping}")
    errors = sum(m["errors"] for m in (*single.values(), *loaded.values()))
    result: dict[str, Any] = {
        "benchmark": "OpenID4VP request → response → verdict cycles at the node",
        "holders": args.holders,
        "holder_exports_seconds": round(setup_s, 2),
        "load_average_before": load_before,
        "trivial_ping": ping,
        "one_client": single,
        "loaded": loaded,
        "note": "clients (asyncio + httpx, holder crypto) run in the bench process on the same "
        "2 cores as the node; node_cpu_ms_per_cycle is the node process's own CPU per cycle",
    }
    result["summary"] = [row(loaded, single, ping)]
    write_result(args.out, result)
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
