"""The CLI's extension hooks (node/core/plugins.py): entry-point groups `credledger.cli` and
`credledger.companions`. Entry points here are real `EntryPoint` objects naming functions of
this module (installed metadata is what `group_entry_points` reads; it is checked on the
distribution's own console script)."""

from __future__ import annotations

import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import httpx
import typer
from typer.testing import CliRunner

from credledger.node.core import plugins
from credledger.node.devnet import free_port, terminate
from tests.support.procs import wait_gone

HERE = "tests.node.toolchain.test_plugins"
extra = typer.Typer(help="a command group from another package")


@extra.command("hello")
def hello(name: str = "world") -> None:
    print(f"hello {name}")


def companion(ctx: plugins.CompanionContext) -> plugins.Companion:
    port = ctx.ports["echo"]
    return plugins.Companion(
        name="echo",
        argv=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        health_url=f"http://127.0.0.1:{port}/",
        cwd=ctx.data_dir,
    )


def no_companion(ctx: plugins.CompanionContext) -> None:
    return None


def broken(ctx: plugins.CompanionContext) -> plugins.Companion:
    raise RuntimeError("cannot start")


def _ep(name: str, attr: str, group: str) -> EntryPoint:
    return EntryPoint(name, f"{HERE}:{attr}", group)


def test_installed_entry_points_are_enumerated() -> None:
    scripts = plugins.group_entry_points("console_scripts")
    assert "credledger.node.cli:main" in [ep.value for ep in scripts if ep.name == "credledger"]
    assert plugins.group_entry_points("credledger.no-such-group") == []


def test_a_command_group_is_added_and_a_broken_one_warns() -> None:
    app = typer.Typer()

    @app.command()
    def own() -> None:
        """the app's own command"""

    warnings: list[str] = []
    added = plugins.register_commands(
        app,
        warnings.append,
        [_ep("extra", "extra", plugins.CLI_GROUP), _ep("gone", "nothing_here", plugins.CLI_GROUP)],
    )
    assert added == ["extra"]
    assert len(warnings) == 1 and "'gone'" in warnings[0]
    result = CliRunner().invoke(app, ["extra", "hello", "--name", "clerk"])
    assert result.exit_code == 0 and result.output.strip() == "hello clerk"


def test_a_companion_starts_answers_and_stops(tmp_path: Path) -> None:
    port = free_port()
    ctx = plugins.CompanionContext(
        node_url="http://127.0.0.1:1",
        rpc_urls=["http://127.0.0.1:2"],
        chain_id=31337,
        manifest=tmp_path / "m.json",
        data_dir=tmp_path,
        ports={"echo": port},
        demo=False,
    )
    warnings: list[str] = []
    specs = plugins.companion_specs(
        ctx,
        warnings.append,
        [
            _ep("echo", "companion", plugins.COMPANION_GROUP),
            _ep("off", "no_companion", plugins.COMPANION_GROUP),
            _ep("broken", "broken", plugins.COMPANION_GROUP),
        ],
    )
    assert [name for name, _ in specs] == ["echo"]
    assert len(warnings) == 1 and "cannot start" in warnings[0]
    said: list[str] = []
    running = plugins.start_companion(specs[0][1], tmp_path / "logs")
    try:
        plugins.report_when_healthy(running, said.append, timeout=30).join(35)
        assert said and "(ready)" in said[0], said
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
        assert running.log == tmp_path / "logs" / "echo.log"
    finally:
        terminate(running.proc.pid)
    assert wait_gone([running.proc.pid], [port]) == []
