"""Turn the result files in bench/results/ into one table (bench/README.md, README.md summary).

Every row names its figure, the reference measured in the same run, the ratio and the target.
A result file may carry its own rows under ``"summary"`` (a list of objects with the keys of
:class:`Row`); the older result files are read by the adapters below.

    .venv/bin/python bench/report.py                 # rewrite both tables from bench/results/
    .venv/bin/python bench/report.py --results DIR --print-only
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


class Row(TypedDict, total=False):
    benchmark: str
    result: str
    reference: str
    ratio: str
    target: str
    met: bool | None
    command: str


def _fmt(x: float, unit: str = "", digits: int = 0) -> str:
    return f"{x:,.{digits}f}{unit}"


def _merkle(d: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for r in d.get("results", []):
        ratio = r["speedup_vs_opentimestamps"]
        oz = r.get("speedup_vs_openzeppelin")
        rows.append(
            Row(
                benchmark=f"Merkle tree + all proofs, {r['leaves']:,} leaves",
                result=f"{r['ours_s']} s",
                reference=f"OpenTimestamps {r['opentimestamps_s']} s"
                + (f"; @openzeppelin/merkle-tree {r['openzeppelin_s']} s ({oz}×)" if oz else ""),
                ratio=f"{ratio}× faster",
                target="≥ 5× OpenTimestamps",
                met=ratio >= 5,
                command="bench/merkle_bench.py",
            )
        )
    return rows


def _ingest(d: dict[str, Any]) -> list[Row]:
    hps = d["hashes_per_second"]
    return [
        Row(
            benchmark=f"durable ingest POST /v1/anchors, {d['per_request']:,}-hash requests",
            result=f"{_fmt(hps)} hashes/s ({d['ingest_requests_per_second']} req/s)",
            reference=f"same server's trivial endpoint {d['trivial_requests_per_second']} req/s",
            ratio=f"{d['ingest_to_trivial_request_ratio']} (requests)",
            target="≥ 10,000 hashes/s",
            met=hps >= 10_000,
            command="bench/ingest_bench.py",
        )
    ]


def _e2e(d: dict[str, Any]) -> list[Row]:
    rows = [
        Row(
            benchmark=f"end to end submit → confirmed ({d['hashes']:,} hashes)",
            result=f"p50 {d['p50_s']} s, p95 {d['p95_s']} s",
            reference=f"target p95 = batch interval + 2 blocks = {d['target_p95_s']} s",
            ratio=f"{round(d['p95_s'] / d['target_p95_s'], 2)} of target",
            target=f"p95 ≤ {d['target_p95_s']} s",
            met=d["p95_s"] <= d["target_p95_s"],
            command="bench/e2e_bench.py",
        )
    ]
    for leaves, g in sorted(d.get("gas", {}).items(), key=lambda kv: int(kv[0])):
        limit = 46 if int(leaves) <= 1024 else 12
        rows.append(
            Row(
                benchmark=f"gas per anchored document, {int(leaves):,} leaves",
                result=f"{g['gas_per_doc']} gas",
                reference=f"{g['gas_used']:,} gas per anchor transaction",
                ratio="—",
                target=f"≤ {limit}",
                met=g["gas_per_doc"] <= limit,
                command="bench/e2e_bench.py",
            )
        )
    return rows


def _licences_api(d: dict[str, Any]) -> list[Row]:
    s, b, v = d["issue_single"], d["issue_batch24"], d["enterprise_view"]
    return [
        Row(
            benchmark="licence issuance through the API, concurrent single requests",
            result=f"{s['licences_per_second']} licences/s (p99 {s['latency_ms_p99']} ms)",
            reference=f"batches of 24: {b['licences_per_second']} licences/s",
            ratio=f"{round(s['licences_per_second'] / b['licences_per_second'], 2)}",
            target="—",
            met=None,
            command="bench/licences_api.py",
        ),
        Row(
            benchmark=f"enterprise view, {v['licences_in_view']} licences among "
            f"{d.get('licences_on_chain_at_view_time', 0):,}",
            result=f"p50 {v['ms_p50']} ms, p99 {v['ms_p99']} ms",
            reference="—",
            ratio="—",
            target="—",
            met=None,
            command="bench/licences_api.py",
        ),
    ]


def _licences_gas(d: dict[str, Any]) -> list[Row]:
    c, e = d["credledger"], d["eas_1_9_0"]
    return [
        Row(
            benchmark="gas: issue one licence",
            result=f"{_fmt(c['issue_median'])} gas",
            reference=f"EAS attest {_fmt(e['attest_median'])} gas",
            ratio=f"{d['ratio_issue_vs_attest']}",
            target="≤ 75,000",
            met=c["issue_median"] <= 75_000,
            command="bench/licences_gas.py",
        ),
        Row(
            benchmark="gas: issue a batch of 24, per licence",
            result=f"{_fmt(c['issueBatch24_per_licence'])} gas",
            reference=f"EAS multiAttest {_fmt(e['multiAttest24_per_attestation'])} gas",
            ratio=f"{d['ratio_batch_vs_multiAttest']}",
            target="≤ 55,000",
            met=c["issueBatch24_per_licence"] <= 55_000,
            command="bench/licences_gas.py",
        ),
        *_sealed_gas(c, e),
    ]


def _sealed_gas(c: dict[str, Any], e: dict[str, Any]) -> list[Row]:
    """Issue 20: the same issuance with an SM2 e-seal (r, s and the key id on chain)."""
    if "issueSealed_median" not in c:  # a result file from before the seals
        return []
    return [
        Row(
            benchmark="gas: issue one sealed licence (SM2 e-seal)",
            result=f"{_fmt(c['issueSealed_median'])} gas",
            reference=f"EAS attest {_fmt(e['attest_median'])} gas",
            ratio=f"{c['issueSealed_median'] / e['attest_median']:.3f}",
            target="≤ 80,000",
            met=c["issueSealed_median"] <= 80_000,
            command="bench/licences_gas.py",
        ),
        Row(
            benchmark="gas: issue a sealed batch of 24, per licence",
            result=f"{_fmt(c['issueBatchSealed24_per_licence'])} gas",
            reference=f"EAS multiAttest {_fmt(e['multiAttest24_per_attestation'])} gas",
            ratio=f"{c['issueBatchSealed24_per_licence'] / e['multiAttest24_per_attestation']:.3f}",
            target="≤ 60,000",
            met=c["issueBatchSealed24_per_licence"] <= 60_000,
            command="bench/licences_gas.py",
        ),
    ]


ADAPTERS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "merkle": _merkle,
    "ingest": _ingest,
    "e2e": _e2e,
    "licences_api": _licences_api,
    "licences_gas": _licences_gas,
}


def rows_of(path: Path) -> list[Row]:
    """The table rows of one result file: its own ``summary``, else its adapter, else none."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data.get("summary"), list):
        return [Row(**r) for r in data["summary"]]
    adapter = ADAPTERS.get(path.stem)
    return adapter(data) if adapter else []


