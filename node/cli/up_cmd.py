"""`credledger up`: a chain (anvil, or --rpc), the contracts, the node's API and its companions."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated

import typer

from credledger.node.cli._app import app, console, err_console, parse_rpc, record_endpoints
from credledger.node.core import paths, plugins
from credledger.node.core.chain import Chain
from credledger.node.core.manifest import load_manifest
from credledger.node.devnet import DevnetManager, launch, terminate
from credledger.node.settings import Settings, load_settings

DEFAULT_WALLET_PORT = 8700


def _say(line: str) -> None:
    console.print(line, highlight=False)


def _warn(line: str) -> None:
    err_console.print(line, highlight=False)


@app.command()
def up(
    rpc: Annotated[
        str | None,
        typer.Option(
            "--rpc",
            help="use this chain instead of starting anvil (URL or host:port; URL,URL… fails over)",
        ),
    ] = None,
    port: Annotated[int, typer.Option(help="node HTTP port")] = 8600,
    chain_port: Annotated[int, typer.Option("--chain-port", help="port of the anvil it starts")] = (
        8545
    ),
    block_time: Annotated[float | None, typer.Option("--block-time")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="where everything the node writes lives (default: .credledger/; "
            "env CREDLEDGER_DATA_DIR)",
            show_default=False,
        ),
    ] = None,
    demo: Annotated[
        bool | None,
        typer.Option(
            "--demo/--no-demo",
            help="demo departments, tokens and enterprise (default: on for a local devnet "
            "chain, id 31337 or 1337, also with --rpc)",
            show_default=False,
        ),
    ] = None,
    wallet_port: Annotated[
        int,
        typer.Option(
            "--wallet-port",
            envvar="CREDLEDGER_WALLET_PORT",
            help="port of the wallet companion, when the wallet is installed",
        ),
    ] = DEFAULT_WALLET_PORT,
    companions: Annotated[
        bool,
        typer.Option(
            "--companions/--no-companions",
            help="also start the services installed beside the node (e.g. the wallet)",
        ),
    ] = True,
) -> None:
    """Start anvil (or use --rpc), deploy or reuse the contracts, and serve the node's API."""
    from credledger.node.app import create_app
    from credledger.node.assembly import build_runtime
    from credledger.node.core.http.server import serve
    from credledger.node.core.signer import resolve_account
    from credledger.node.core.tx import TxSender
    from credledger.node.demo import counter as counter_demo
    from credledger.node.demo import credentials as credentials_demo
    from credledger.node.demo import licences as licence_demo
    from credledger.node.deploy import deploy as deploy_contracts

    _exit_cleanly_on(signal.SIGTERM, signal.SIGHUP)
    rpc_urls = parse_rpc(rpc) if rpc is not None else None
    overrides: dict[str, object] = {"api": {"port": port}}
    if rpc_urls is not None:
        overrides["chain"] = {"rpc_urls": rpc_urls}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    settings = load_settings(**overrides)
    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    _say(f"data dir  {data}")

    anvil_pid: int | None = None
    running: list[plugins.RunningCompanion] = []
    try:
        if rpc_urls is None:
            devnet = DevnetManager(
                Path(os.environ["CREDLEDGER_DEVNET_DIR"])
                if os.environ.get("CREDLEDGER_DEVNET_DIR")
                else data / "devnet"
            ).current()
            if devnet is not None:
                rpc_urls = [devnet.rpc_url]
                _say(f"using the running devnet ({devnet.engine} at {devnet.rpc_url})")
            else:
                _, info = launch("anvil", chain_port, block_time, data / "anvil.log", tied=True)
                anvil_pid = info.pid
                rpc_urls = [info.rpc_url]
                _say(f"started   anvil at {info.rpc_url} (chain {info.chain_id}, log {info.log})")
            settings = settings.model_copy(
                update={"chain": settings.chain.model_copy(update={"rpc_urls": rpc_urls})}
            )
        chain = Chain(settings.chain.rpc_urls, settings.chain.request_timeout)
        local = chain.chain_id in paths.DEVNET_CHAIN_IDS and settings.chain.kind == "devnet"
        if demo is None:
            demo = local
        if demo:
            settings = licence_demo.enable(settings)
        _say(_demo_line(settings, demo, local, chain.chain_id))
        sender = TxSender(
            chain,
            resolve_account(
                settings.signer.keystore,
                settings.signer.password_file,
                settings.signer.dev_account,
            ),
        )
        manifest = settings.manifest_path(chain.chain_id)
        deploy_contracts(
            chain, sender, manifest, force=anvil_pid is not None or _stale(chain, manifest, local)
        )
        _say(f"manifest  {manifest}")
        runtime = build_runtime(settings)
        # start early, so the indexer follows the demo set-up; the app's lifespan would start the
        # workers too (start is idempotent) and stops them on exit
        runtime.start()
        try:
            if settings.licences.demo:
                licence_demo.prepare(runtime, _say)
                credentials_demo.prepare(runtime, _say)
                counter_demo.prepare(runtime, _say)
            app_ = create_app(runtime)
            for name, addr in runtime.contracts.items():
                _say(f"{name:<18} {addr}")
            base = f"http://{settings.api.host}:{settings.api.port}"
            if companions:
                running = _start_companions(settings, base, chain.chain_id, manifest, wallet_port)
            # the CLI finds what `up` started without flags or variables (see _app.recorded_url)
            urls = {"node": base, "rpc": settings.chain.rpc_urls[0]}
            urls.update({c.spec.name: c.spec.url for c in running if c.spec.url})
            endpoints = record_endpoints(data, urls)
            _say(f"endpoints {endpoints}  (the CLI reads it: no --node/--wallet needed)")
            _say(f"node API  {base}  (Ctrl-C stops)")
            _say(f"health    {base}/health")
            _say(f"clerk     {base}/clerk  (the counter: verify presentations and documents)")
            _say(f"ent. code {base}/e/<USCC>  (what an enterprise's QR code opens)")
            serve(
                app_,
                settings.api.host,
                settings.api.port,
                header_timeout=settings.api.header_timeout,
                trusted_proxies=settings.api.trusted_proxies,
            )
        finally:
            runtime.stop()
    finally:
        (data / "endpoints.json").unlink(missing_ok=True)
        for c in reversed(running):
            terminate(c.proc.pid)
            _say(f"stopped {c.spec.name}")
        if anvil_pid is not None:
            terminate(anvil_pid)
            _say("stopped anvil")


