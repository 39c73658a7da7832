"""The history view's rows (wallet events, uses on chain, presentations) and its CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from credledger.node.core.errors import CredledgerError
from credledger.wallet.web.common import (
    LANGS,
    caller_of,
    lang_of,
    redirect,
    runtime_of,
    secure_headers,
    translations,
    when,
    zone_label,
)

router = APIRouter(include_in_schema=False)

#: detail keys never shown (the asset column says them)
SKIP = ("id", "assetId", "assetIds")


def _details(details: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (k, " ".join(map(str, v)) if isinstance(v, list) and k != "verdicts" else v)
        for k, v in details.items()
        if k not in SKIP and v not in (None, "", [])
    ]


def history_rows(
    history: dict[str, Any] | None, presented: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Events, uses on chain and presentations as one list, newest first. Each row's details
    are ``(key, value)`` pairs: the page and the CSV label the keys in their language."""
    rows: list[dict[str, Any]] = []
    for e in (history or {}).get("events", []):
        if e.get("action") == "presented" and presented is not None:
            continue  # the presentation's own row below says the same, with its checks
        details = {k: v for k, v in e.items() if k not in ("at", "actor", "action")}
        asset = details.get("assetId") or details.get("id") or details.get("assetIds") or ""
        rows.append(
            {
                "at": e.get("at"),
                "kind": "event",
                "action": e.get("action", ""),
                "asset": " ".join(asset) if isinstance(asset, list) else str(asset),
                "actor": e.get("actor", ""),
                "details": _details(details),
            }
        )
    for u in (history or {}).get("uses", []):
        rows.append(
            {
                "at": u.get("time"),
                "kind": "use",
                "action": "use",
                "asset": str(u.get("assetId", "")),
                "actor": str(u.get("grantee", "")),
                "details": _details(
                    {
                        "purpose": u.get("purpose"),
                        "uses": u.get("uses"),
                        "transactionHash": u.get("transactionHash"),
                        "redeemedAt": when(u.get("redeemedAt")) or None,
                    }
                ),
            }
        )
    for p in presented or []:
        checks = p.get("checks") or []
        verdicts = [(when(c.get("checkedAt")), str(c.get("verdict", ""))) for c in checks]
        rows.append(
            {
                "at": p.get("createdAt"),
                "kind": "presentation",
                "action": "presentation",
                "asset": " ".join(str(a) for a in p.get("assetIds", [])),
                "actor": str(p.get("createdBy", "")),
                "details": _details(
                    {
                        "statementHash": p.get("statementHash"),
                        "audience": p.get("audience"),
                        "checks": len(checks) if p.get("checks") is not None else None,
                        "verdicts": verdicts or None,
                    }
                ),
            }
        )
    rows.sort(key=lambda r: float(r["at"] or 0), reverse=True)
    return rows


def detail_text(details: list[tuple[str, Any]], t: dict[str, str]) -> str:
    """One row's details as one line in a language (the CSV's column)."""
    parts = []
    for k, v in details:
        if k == "verdicts":
            v = ", ".join(f"{at} {t.get(f'verdict.{code}', code)}" for at, code in v)
        parts.append(f"{t.get(f'detail.{k}', k)}: {v}")
    return "; ".join(parts)


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    s = "" if value is None else str(value)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


@router.get("/history.csv")
async def history_csv(request: Request) -> Response:
    runtime = runtime_of(request)
    who = await run_in_threadpool(caller_of, request, runtime)
    if who is None:
        return redirect("/")
    caller = who[0]

    def rows() -> list[dict[str, Any]]:
        history = runtime.assets.history(caller)
        return history_rows(history, runtime.presentations.list(caller))

    try:
        found = await run_in_threadpool(rows)
    except CredledgerError:
        return redirect("/history")  # the view says why (in the page's language)
    t = translations(LANGS[lang_of(request)])
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    head = [t.get(f"history.{c}", c) for c in ("at", "kind", "action", "asset", "actor", "detail")]
    head[0] = f"{head[0]} ({zone_label()})"
    out.writerow(head)
    for r in found:
        out.writerow(
            [_cell(when(r["at"])), _cell(t.get(f"kind.{r['kind']}", r["kind"])),
             _cell(t.get(f"action.{r['action']}", r["action"])), _cell(r["asset"]),
             _cell(r["actor"]), _cell(detail_text(r["details"], t))]
        )  # fmt: skip
    resp = Response(
        ("\ufeff" + buf.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="history-{caller.uscc}.csv"'},
    )
    secure_headers(resp)
    return resp
