"""`credledger grantee fetch|key new`: for grantees (banks …)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from hexbytes import HexBytes

from credledger.node.core.errors import ChainError, CredledgerError, InputError
from credledger.wallet.cli.common import UrlOpt, _client, console, grantee_app, recorded_url

# --- grantee ----------------------------------------------------------------------------------


def _grantee_account(key: Path | None, password_file: Path | None, dev: int | None) -> Any:
    from eth_account import Account

    from credledger.node.core.signer import dev_account, load_keystore

    if key is None:
        if dev is None:
            raise InputError(
                "give the grantee key: --key FILE (hex key or keystore) or --dev-account"
            )
        return dev_account(dev)
    text = key.read_text(encoding="utf-8").strip()
    if text.startswith("{"):
        if password_file is None:
            raise InputError("a keystore --key needs --password-file")
        return load_keystore(key, password_file)
    try:
        return Account.from_key(text)
    except Exception:
        raise InputError(f"{key} holds neither a hex private key nor a keystore") from None


RpcOpt = Annotated[
    str | None,
    typer.Option(
        "--rpc",
        envvar="CREDLEDGER_RPC_URL",
        help="chain RPC URL (default: the one `credledger up` recorded, else :8545)",
        show_default=False,
    ),
]
#: the devnet account `grantee key new` funds new keys from (the node uses 0, departments 1-4,
#: the wallet's relayer 7, the tests' bank 8, the demo holder 9)
FAUCET_DEV_ACCOUNT = 6
FUND_WEI = 10**18  # 1 ETH of a devnet: thousands of uses


def _rpc(given: str | None) -> str:
    return given or recorded_url("rpc") or "http://127.0.0.1:8545"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "…"


def _chain_error(exc: Exception, address: str) -> ChainError:
    """A web3 / RPC failure as one line that says what to do."""
    text = _one_line(exc)
    if "insufficient funds" in text.lower():
        return ChainError(
            f"the grantee key {address} has no funds for gas; fund it (on a devnet "
            "`credledger grantee key new` makes a funded key)"
        )
    return ChainError(f"the chain refused the use: {text}")


@grantee_app.command()
def fetch(
    holder: Annotated[str, typer.Option(help="the holder's address")],
    asset: Annotated[str, typer.Option(help="asset id")],
    purpose: Annotated[str, typer.Option(help="purpose code, e.g. LOAN-APPLICATION")],
    rpc: RpcOpt = None,
    key: Annotated[
        Path | None, typer.Option("--key", help="grantee key: hex file or keystore")
    ] = None,
    password_file: Annotated[Path | None, typer.Option("--password-file")] = None,
    dev: Annotated[int | None, typer.Option("--dev-account", help="devnet account")] = None,
    out: Annotated[
        Path, typer.Option("--out", help="folder for the file and the use receipt")
    ] = Path("."),
    url: UrlOpt = None,
) -> None:
    """Record one use on chain (ConsentRegistry.consume), then fetch the asset with it."""
    from credledger.node.core.chain import Chain
    from credledger.node.core.contracts.consent_registry import ConsentRegistry
    from credledger.node.core.receipts import hex32, parse_hash
    from credledger.node.core.tx import TxSender
    from credledger.wallet.reuse import purpose_hash, sign_fetch

    account = _grantee_account(key, password_file, dev)
    client = _client(url, auth=False)
    info = client.json("GET", "/v1/info")
    ph = purpose_hash(purpose)
    aid = parse_hash(asset)
    try:
        chain = Chain([_rpc(rpc)])
        if chain.chain_id != info["chainId"]:
            raise InputError(f"--rpc is chain {chain.chain_id}, the wallet uses {info['chainId']}")
        registry = ConsentRegistry(chain, info["consentRegistry"], TxSender(chain, account))
        receipt = registry.consume(holder, aid, ph)
    except CredledgerError:
        raise
    except Exception as exc:  # web3's errors (funds, nonce, connection): one line
        raise _chain_error(exc, account.address) from None
    tx = hex32(bytes(receipt["transactionHash"]))
    console.print(f"use recorded on chain: tx {tx}", highlight=False)
    body = sign_fetch(account, chain.chain_id, info["consentRegistry"], use_transaction=tx,
                      holder=holder, asset_id=hex32(aid), purpose=hex32(ph))  # fmt: skip
    r = client.request("POST", "/v1/uses", json=body)
    out.mkdir(parents=True, exist_ok=True)
    name = _file_name(r.headers.get("content-disposition", "")) or f"{hex32(aid)[2:14]}.bin"
    target = out / name
    target.write_bytes(r.content)
    use = json.loads(base64.urlsafe_b64decode(r.headers["x-credledger-use-receipt"]))
    receipt_path = out / f"{target.name}.use.json"
    receipt_path.write_text(json.dumps(use, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"wrote {target} (use {use['uses']}/{use['maxUses'] or '∞'}) and {receipt_path}")


key_app = typer.Typer(
    name="key",
    help="Grantee keys: make one (on a devnet, funded for gas).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
grantee_app.add_typer(key_app, name="key")


@key_app.command("new")
def key_new(
    out: Annotated[Path, typer.Option("--out", help="where to write the hex private key (0600)")],
    rpc: RpcOpt = None,
    fund: Annotated[
        bool,
        typer.Option("--fund/--no-fund", help="on a local devnet, send it 1 ETH for gas"),
    ] = True,
) -> None:
    """Make a grantee key (the address a holder grants to); on a devnet, fund it for gas."""
    from eth_account import Account

    if out.exists():
        raise InputError(f"--out: {out} exists; not overwriting a key")
    account = Account.create()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(account.key.hex() + "\n")
    console.print(f"grantee {account.address}  (key in {out})", highlight=False)
    if fund:
        _fund(account.address, _rpc(rpc))


def _fund(address: str, rpc: str) -> None:
    """Send ``FUND_WEI`` from the faucet dev account, on local devnets only."""
    from credledger.node.core import paths
    from credledger.node.core.chain import Chain
    from credledger.node.core.signer import dev_account
    from credledger.node.core.tx import TxSender

    try:
        chain = Chain([rpc])
        if chain.chain_id not in paths.DEVNET_CHAIN_IDS:
            console.print(f"chain {chain.chain_id} is not a local devnet: fund {address} yourself")
            return
        faucet = TxSender(chain, dev_account(FAUCET_DEV_ACCOUNT))
        nonce = chain.transaction_count(faucet.address, "pending")
        tx: dict[str, Any] = {"to": address, "value": FUND_WEI, "gas": 21_000, "nonce": nonce,
                              "chainId": chain.chain_id, **chain.fee_fields()}  # fmt: skip
        signed = faucet.account.sign_transaction(tx)
        faucet.wait(HexBytes(chain.send_raw(bytes(signed.raw_transaction))))
    except CredledgerError:
        raise
    except Exception as exc:
        raise ChainError(f"could not fund {address} at {rpc}: {_one_line(exc)}") from None
    console.print(f"funded with 1 ETH on devnet chain {chain.chain_id}", highlight=False)


def _file_name(disposition: str) -> str | None:
    from urllib.parse import unquote

    for part in disposition.split(";"):
        part = part.strip()
        if part.startswith("filename*=UTF-8''"):
            return Path(unquote(part[len("filename*=UTF-8''") :])).name
    for part in disposition.split(";"):
        part = part.strip()
        if part.startswith("filename="):
            return Path(part[len("filename=") :].strip('"')).name
    return None
