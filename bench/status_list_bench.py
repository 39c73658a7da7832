"""Status lists (issue 21): build time and compressed size for 100,000 and 1,000,000 licences of
one issuer, 1.2 % of them revoked (and 0.4 % suspended).

    .venv/bin/python bench/status_list_bench.py [--quick]     # bench/results/status_list.json

What is timed is what a node does: the indexer feeds ``StatusLists`` one ``LicenceIssued`` per
licence, a ``LicenceRevoked`` for 1.2 % of them and a ``LicenceSuspended`` for another 0.4 %
("indexing"); then ``StatusDocuments.serve`` builds the revocation list as a signed
``BitstringStatusListCredential`` (vc+jwt: bitstring, GZIP, base64url, JSON, ES256) and the IETF
Token Status List (2 bits, ZLIB, ES256) from nothing ("cold build"), and again at the next block
with no bit changed ("re-sign": the encoded list is reused). One list holds 2^20 licences, so both
sizes fit one list of 1,048,576 entries (the 100,000 case leaves the rest 0).

References measured in the same run: ``gzip.compress`` alone over the same bytes (the floor of any
GZIP list; ratio = our whole build / that), and for the size the information-theoretic bound,
log2 C(n, k) / 8 bytes for k set bits among n.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from credledger.node.status import StatusLists
from credledger.node.status.documents import StatusDocuments
from credledger.node.status.encoding import bitstring, decode_bitstring, unb64url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _infra import write_result

ISSUER = "0x1111111111111111111111111111111111111111"
SET_SHARE = 0.012  # the issue's figure: 1.2 % set (in the revocation list measured)
SUSPENDED_SHARE = 0.004  # and 0.4 % suspended besides, for the 2-bit token list
TARGET_BYTES_1M = 16_384  # "a Bitstring Status List of 1M entries with 1.2 % set is about 16 KB"
TARGET_BUILD_S = 1.0  # well inside one block: a change shows in the list of the block indexing it


@dataclass(frozen=True)
class Ev:
    contract: str
    event: str
    args: dict[str, Any]
    block_number: int


class Key:
    department = ISSUER

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())

    def kid(self) -> str:
        return "urn:credledger:eip155:1:0x0:key:1"

    def issuer(self) -> str:
        return f"urn:credledger:eip155:1:0x0:dept:{ISSUER}"

    def sign_es256(self, data: bytes) -> bytes:
        r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def events(n: int, rng: random.Random) -> tuple[list[Ev], list[int], list[int]]:
    ids = [f"0x{i:064x}" for i in range(n)]
    chosen = rng.sample(range(n), round(n * (SET_SHARE + SUSPENDED_SHARE)))
    revoked, suspended = chosen[: round(n * SET_SHARE)], chosen[round(n * SET_SHARE) :]
    reg = "LicenceRegistry"
    out = [Ev(reg, "LicenceIssued", {"licenceId": i, "issuer": ISSUER}, 1) for i in ids]
    out += [Ev(reg, "LicenceRevoked", {"licenceId": ids[i]}, 2) for i in revoked]
    out += [Ev(reg, "LicenceSuspended", {"licenceId": ids[i]}, 2) for i in suspended]
    return out, revoked, suspended


def log2_binomial(n: int, k: int) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(2)


def measure(n: int, repeats: int, rng: random.Random) -> dict[str, Any]:
    evs, revoked, suspended = events(n, rng)
    lists = StatusLists()
    t0 = time.perf_counter()
    lists.reset(evs, 2, 1_765_000_000)
    feed_s = time.perf_counter() - t0
    key = Key()
    cold: dict[str, list[float]] = {"revocation": [], "token": []}
    resign: list[float] = []
    served: dict[str, str] = {}
    for r in range(repeats):
        docs = StatusDocuments(lists, lambda _d: key, 1)
        for kind in ("revocation", "token"):
            t0 = time.perf_counter()
            served[kind] = docs.serve("https://node.example", ISSUER, 0, kind).body
            cold[kind].append(time.perf_counter() - t0)
        lists.extend([], 3 + r, 1_765_000_002 + r)  # a new block, no bit changed
        t0 = time.perf_counter()
        docs.serve("https://node.example", ISSUER, 0, "revocation")
        resign.append(time.perf_counter() - t0)
    # sizes, and a check that the list says what the chain said
    vc = json.loads(unb64url(served["revocation"].split(".")[1]))
    encoded = vc["credentialSubject"]["encodedList"]
    raw = decode_bitstring(encoded)
    assert sum(bin(b).count("1") for b in raw) == len(revoked)
    gz_bytes = len(unb64url(encoded[1:]))
    token = json.loads(unb64url(served["token"].split(".")[1]))
    zl_bytes = len(unb64url(token["status_list"]["lst"]))
    # the reference: gzip alone over the same bits
    ref_raw = bitstring(lists.capacity, revoked)
    ref: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        gzip.compress(ref_raw, compresslevel=9, mtime=0)
        ref.append(time.perf_counter() - t0)
    bound = log2_binomial(lists.capacity, len(revoked)) / 8
    med = statistics.median
    return {
        "licences": n,
        "list_entries": lists.capacity,
        "revoked": len(revoked),
        "suspended": len(suspended),
        "feed_s": round(feed_s, 3),
        "build_revocation_ms": round(med(cold["revocation"]) * 1000, 2),
        "build_token_ms": round(med(cold["token"]) * 1000, 2),
        "resign_ms": round(med(resign) * 1000, 3),
        "gzip_only_ms": round(med(ref) * 1000, 2),
        "encoded_list_gzip_bytes": gz_bytes,
        "token_lst_zlib_bytes": zl_bytes,
        "vc_jwt_bytes": len(served["revocation"]),
        "entropy_bound_bytes": round(bound),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "status_list.json"))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    repeats = 3 if args.quick else 7
    rng = random.Random(21)
    runs = [measure(n, repeats, rng) for n in (100_000, 1_000_000)]
    rows = []
    ok = True
    for r in runs:
        n = r["licences"]
        build_s = r["build_revocation_ms"] / 1000
        size_met = r["encoded_list_gzip_bytes"] <= TARGET_BYTES_1M * 1.1 if n >= 1_000_000 else None
        met = build_s < TARGET_BUILD_S and size_met is not False
        ok = ok and met
        rows.append(
            {
                "benchmark": f"status lists, {n:,} licences of one issuer, 1.2 % set "
                f"(one list of {r['list_entries']:,})",
                "result": f"build + sign {r['build_revocation_ms']:,.1f} ms (bitstring vc+jwt), "
                f"{r['build_token_ms']:,.1f} ms (token list); re-sign at a new block "
                f"{r['resign_ms']:,.2f} ms; encodedList {r['encoded_list_gzip_bytes']:,} B "
                f"gzipped, lst {r['token_lst_zlib_bytes']:,} B; indexing {r['feed_s']:,.2f} s",
                "reference": f"gzip alone {r['gzip_only_ms']:,.1f} ms; entropy bound "
                f"{r['entropy_bound_bytes']:,} B",
                "ratio": f"{r['build_revocation_ms'] / r['gzip_only_ms']:.2f}× gzip time, "
                f"{r['encoded_list_gzip_bytes'] / r['entropy_bound_bytes']:.2f}× the bound",
                "target": "build < 1 s"
                + (", ≈ 16 KB gzipped (issue 21)" if n >= 1_000_000 else ""),
                "met": met,
                "command": "bench/status_list_bench.py",
            }
        )
        print(rows[-1]["benchmark"], "->", rows[-1]["result"], "|", rows[-1]["reference"])
    write_result(
        args.out,
        {"benchmark": "status lists from chain state", "runs": runs, "summary": rows},
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
