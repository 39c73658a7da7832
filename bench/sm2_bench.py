"""SM2 seals: verifications and signatures a second on one core, beside OpenSSL's own `speed`.

    .venv/bin/python bench/sm2_bench.py [--quick]        # bench/results/sm2.json

``credledger.node.core.sm2`` calls the system libcrypto 3 through ctypes (EVP_DigestVerify with
SM3 and the distinguishing id: Z, e = SM3(Z || M), the curve check). The reference, measured in
the same run on the same machine, is ``openssl speed sm2`` — the same library in C with no Python
around it, which signs and verifies a fixed digest of 20 bytes. Both figures are per second of
the process's **CPU time** (``openssl speed`` counts CPU time unless ``-elapsed``), so what other
processes do to the shared cores does not count; the wall-clock rate is recorded beside it.
The messages are 300 bytes (the size of a licence's canonical GB/T 36903 metadata) from 8 keys;
every signature must verify and a tampered one must not. A second verify figure starts from
what the chain holds (the key's 64-byte x||y, r and s), as a seal check does.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from credledger.node.core.sm2 import (
    Sm2PrivateKey,
    Sm2PublicKey,
    der_to_rs,
    openssl_version,
    rs_to_der,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _infra import write_result

TARGET_VERIFY = 1_000  # issue 20: at least 1,000 SM2 verifications a second on one core


def timed(fn: Any, items: list[Any]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) to call ``fn`` on every item."""
    c0, w0 = time.process_time(), time.perf_counter()
    for item in items:
        fn(item)
    return time.process_time() - c0, time.perf_counter() - w0


def openssl_speed(seconds: int) -> dict[str, float] | None:
    exe = shutil.which("openssl")
    if exe is None:
        return None
    out = subprocess.run(
        [exe, "speed", "-seconds", str(seconds), "sm2"], capture_output=True, text=True, check=False
    ).stdout
    m = re.search(r"SM2 \(CurveSM2\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", out)
    return {"sign_per_s": float(m.group(1)), "verify_per_s": float(m.group(2))} if m else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "sm2.json"))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, speed_s = (1_000, 1) if args.quick else (6_000, 3)
    keys = [Sm2PrivateKey.generate() for _ in range(8)]
    messages = [os.urandom(300) for _ in range(n)]

    jobs = [(keys[i % 8], m) for i, m in enumerate(messages)]
    sigs: list[tuple[Any, bytes, bytes]] = []
    sign_cpu, sign_wall = timed(
        lambda j: sigs.append((j[0].public_key(), j[1], j[0].sign(j[1]))), jobs
    )
    ok: list[bool] = []
    verify_cpu, verify_wall = timed(lambda s: ok.append(s[0].verify(s[1], s[2])), sigs)
    assert all(ok), "a signature did not verify"
    # what a seal check does: the key from its on-chain x||y, the DER from the on-chain r, s
    chain_form = [(p.raw(), m, der_to_rs(sig)) for p, m, sig in sigs]
    ok.clear()
    chain_cpu, _ = timed(
        lambda c: ok.append(Sm2PublicKey.from_raw(c[0]).verify(c[1], rs_to_der(*c[2]))),
        chain_form,
    )
    assert all(ok), "a signature did not verify from its on-chain form"
    pub, msg, sig = sigs[0]
    assert not pub.verify(msg[:-1] + bytes([msg[-1] ^ 1]), sig)

    verify_rate, sign_rate = n / verify_cpu, n / sign_cpu
    ref = openssl_speed(speed_s)
    ratio = verify_rate / ref["verify_per_s"] if ref else None
    result: dict[str, Any] = {
        "benchmark": "SM2 sign and verify, one thread",
        "library": openssl_version(),
        "messages": n,
        "message_bytes": 300,
        "verify_per_cpu_s": round(verify_rate),
        "sign_per_cpu_s": round(sign_rate),
        "verify_per_wall_s": round(n / verify_wall),
        "verify_from_chain_form_per_cpu_s": round(n / chain_cpu),
        "sign_per_wall_s": round(n / sign_wall),
        "openssl_speed": ref,
        "verify_ratio_to_openssl_speed": round(ratio, 3) if ratio else None,
        "target_verify_per_s": TARGET_VERIFY,
    }
    reference = (
        f"`openssl speed sm2` (C, same libcrypto): {ref['verify_per_s']:,.0f} verify/s, "
        f"{ref['sign_per_s']:,.0f} sign/s"
        if ref
        else "openssl not installed"
    )
    result["summary"] = [
        {
            "benchmark": "SM2 seal verifications on one core (SM3 with Z, 300-byte messages)",
            "result": f"{verify_rate:,.0f} verify/s ({n / chain_cpu:,.0f}/s from on-chain "
            f"x‖y, r, s), {sign_rate:,.0f} sign/s (CPU time)",
            "reference": reference,
            "ratio": f"{ratio:.2f} of OpenSSL's C loop" if ratio else "—",
            "target": f"≥ {TARGET_VERIFY:,} verify/s",
            "met": verify_rate >= TARGET_VERIFY,
            "command": "bench/sm2_bench.py",
        }
    ]
    print(
        f"SM2 verify {verify_rate:,.0f}/s, sign {sign_rate:,.0f}/s per CPU second "
        f"(wall {n / verify_wall:,.0f}/s, {n / sign_wall:,.0f}/s); {reference}"
        + (f"; ratio {ratio:.2f}" if ratio else "")
    )
    write_result(args.out, result)
    return 0 if verify_rate >= TARGET_VERIFY else 1


if __name__ == "__main__":
    raise SystemExit(main())
