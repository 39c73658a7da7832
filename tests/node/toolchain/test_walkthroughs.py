"""The README's and docs/licences.md's shell walkthroughs, pasted as they are into bash against
a node started as `make run` starts it (with the demo). Only the ports differ: the text's
127.0.0.1:8600 / 127.0.0.1:8545 become this node's. No CREDLEDGER_NODE_URL: the CLI finds the
node through the endpoints file `up` writes in its data dir (CREDLEDGER_DATA_DIR stands for
running in the folder `make run` ran in)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from credledger.node.devnet import free_port
from tests.support.node_process import ROOT, UpProcess

pytestmark = pytest.mark.slow
HASH = re.compile(r"^0x[0-9a-f]{64}$")


def shell_blocks(markdown: Path) -> list[str]:
    """The ```sh blocks of a Markdown file, without the lines that start a server."""
    blocks = re.findall(r"^```sh\n(.*?)^```", markdown.read_text(encoding="utf-8"), re.M | re.S)
    keep = []
    for block in blocks:
        lines = [
            ln
            for ln in block.splitlines()
            if not re.match(r"\s*(make run|(\.venv/bin/)?credledger up)\b", ln)
        ]
        keep.append("\n".join(lines) + "\n")
    return keep


def test_shell_blocks_are_found_and_server_lines_dropped() -> None:
    blocks = shell_blocks(ROOT / "README.md")
    assert any("credledger anchor" in b for b in blocks)
    assert any("/v1/licences" in b for b in blocks)
    assert not any("credledger up" in b for b in blocks)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[UpProcess, int]]:
    tmp = tmp_path_factory.mktemp("walkthrough")
    chain_port = free_port()
    n = UpProcess(tmp, chain_port=chain_port, demo=None, env={"CREDLEDGER_LOG_LEVEL": "WARNING"})
    n.start()
    try:
        n.wait_ready("/v1/enterprises/91310000MA1FL1234Q", lambda r: r.status_code == 200)
        yield n, chain_port
    finally:
        n.stop()


def _paste(block: str, node: UpProcess, chain_port: int, cwd: Path, tail: str = "") -> str:
    script = block.replace("127.0.0.1:8600", f"127.0.0.1:{node.port}")
    script = script.replace("127.0.0.1:8545", f"127.0.0.1:{chain_port}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDLEDGER_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["CREDLEDGER_DATA_DIR"] = str(node.data_dir)
    cwd.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script + tail],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert r.returncode == 0, (
        f"exit {r.returncode}\n{script}\n--- out\n{r.stdout}\n--- err\n{r.stderr}"
    )
    assert "Traceback" not in r.stderr
    return r.stdout


def _block(path: Path, marker: str) -> str:
    (found,) = [b for b in shell_blocks(path) if marker in b]
    return found


def test_readme_anchoring_walkthrough(node: tuple[UpProcess, int], tmp_path: Path) -> None:
    n, chain_port = node
    out = _paste(_block(ROOT / "README.md", "credledger anchor"), n, chain_port, tmp_path)
    assert out.rstrip().endswith("VERIFIED") and "NOT VERIFIED" not in out


def test_readme_licence_walkthrough(node: tuple[UpProcess, int], tmp_path: Path) -> None:
    n, chain_port = node
    block = _block(ROOT / "README.md", "/v1/licences")
    out = _paste(block, n, chain_port, tmp_path, tail='echo "L=$L"\n')
    licence = out.rsplit("L=", 1)[1].strip()
    assert HASH.match(licence), out
    verdicts = re.findall(r'"verdict":\s*"([A-Z_]+)"', out)
    assert verdicts[:2] == ["VALID", "SUSPENDED"], out


def test_licences_doc_walkthroughs(node: tuple[UpProcess, int], tmp_path: Path) -> None:
    n, chain_port = node
    doc = ROOT / "docs" / "licences.md"
    out = _paste(_block(doc, "N=http"), n, chain_port, tmp_path, 'echo "L=$L V=$V"\n')
    ids = dict(part.split("=", 1) for part in out.strip().splitlines()[-1].split())
    assert HASH.match(ids["L"]) and ids["V"] not in ("", "null"), out
    verdicts = re.findall(r'"verdict":\s*"([A-Z_]+)"', out)
    assert verdicts[:2] == ["VALID", "SUSPENDED"], out
    assert '"ACTIVE"' in out  # reinstated
    cli = _paste(_block(doc, "export CREDLEDGER_TOKEN"), n, chain_port, tmp_path)
    assert "VALID" in cli and "SUSPENDED" in cli and "registered FOOD-CENTRAL-KITCHEN" in cli


def test_counter_doc_suspension_walkthrough(node: tuple[UpProcess, int], tmp_path: Path) -> None:
    n, chain_port = node
    out = _paste(_block(ROOT / "docs" / "counter.md", "demo-token"), n, chain_port, tmp_path)
    lines = out.split()
    assert lines == ['["VALID",["VALID","VALID"]]', "SUSPENDED",
                     '["INVALID",["SUSPENDED",1]]', "ACTIVE"], out  # fmt: skip
