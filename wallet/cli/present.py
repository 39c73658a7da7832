"""`credledger wallet present` and `credledger wallet device new|register`."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from credledger.node.core.errors import InputError
from credledger.wallet.cli.common import (
    TokenOpt,
    UrlOpt,
    _client,
    _expiry,
    _print_json,
    console,
    device_app,
    wallet_app,
    when,
)

# --- presentations and device keys ------------------------------------------------------------


def _show_token(out: dict[str, Any], qr_out: Path | None, as_json: bool) -> None:
    if qr_out is not None:
        qr_out.write_text(out["qrSvg"], encoding="utf-8")
    if as_json:
        _print_json({k: v for k, v in out.items() if k != "qrSvg"})
        return
    import segno

    segno.make(out["token"], error="m", boost_error=False).terminal(compact=True)
    console.print(out["token"], highlight=False, soft_wrap=True)
    left = int(out["expiresAt"] - time.time())
    until = when(out["expiresAt"], "%H:%M:%S")
    written = f"; QR written to {qr_out}" if qr_out else ""
    console.print(f"valid for {left} s (until {until}){written}", highlight=False)


@wallet_app.command()
def present(
    assets: Annotated[list[str], typer.Argument(help="asset ids (licence or material), 1 to 8")],
    audience: Annotated[
        str | None, typer.Option(help="the department (or department/counter) it is for")
    ] = None,
    ttl: Annotated[
        int | None, typer.Option(help="seconds it stays valid (default 120, ≤300)")
    ] = None,
    qr_out: Annotated[
        Path | None, typer.Option("--qr-out", help="write the QR code as SVG")
    ] = None,
    device_key: Annotated[
        Path | None,
        typer.Option("--device-key", help="sign on this machine with a P-256 key (PEM) instead"),
    ] = None,
    chain_id: Annotated[
        int | None, typer.Option("--chain-id", help="with --device-key: the chain (else asked)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Make a presentation token to show at a counter: a QR code and the text a scan gun types."""
    if device_key is None:
        body: dict[str, Any] = {"assetIds": assets, "audience": audience, "ttl": ttl}
        out = _client(url, token).json("POST", "/v1/presentations", json=body)
        _show_token(out, qr_out, as_json)
        return
    from credledger.node.core import presentation as pr
    from credledger.node.core.receipts import parse_hash
    from credledger.wallet.presentations import qr_svg

    try:
        signer = pr.DeviceKeySigner.from_pem(device_key.read_bytes())
    except OSError as exc:
        raise InputError(f"--device-key: cannot read {device_key} ({exc.strerror})") from None
    except ValueError:
        raise InputError(f"--device-key: {device_key} is not a P-256 private key (PEM)") from None
    if chain_id is None:
        chain_id = int(_client(url, auth=False).json("GET", "/v1/info")["chainId"])
    ids = [parse_hash(a, "asset") for a in assets]
    p = pr.create(signer, ids, chain_id, audience, pr.DEFAULT_TTL if ttl is None else ttl)
    tok = p.encode()
    statement = "0x" + p.statement_hash(chain_id).hex()
    out = {"token": tok, "expiresAt": p.expires_at, "qrSvg": qr_svg(tok),
           "statementHash": statement, "presenter": signer.address}  # fmt: skip
    _show_token(out, qr_out, as_json)


@device_app.command("new")
def device_new(
    out: Annotated[Path, typer.Option("--out", help="where to write the private key (PEM, 0600)")],
) -> None:
    """Make a P-256 device key (on a phone it lives in the secure element; this is for trying)."""
    from credledger.node.core import presentation as pr

    if out.exists():
        raise InputError(f"--out: {out} exists; not overwriting a key")
    signer = pr.DeviceKeySigner.generate()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(signer.private_pem())
    console.print(f"device {signer.address}", highlight=False)
    console.print(f"public key {signer.public_key.hex()}", highlight=False)


@device_app.command("register")
def device_register(
    assets: Annotated[list[str], typer.Argument(help="asset ids the device may present")],
    expires: Annotated[str, typer.Option(help="until: unix seconds, ISO 8601, or +30d")],
    public_key: Annotated[
        str | None, typer.Option("--public-key", help="hex of the 04… point, or PEM")
    ] = None,
    key: Annotated[
        Path | None, typer.Option("--key", help="take the public key from this private key PEM")
    ] = None,
    label: Annotated[str | None, typer.Option(help="e.g. 'Zhang's phone'")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Delegate assets to a device key (COUNTER-PRESENTATION grants relayed by the wallet)."""
    if key is not None:
        from credledger.node.core import presentation as pr

        try:
            public_key = pr.DeviceKeySigner.from_pem(key.read_bytes()).public_key.hex()
        except (OSError, ValueError):
            raise InputError(f"--key: {key} is not a readable P-256 private key (PEM)") from None
    if not public_key:
        raise InputError("give --public-key or --key")
    body = {"publicKey": public_key, "assetIds": assets, "expiresAt": _expiry(expires),
            "label": label}  # fmt: skip
    out = _client(url, token).json("POST", "/v1/devices", json=body)
    console.print(
        f"device {out['device']} may present {len(out['grants'])} asset(s)", highlight=False
    )
    for g in out["grants"]:
        console.print(
            f"  grant {g['grantId']} {g['state']}  tx {g['transactionHash']}", highlight=False
        )