def _exit_cleanly_on(*signals: signal.Signals) -> None:
    """SIGTERM / SIGHUP end `up` like Ctrl-C does: through the ``finally`` that stops anvil.

    (uvicorn handles them while it serves, then re-raises them under the handler found before.)
    """

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for sig in signals:
        signal.signal(sig, stop)


def _demo_line(settings: Settings, asked: bool, local: bool, chain_id: int) -> str:
    if settings.licences.demo:
        return (
            f"demo      on: demo departments, tokens and enterprise on chain {chain_id} "
            "(--no-demo turns it off)"
        )
    if not asked:
        return "demo      off (--no-demo)"
    if not local:
        return f"demo      off: chain {chain_id} is not a local devnet (31337 or 1337)"
    return f"demo      off: chain.kind is {settings.chain.kind}, not devnet"


def _stale(chain: Chain, manifest: Path, local: bool) -> bool:
    """A local devnet's manifest whose contracts are gone (the devnet was restarted)."""
    if not local or not manifest.is_file():
        return False
    try:
        contracts = load_manifest(manifest)["contracts"].values()
    except Exception:
        return False
    gone = not all(chain.code_at(c["address"]) for c in contracts)
    if gone:
        _say(f"the contracts in {manifest} are not on this devnet any more: deploying again")
    return gone


def _start_companions(
    settings: Settings, node_url: str, chain_id: int, manifest: Path, wallet_port: int
) -> list[plugins.RunningCompanion]:
    ctx = plugins.CompanionContext(
        node_url=node_url,
        rpc_urls=list(settings.chain.rpc_urls),
        chain_id=chain_id,
        manifest=manifest,
        data_dir=settings.data_dir,
        ports={"wallet": wallet_port},
        demo=settings.licences.demo,
        env={k: v for k, v in os.environ.items() if k.startswith("CREDLEDGER_")},
    )
    started = []
    for _name, spec in plugins.companion_specs(ctx, _warn):
        run = plugins.start_companion(spec, settings.data_dir / "logs")
        started.append(run)
        _say(f"started   {spec.name} (pid {run.proc.pid}, log {run.log})")
    # The companions need nothing from the node to boot: wait (bounded) until they answer, so
    # that once the node's own /health answers, everything `up` printed is usable.
    for watcher in [plugins.report_when_healthy(run, _say) for run in started]:
        watcher.join()
    return started
