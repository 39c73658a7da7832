"""`credledger anchor` (submit files, save receipts) and `credledger verify` (chain only)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from credledger.node.cli._app import app, console, err_console, node_url, parse_rpc
from credledger.node.core.chain import Chain
from credledger.node.core.errors import ChainError, InputError, RpcUnavailableError
from credledger.node.core.fingerprints import (
    Fingerprint,
    FingerprintUnavailable,
    fingerprint_file,
    new_hasher,
    parse_fingerprint,
)
from credledger.node.core.receipts import (
    Check,
    check_receipt_on_chain,
    hex32,
    parse_hash,
    receipt_fingerprint,
)

REQUEST_HASHES = 1000


def _node_error(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        return str(body.get("message", body))
    except ValueError:
        return resp.text[:200]


def _receipt_path(file: Path, out: Path | None) -> Path:
    name = file.name + ".receipt.json"
    return (out / name) if out is not None else file.with_name(name)


def _node_fingerprint(client: httpx.Client, base: str) -> Fingerprint:
    """The node's default fingerprint (``anchoring.fingerprint`` in ``GET /health``); sha256 for
    a node that does not say (one from before SM3)."""
    try:
        resp = client.get(f"{base}/health")
    except httpx.TransportError as exc:
        raise ChainError(f"cannot reach the node at {base}: {exc}") from None
    value = resp.json().get("anchoring", {}).get("fingerprint") if resp.status_code == 200 else None
    return parse_fingerprint(value) if value else "sha256"


@app.command()
def anchor(
    files: Annotated[
        list[Path], typer.Argument(help="files to anchor (their digest is sent, not the file)")
    ],
    node: Annotated[
        str,
        typer.Option(
            "--node",
            envvar="CREDLEDGER_NODE_URL",
            help="node API URL (default: the one `credledger up` recorded, else :8600)",
            show_default=False,
        ),
    ] = "",
    wait: Annotated[
        bool, typer.Option("--wait", help="wait until every hash is confirmed")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="folder for receipts (default: beside each file)")
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait with --wait")] = 300.0,
    token: Annotated[
        str | None,
        typer.Option(envvar="CREDLEDGER_TOKEN", help="bearer token of a principal that may anchor"),
    ] = None,
    fingerprint: Annotated[
        str | None,
        typer.Option(
            "--fingerprint",
            help="sha256 or sm3 (GM/T 0004, the digest `openssl dgst -sm3` prints); "
            "default: the node's anchoring.fingerprint",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Hash files locally, submit the hashes to a node and save each receipt beside its file."""
    chosen = parse_fingerprint(fingerprint, "--fingerprint") if fingerprint else None
    if chosen is not None:
        new_hasher(chosen)  # a platform without SM3 says so before anything is sent
    paths: list[Path] = []
    for f in files:
        if f.is_dir():
            paths.extend(sorted(p for p in f.rglob("*") if p.is_file()))
        elif f.is_file():
            paths.append(f)
        else:
            raise InputError(f"{f} is not a file or folder")
    paths = [p for p in paths if not p.name.endswith(".receipt.json")]
    if not paths:
        raise InputError("no files to anchor")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    base = node_url(node).rstrip("/")
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    hashes: dict[Path, bytes] = {}
    with (
        Progress(*columns, console=err_console) as progress,
        httpx.Client(
            timeout=60, headers={"Authorization": f"Bearer {token}"} if token else None
        ) as client,
    ):
        kind = chosen or _node_fingerprint(client, base)
        task = progress.add_task(f"hashing ({kind})", total=len(paths))
        for p in paths:
            hashes[p] = fingerprint_file(p, kind)
            progress.advance(task)
        task = progress.add_task("submitting", total=len(paths))
        items = list(hashes.items())
        for i in range(0, len(items), REQUEST_HASHES):
            part = items[i : i + REQUEST_HASHES]
            try:
                resp = client.post(
                    f"{base}/v1/anchors",
                    json={"hashes": [hex32(h) for _, h in part], "fingerprint": kind},
                )
            except httpx.TransportError as exc:
                raise ChainError(f"cannot reach the node at {base}: {exc}") from None
            if resp.status_code != 202:
                raise InputError(f"the node refused the hashes: {_node_error(resp)}")
            progress.advance(task, len(part))
        if not wait:
            for p, h in items:
                console.print(f"submitted {kind} {hex32(h)}  {p}", highlight=False)
            return
        task = progress.add_task("confirming", total=len(paths))
        left = dict(items)
        deadline = time.monotonic() + timeout
        while left:
            for p, h in list(left.items()):
                try:
                    resp = client.get(f"{base}/v1/anchors/{hex32(h)}?fingerprint={kind}")
                except httpx.TransportError:
                    break
                if resp.status_code == 200 and resp.json().get("status") == "confirmed":
                    receipt = resp.json()["receipt"]
                    target = _receipt_path(p, out)
                    target.write_text(json.dumps(receipt, indent=2) + "\n", encoding="utf-8")
                    del left[p]
                    progress.advance(task)
            if left:
                if time.monotonic() > deadline:
                    raise ChainError(
                        f"{len(left)} hashes not confirmed within {timeout:.0f}s; run again later"
                    )
                time.sleep(0.5)
    for p, h in items:
        console.print(f"confirmed {kind} {hex32(h)}  {_receipt_path(p, out)}", highlight=False)


