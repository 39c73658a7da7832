"""`credledger wallet file|materials|confirm|receipt|grant|grants|revoke`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from credledger.wallet.cli.common import (
    TokenOpt,
    UrlOpt,
    _client,
    _expiry,
    _print_json,
    console,
    err_console,
    wallet_app,
    when,
)

# --- materials --------------------------------------------------------------------------------


@wallet_app.command("file")
def file_cmd(
    files: Annotated[list[Path], typer.Argument(help="files to file", exists=True, dir_okay=False)],
    folder: Annotated[
        str | None, typer.Option(help="folder (suggested from the name if absent)")
    ] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """File materials in the bank (encrypted at rest, anchored through the node)."""
    client = _client(url, token)
    total = sum(p.stat().st_size for p in files)
    results = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("uploading", total=total)
        for p in files:
            progress.update(task, description=p.name[:30])
            data: dict[str, str] = {"folder": folder} if folder else {}
            with p.open("rb") as f:
                r = client.request("POST", "/v1/materials", files={"file": (p.name, f)}, data=data)
            progress.advance(task, p.stat().st_size)
            results.append((p, r.status_code, r.json()))
    for p, status, m in results:
        again = "" if status == 201 else " (already filed: same material)"
        console.print(f"{m['id']}  {m['state']:<8} {m['folder']['code']:<16} {p.name}{again}",
                      highlight=False)  # fmt: skip


@wallet_app.command()
def materials(
    folder: Annotated[str | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """List the materials bank."""
    params = {"folder": folder} if folder else {}
    out = _client(url, token).json("GET", "/v1/materials", params=params)
    if as_json:
        _print_json(out)
        return
    table = Table("id", "state", "folder", "name", "filed by")
    for m in out["materials"]:
        state = m["state"] + (" ✓" if m["label"] == "trusted" else "")
        table.add_row(m["id"][:18] + "…", state, m["folder"]["zh"], m["name"], m["filedBy"]["name"])
    console.print(table)


@wallet_app.command()
def confirm(
    material_id: Annotated[str, typer.Argument(help="the material's id (asset id)")],
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Confirm an anchored material: it gets the trusted label."""
    m = _client(url, token).json("POST", f"/v1/materials/{material_id}/confirm")
    console.print(f"{m['id']} {m['state']}")


@wallet_app.command()
def receipt(
    material_id: Annotated[str, typer.Argument(help="the material's id (asset id)")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="where to write it (default: <materialId>.receipt.json)"),
    ] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Download a material's anchoring receipt (check it with `credledger verify`)."""
    body = _client(url, token).json("GET", f"/v1/materials/{material_id}/receipt")
    target = out or Path(f"{material_id}.receipt.json")
    target.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"wrote {target}", highlight=False)


# --- grants -----------------------------------------------------------------------------------


@wallet_app.command()
def grant(
    asset: Annotated[str, typer.Option(help="asset id (licence id or material id)")],
    grantee: Annotated[str, typer.Option(help="the grantee's address")],
    purpose: Annotated[str, typer.Option(help="purpose code, e.g. LOAN-APPLICATION")],
    expires: Annotated[str, typer.Option(help="unix seconds, ISO 8601, or +30d")],
    max_uses: Annotated[int, typer.Option("--max-uses", help="0: no limit")] = 0,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Grant the use of an asset for a purpose until a date (signed and relayed by the wallet)."""
    body = {"assetId": asset, "grantee": grantee, "purpose": purpose, "expiresAt": _expiry(expires),
            "maxUses": max_uses}  # fmt: skip
    g = _client(url, token).json("POST", "/v1/grants", json=body)
    console.print(f"grant {g['grantId']} {g['state']}  tx {g['transactionHash']}", highlight=False)


@wallet_app.command()
def grants(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """List grants with their live on-chain state."""
    out = _client(url, token).json("GET", "/v1/grants")
    if as_json:
        _print_json(out)
        return
    table = Table("grant", "asset", "grantee", "purpose", "state", "uses", "expires")
    for g in out["grants"]:
        uses = f"{g['uses']}/{g['maxUses'] or '∞'}"
        table.add_row(g["grantId"][:14] + "…", g["assetId"][:14] + "…", g["grantee"],
                      g["purpose"]["code"], g["state"], uses,
                      when(g["expiresAt"], "%Y-%m-%d"))  # fmt: skip
    console.print(table)


@wallet_app.command()
def revoke(
    grant_id: Annotated[str, typer.Argument()],
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Revoke a grant (relayed revokeBySig)."""
    g = _client(url, token).json("POST", f"/v1/grants/{grant_id}/revoke")
    console.print(f"grant {g['grantId']} {g['state']}  tx {g['revokeTransactionHash']}")