def collect(results: Path) -> list[Row]:
    rows: list[Row] = []
    for path in sorted(results.glob("*.json")):
        try:
            rows.extend(rows_of(path))
        except (KeyError, TypeError, ValueError) as exc:
            rows.append(Row(benchmark=path.stem, result=f"unreadable result file: {exc}"))
    return rows


def markdown(rows: list[Row]) -> str:
    head = (
        "| benchmark | result | reference (same run) | ratio | target | met |\n"
        "|---|---|---|---|---|---|\n"
    )
    mark = {True: "yes", False: "**no**", None: "—"}
    body = "".join(
        f"| {r.get('benchmark', '')} | {r.get('result', '')} | {r.get('reference', '—')} "
        f"| {r.get('ratio', '—')} | {r.get('target', '—')} | {mark[r.get('met')]} |\n"
        for r in rows
    )
    return head + body


def replace_block(path: Path, table: str) -> None:
    text = path.read_text(encoding="utf-8")
    block = f"{START}\n{table}{END}"
    if START in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--print-only", action="store_true", help="print the table, rewrite nothing")
    args = ap.parse_args()
    rows = collect(args.results)
    table = markdown(rows)
    print(table)
    if not args.print_only:
        for doc in (ROOT / "bench" / "README.md", ROOT / "README.md"):
            replace_block(doc, table)
            print(f"updated {doc.relative_to(ROOT)}")
    missed = [r for r in rows if r.get("met") is False]
    if missed:
        print(f"{len(missed)} row(s) miss their target", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
