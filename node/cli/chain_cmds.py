"""Foundation commands: compile, devnet, deploy, verify-deployment, up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from credledger.node import compiler
from credledger.node.cli._app import app, console, err_console, parse_rpc
from credledger.node.core import paths
from credledger.node.core.chain import Chain
from credledger.node.core.errors import ConfigError, ToolchainError
from credledger.node.core.signer import resolve_account
from credledger.node.core.tx import TxSender
from credledger.node.deploy import deploy as deploy_contracts
from credledger.node.deploy import verify_deployment as verify_contracts
from credledger.node.devnet import DevnetManager

devnet_app = typer.Typer(help="A local chain from the pinned npm toolchain.", no_args_is_help=True)
app.add_typer(devnet_app, name="devnet")

StateDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar="CREDLEDGER_DEVNET_DIR",
        help="where the devnet's pid and log live (default: <data dir>/devnet)",
        show_default=False,
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="CREDLEDGER_DATA_DIR",
        help="where everything the node writes lives (default: .credledger/)",
        show_default=False,
    ),
]

RpcOpt = Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the chain")]
KeystoreOpt = Annotated[
    Path | None, typer.Option("--keystore", help="encrypted JSON keystore of the deployer")
]
PasswordOpt = Annotated[
    Path | None, typer.Option("--password-file", help="file holding the keystore password")
]
DevAccountOpt = Annotated[
    int | None, typer.Option("--dev-account", help="use devnet account N (devnets only)")
]
ManifestOpt = Annotated[
    Path | None,
    typer.Option(
        "--manifest",
        envvar="CREDLEDGER_MANIFEST",
        help="deployment manifest (default: <data dir>/deployments/<chainId>.json on a local "
        "devnet, deployments/<chainId>.json otherwise)",
        show_default=False,
    ),
]


@app.command()
def compile(
    check: Annotated[
        bool, typer.Option("--check", help="exit 1 if a rebuild would change the artifacts")
    ] = False,
    src: Annotated[Path, typer.Option("--src", help="folder of .sol sources")] = paths.SOURCES_DIR,
    out: Annotated[Path, typer.Option("--out", help="artifacts folder")] = paths.ARTIFACTS_DIR,
) -> None:
    """Compile contracts/src with the pinned solc into contracts/artifacts (in a checkout)."""
    if not src.is_dir():
        raise ToolchainError(
            f"no Solidity sources at {src}: compiling is for a source checkout (git clone); "
            "an installed credledger ships the compiled artifacts"
        )
    comp = compiler.find_compiler()
    with console.status(f"compiling with {comp.origin} solc {compiler.SOLC_VERSION} …"):
        artifacts = compiler.build_artifacts(compiler.source_files(src), compiler=comp)
    if check:
        problems = compiler.check_artifacts(artifacts, out)
        for p in problems:
            err_console.print(f"[red]✗[/red] {p}", highlight=False)
        if problems:
            raise typer.Exit(1)
        console.print(f"[green]✓[/green] {len(artifacts)} artifacts match the sources")
        return
    for path in compiler.write_artifacts(artifacts, out):
        console.print(f"wrote {path}")


def _print_devnet(info: object) -> None:
    from credledger.node.devnet import DevnetInfo

    assert isinstance(info, DevnetInfo)
    console.print(f"engine   {info.engine} (pid {info.pid})")
    console.print(f"rpc      {info.rpc_url}")
    console.print(f"chain id {info.chain_id}")
    if info.log:
        console.print(f"log      {info.log}")
    table = Table("dev account", "address", title="funded accounts (10000 ETH each)")
    for i, addr in enumerate(info.accounts()):
        table.add_row(str(i), addr)
    console.print(table)


@devnet_app.command("up")
def devnet_up(
    engine: Annotated[str, typer.Option(help="anvil or ganache")] = "anvil",
    port: Annotated[int, typer.Option(help="RPC port on 127.0.0.1")] = 8545,
    block_time: Annotated[
        float | None, typer.Option("--block-time", help="seconds per block (default: instant)")
    ] = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Start a local chain in the background (does nothing if one is running)."""
    if engine not in ("anvil", "ganache"):
        raise ConfigError(f"unknown engine {engine!r}; choose anvil or ganache")
    info, started = DevnetManager(state_dir).up(engine, port, block_time)  # type: ignore[arg-type]
    if not started:
        console.print(f"a devnet is already running ({info.engine} at {info.rpc_url})")
        return
    _print_devnet(info)


@devnet_app.command("status")
def devnet_status(state_dir: StateDirOpt = None) -> None:
    """Show the running devnet, or exit 1 if there is none."""
    info = DevnetManager(state_dir).current()
    if info is None:
        console.print("no devnet is running")
        raise typer.Exit(1)
    _print_devnet(info)


@devnet_app.command("down")
def devnet_down(state_dir: StateDirOpt = None) -> None:
    """Stop the devnet started by `devnet up`."""
    info = DevnetManager(state_dir).down()
    console.print(f"stopped {info.engine} (pid {info.pid})" if info else "no devnet is running")


def _sender(
    chain: Chain, keystore: Path | None, password: Path | None, dev: int | None
) -> TxSender:
    if keystore is None and dev is None:
        dev = 0
    return TxSender(chain, resolve_account(keystore, password, dev))


@app.command()
def deploy(
    rpc: RpcOpt = "http://127.0.0.1:8545",
    keystore: KeystoreOpt = None,
    password_file: PasswordOpt = None,
    dev_account: DevAccountOpt = None,
    manifest: ManifestOpt = None,
    data_dir: DataDirOpt = None,
    force: Annotated[bool, typer.Option("--force", help="deploy again over a manifest")] = False,
    with_catalogue: Annotated[
        bool,
        typer.Option("--with-catalogue", help="register the shipped licence-type catalogue"),
    ] = False,
) -> None:
    """Deploy the contracts in dependency order, wire their roles, write the manifest."""
    chain = Chain(parse_rpc(rpc))
    path = manifest or paths.default_manifest(chain.chain_id, data_dir)
    sender = _sender(chain, keystore, password_file, dev_account)
    result, new = deploy_contracts(chain, sender, path, force=force, progress=console.print)
    if not new:
        console.print(f"already deployed on chain {chain.chain_id} ({path}); --force to redeploy")
    for name, entry in result["contracts"].items():
        console.print(f"{name:<18} {entry['address']}")
    console.print(f"manifest {path}")
    if with_catalogue:
        from credledger.node.licences.cli_support import register_shipped_catalogue

        register_shipped_catalogue(chain, sender, result, console.print)


@app.command("verify-deployment")
def verify_deployment(
    rpc: RpcOpt, manifest: ManifestOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Compare each deployed contract's runtime code to its artifact; exit 1 on any mismatch."""
    chain = Chain(parse_rpc(rpc))
    path = manifest or paths.default_manifest(chain.chain_id, data_dir)
    results = verify_contracts(chain, path)
    for r in results:
        mark = "[green]✓[/green]" if r.ok else "[red]✗[/red]"
        console.print(f"{mark} {r.name:<18} {r.address}  {r.detail}", highlight=False)
    if not all(r.ok for r in results):
        raise typer.Exit(1)