@app.command()
def verify(
    receipt: Annotated[Path, typer.Option("--receipt", help="the receipt JSON file")],
    rpc: Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the chain (or host:port)")],
    target: Annotated[
        str | None,
        typer.Argument(
            help="the document (a file, hashed with the receipt's fingerprint: SHA-256 or SM3) or "
            "its 0x hash; for a wallet material's receipt, the material's file (the asset id is "
            "derived from it and the receipt's holder); none: check the receipt alone",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check a receipt using only the chain: hash, fingerprint, proof, anchor, contract view, block
    time, canonical block, anchor transaction and leaf count (docs/receipt.md names each check).

    Exit 0: verified (every check passed). Exit 1: not verified (a check failed, or the document
    or receipt is unusable). Exit 2: could not check (the RPC endpoint cannot be reached, or this
    platform cannot compute the receipt's fingerprint).
    """
    logging.getLogger("credledger.node.core.chain").setLevel(logging.CRITICAL)
    rpc_urls = parse_rpc(rpc)
    try:
        data = _read_receipt(receipt)
        kind = receipt_fingerprint(data)
        doc_hash = _document_hash(target, kind) if target is not None else None
    except FingerprintUnavailable:
        raise
    except InputError as exc:
        _not_verified([Check("input", False, str(exc))])
    try:
        chain = Chain(rpc_urls, timeout=10)
        checks = check_receipt_on_chain(chain, data, doc_hash)
    except RpcUnavailableError:
        raise RpcUnavailableError(f"cannot reach the chain at {rpc}", urls=rpc_urls) from None
    except InputError as exc:  # a field of the receipt is missing or malformed
        _not_verified([Check("receipt", False, str(exc))])
    _print_checks(checks)
    if not all(c.ok for c in checks):
        _not_verified([])
    console.print("[green]VERIFIED[/green]")


def _document_hash(target: str, kind: Fingerprint) -> bytes:
    path = Path(target)
    if path.is_file():
        try:
            return fingerprint_file(path, kind)
        except OSError as exc:
            raise InputError(f"cannot read {target}: {exc.strerror}") from None
    try:
        return parse_hash(target)
    except InputError:
        raise InputError(f"{target} is neither a file nor a 32-byte hex hash") from None


def _read_receipt(receipt: Path) -> dict[str, Any]:
    try:
        data: Any = json.loads(receipt.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read receipt {receipt}: {exc.strerror}") from None
    except ValueError:
        raise InputError(f"{receipt} is not JSON") from None
    if not isinstance(data, dict):
        raise InputError(f"{receipt} is not a credledger receipt")
    return data


def _print_checks(checks: list[Check]) -> None:
    for c in checks:
        mark = "[green]✓[/green]" if c.ok else "[red]✗[/red]"
        console.print(f"{mark} {c.name:<24} {c.detail}", highlight=False)


def _not_verified(checks: list[Check]) -> NoReturn:
    _print_checks(checks)
    console.print("[red]NOT VERIFIED[/red]")
    raise typer.Exit(1)
