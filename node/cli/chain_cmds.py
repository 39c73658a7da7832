"""Foundation commands: compile, devnet, deploy, verify-deployment, up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from credledger.node import compiler, paths
from credledger.node.chain import Chain
from credledger.node.cli._app import app, console, err_console
from credledger.node.deploy import deploy as deploy_contracts
from credledger.node.deploy import verify_deployment as verify_contracts
from credledger.node.devnet import DevnetManager, Engine, launch, terminate
from credledger.node.errors import ConfigError
from credledger.node.signer import resolve_account
from credledger.node.tx import TxSender

devnet_app = typer.Typer(help="A local chain from the pinned npm toolchain.", no_args_is_help=True)
app.add_typer(devnet_app, name="devnet")

StateDirOpt = Annotated[
    Path,
    typer.Option(
        "--state-dir", envvar="CREDLEDGER_DEVNET_DIR", help="where the devnet's pid and log live"
    ),
]
DEFAULT_DEVNET_DIR = paths.STATE_DIR / "devnet"

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
    typer.Option("--manifest", help="deployment manifest (default deployments/<chainId>.json)"),
]


@app.command()
def compile(
    check: Annotated[
        bool, typer.Option("--check", help="exit 1 if a rebuild would change the artifacts")
    ] = False,
    src: Annotated[Path, typer.Option("--src", help="folder of .sol sources")] = paths.SOURCES_DIR,
    out: Annotated[Path, typer.Option("--out", help="artifacts folder")] = paths.ARTIFACTS_DIR,
) -> None:
    """Compile contracts/src with the pinned solc into contracts/artifacts."""
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
    state_dir: StateDirOpt = DEFAULT_DEVNET_DIR,
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
def devnet_status(state_dir: StateDirOpt = DEFAULT_DEVNET_DIR) -> None:
    """Show the running devnet, or exit 1 if there is none."""
    info = DevnetManager(state_dir).current()
    if info is None:
        console.print("no devnet is running")
        raise typer.Exit(1)
    _print_devnet(info)


@devnet_app.command("down")
def devnet_down(state_dir: StateDirOpt = DEFAULT_DEVNET_DIR) -> None:
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
    force: Annotated[bool, typer.Option("--force", help="deploy again over a manifest")] = False,
    with_catalogue: Annotated[
        bool,
        typer.Option("--with-catalogue", help="register the shipped licence-type catalogue"),
    ] = False,
) -> None:
    """Deploy the contracts in dependency order, wire their roles, write the manifest."""
    chain = Chain([rpc])
    path = manifest or paths.DEPLOYMENTS_DIR / f"{chain.chain_id}.json"
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
def verify_deployment(rpc: RpcOpt, manifest: ManifestOpt = None) -> None:
    """Compare each deployed contract's runtime code to its artifact; exit 1 on any mismatch."""
    chain = Chain([rpc])
    path = manifest or paths.DEPLOYMENTS_DIR / f"{chain.chain_id}.json"
    results = verify_contracts(chain, path)
    for r in results:
        mark = "[green]✓[/green]" if r.ok else "[red]✗[/red]"
        console.print(f"{mark} {r.name:<18} {r.address}  {r.detail}", highlight=False)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command()
def up(
    rpc: Annotated[
        str | None,
        typer.Option("--rpc", help="use this chain instead of anvil (URL,URL… to fail over)"),
    ] = None,
    port: Annotated[int, typer.Option(help="node HTTP port")] = 8600,
    chain_port: Annotated[int, typer.Option("--chain-port", help="anvil port")] = 8545,
    block_time: Annotated[float | None, typer.Option("--block-time")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir")] = None,
    demo: Annotated[
        bool | None,
        typer.Option(
            "--demo/--no-demo",
            help="demo departments, tokens and enterprise (default: on for the local devnet)",
        ),
    ] = None,
) -> None:
    """Start anvil (or use --rpc), deploy or reuse the contracts, and serve the node's API."""
    import uvicorn

    from credledger.node.api.app import create_app
    from credledger.node.assembly import build_runtime
    from credledger.node.licences import demo as licence_demo
    from credledger.node.settings import load_settings

    proc_pid: int | None = None
    started_here: list[str] = []
    demo = (rpc is None) if demo is None else demo
    try:
        running = DevnetManager().current() if rpc is None else None
        if running is not None:
            rpc = running.rpc_url
            console.print(f"using the running devnet ({running.engine} at {rpc})")
        if rpc is None:
            engine: Engine = "anvil"
            _, info = launch(engine, chain_port, block_time, paths.STATE_DIR / "up-anvil.log")
            proc_pid = info.pid
            rpc = info.rpc_url
            started_here.append(f"anvil at {rpc} (chain {info.chain_id})")
        rpc_urls = [u.strip() for u in rpc.split(",") if u.strip()]
        overrides: dict[str, object] = {"chain": {"rpc_urls": rpc_urls}, "api": {"port": port}}
        if data_dir is not None:
            overrides["data_dir"] = data_dir
        settings = load_settings(**overrides)
        if demo:
            settings = licence_demo.enable(settings)
        chain = Chain(settings.chain.rpc_urls)
        sender = TxSender(
            chain,
            resolve_account(
                settings.signer.keystore,
                settings.signer.password_file,
                settings.signer.dev_account,
            ),
        )
        deploy_contracts(
            chain, sender, settings.manifest_path(chain.chain_id), force=proc_pid is not None
        )
        runtime = build_runtime(settings)
        runtime.start()  # early, so the indexer follows the demo set-up; the app's lifespan
        # would start the workers too (start is idempotent) and stops them on exit
        if settings.licences.demo:
            licence_demo.prepare(runtime, console.print)
        app_ = create_app(runtime)
        for line in started_here:
            console.print(f"started {line}")
        for name, addr in runtime.contracts.items():
            console.print(f"{name:<18} {addr}")
        console.print(f"node API  http://{settings.api.host}:{settings.api.port}  (Ctrl-C stops)")
        console.print(f"health    http://{settings.api.host}:{settings.api.port}/health")
        try:
            uvicorn.run(app_, host=settings.api.host, port=settings.api.port, log_level="warning")
        finally:
            runtime.stop()
    finally:
        if proc_pid is not None:
            terminate(proc_pid)
            console.print("stopped anvil")
