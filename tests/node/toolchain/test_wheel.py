"""The installable distribution: a wheel built from the working tree, installed (not editable)
into a new venv that cannot see the checkout, runs deploy, up --rpc, anchor and verify from a
temporary folder against an anvil.

The venv is made by the base interpreter without system site-packages; its dependencies come
from the package index at the versions of the dev venv (pip's cache makes that quick). Every
command runs with the temporary folder as cwd and no PYTHONPATH, and the test first proves that
`credledger` is imported from the venv's site-packages and that no checkout is visible.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from credledger.node.core.demo import DEMO_ENTERPRISE_USCC
from credledger.node.devnet import DevnetInfo, free_port, launch, terminate
from tests.support.clone import clone_working_tree
from tests.support.procs import descendants, wait_gone

# building the C extension and installing the dependencies into a new venv take minutes
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a new venv holding the wheel of the working tree."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    clone_working_tree(src)
    dist = tmp / "dist"
    pip_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
        capture_output=True, text=True, timeout=600, env=pip_env,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("credledger-*.whl")
    base = getattr(sys, "_base_executable", sys.executable)
    venv = tmp / "venv"
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=300)
    # the dev venv's versions of everything but credledger itself
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True, text=True, check=True, env=pip_env,
    ).stdout  # fmt: skip
    constraints = tmp / "constraints.txt"
    constraints.write_text(
        "\n".join(ln for ln in frozen.splitlines() if ln and not ln.startswith("credledger"))
    )
    house = _wheelhouse(venv / "bin" / "python", constraints, wheel, pip_env)
    inst = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index",
         "--find-links", str(house), "-c", str(constraints), str(wheel)],
        capture_output=True, text=True, timeout=900, env=pip_env, cwd=tmp,
    )  # fmt: skip
    assert inst.returncode == 0, inst.stderr[-3000:]
    return venv / "bin"


def _wheelhouse(python: Path, constraints: Path, wheel: Path, env: dict[str, str]) -> Path:
    """The dependencies' wheels at the dev venv's versions, fetched (and built) once per version set
    (~/.cache/credledger/wheelhouse-<hash>), so later runs install without the network."""
    digest = hashlib.sha256(constraints.read_bytes()).hexdigest()[:16]
    house = Path.home() / ".cache" / "credledger" / f"wheelhouse-{digest}"
    if house.is_dir():
        return house
    partial = house.with_name(house.name + f".partial-{os.getpid()}")
    got = subprocess.run(
        [str(python), "-m", "pip", "wheel", "-q", "-w", str(partial), "-c", str(constraints),
         str(wheel)],
        capture_output=True, text=True, timeout=1200, env=env,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr[-3000:]
    for own in partial.glob("credledger-*"):
        own.unlink()
    try:
        partial.rename(house)
    except OSError:  # another run finished first
        shutil.rmtree(partial, ignore_errors=True)
    return house


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    d = tmp_path / "somewhere-else"
    d.mkdir()
    return d


def _env(bin_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CREDLEDGER_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    env["PATH"] = f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"  # no anvil on it
    return env


def _run(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "credledger"), *args],
        capture_output=True, text=True, cwd=cwd, env=_env(bin_dir), timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
def own_anvil(tmp_path: Path) -> Iterator[DevnetInfo]:
    _, info = launch("anvil", free_port(), None, tmp_path / "anvil.log")
    yield info
    terminate(info.pid)


def test_the_installed_package_does_not_see_the_checkout(installed: Path, elsewhere: Path) -> None:
    probe = (
        "import json, sys, credledger.node, credledger.artifacts\n"
        "from credledger.node.core import paths\n"
        "from credledger.node.core.artifacts import artifact_names\n"
        "from credledger.node.licences.catalogue import load_catalogue\n"
        "print(json.dumps({'node': credledger.node.__file__, 'path': sys.path,\n"
        "  'checkout': paths.is_checkout(), 'artifacts': artifact_names(),\n"
        "  'types': len(load_catalogue().types)}))\n"
    )
    r = subprocess.run(
        [str(installed / "python"), "-c", probe],
        capture_output=True, text=True, cwd=elsewhere, env=_env(installed),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    site = str(installed.parent / "lib")
    assert seen["node"].startswith(site), seen["node"]
    root = str(Path(__file__).resolve().parents[3])
    assert not any(p.startswith(root) for p in seen["path"] if p), seen["path"]
    assert seen["checkout"] is False
    assert seen["artifacts"] == [
        "AnchorRegistry",
        "ConsentRegistry",
        "LicenceRegistry",
        "PresentationLedger",
    ]
    assert seen["types"] == 25


WALLET_PROBE = """
import json, sys
from pathlib import Path
from credledger.node.core import paths
from credledger.wallet.crypto import MasterKey
from credledger.wallet.settings import load_wallet_settings, session_file
from credledger.wallet.store import WalletStore
s = load_wallet_settings()
store = WalletStore(s.data_dir / "wallet.sqlite3")  # what the runtime opens and writes first
MasterKey(s.data_dir / "master.key")
print(json.dumps({"data_dir": str(s.data_dir), "session": str(session_file()),
  "devnet_manifest": str(s.manifest_path(31337)), "manifest": str(s.manifest_path(1)),
  "version": store.version, "root": str(paths.ROOT)}))
"""


def test_the_installed_wallet_keeps_its_files_where_the_node_does(
    installed: Path, elsewhere: Path, tmp_path: Path
) -> None:
    """The wallet's data dir, manifest and CLI session default to the node's places (the current
    folder's .credledger/, or CREDLEDGER_DATA_DIR), never the checkout or site-packages."""
    site = installed.parent / "lib"
    before = sorted(str(p) for p in site.rglob("*") if "__pycache__" not in p.parts)

    def probe(env: dict[str, str]) -> dict[str, Any]:
        r = subprocess.run(
            [str(installed / "python"), "-c", WALLET_PROBE],
            capture_output=True, text=True, cwd=elsewhere, env=env,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        seen: dict[str, Any] = json.loads(r.stdout)
        return seen

    here = probe(_env(installed))
    dot = elsewhere / ".credledger"
    assert here["data_dir"] == str(dot / "wallet")
    assert here["session"] == str(dot / "wallet-session.json")
    assert here["devnet_manifest"] == str(dot / "deployments" / "31337.json")
    assert here["manifest"] == str(elsewhere / "deployments" / "1.json")
    assert {p.name for p in (dot / "wallet").iterdir()} >= {"wallet.sqlite3", "master.key"}
    assert here["version"] >= 1

    data = tmp_path / "node-data"
    there = probe({**_env(installed), "CREDLEDGER_DATA_DIR": str(data)})
    assert there["data_dir"] == str(data / "wallet")
    assert there["session"] == str(data / "wallet-session.json")
    assert there["devnet_manifest"] == str(data / "deployments" / "31337.json")
    assert (data / "wallet" / "wallet.sqlite3").is_file()

    checkout = str(Path(__file__).resolve().parents[3])
    for seen in (here, there):
        for key in ("data_dir", "session", "devnet_manifest", "manifest"):
            assert not seen[key].startswith((str(site), checkout, seen["root"])), (key, seen)
    after = sorted(str(p) for p in site.rglob("*") if "__pycache__" not in p.parts)
    assert after == before  # nothing written into site-packages


def test_up_without_rpc_or_anvil_says_how_to_get_it(installed: Path, elsewhere: Path) -> None:
    r = _run(installed, elsewhere, "up", "--port", str(free_port()), "--chain-port", "1")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "anvil not found" in r.stderr and "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1
    compile_ = _run(installed, elsewhere, "compile", "--check")
    assert compile_.returncode == 2 and "source checkout" in compile_.stderr


def test_deploy_up_anchor_verify_from_a_temporary_folder(
    installed: Path, elsewhere: Path, own_anvil: DevnetInfo
) -> None:
    rpc = own_anvil.rpc_url
    deployed = _run(installed, elsewhere, "deploy", "--rpc", rpc)
    assert deployed.returncode == 0, deployed.stderr
    manifest = elsewhere / ".credledger" / "deployments" / "31337.json"
    assert manifest.is_file()
    checked = _run(installed, elsewhere, "verify-deployment", "--rpc", rpc)
    assert checked.returncode == 0 and checked.stdout.count("✓") == 4, checked.stdout

    port = free_port()
    log = elsewhere / "up.log"
    with open(log, "wb") as out:
        up = subprocess.Popen(
            [str(installed / "credledger"), "up", "--rpc", rpc, "--port", str(port)],
            cwd=elsewhere, env=_env(installed), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        ready = False
        while time.monotonic() < deadline and not ready:
            assert up.poll() is None, log.read_text()
            started |= descendants(up.pid)
            try:
                r = httpx.get(f"{base}/v1/enterprises/{DEMO_ENTERPRISE_USCC}", timeout=2)
                ready = r.status_code == 200 and len(r.json()["licences"]) == 2
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert ready, log.read_text()
        assert httpx.get(base + "/health").json()["contracts"] == {
            name: entry["address"]
            for name, entry in json.loads(manifest.read_text())["contracts"].items()
        }
        doc = elsewhere / "permit.pdf"
        doc.write_bytes(b"%PDF installed-package test " + os.urandom(16))
        anchored = _run(installed, elsewhere, "anchor", str(doc), "--node", base, "--wait",
                        "--token", "devnet-wallet-token")  # fmt: skip
        assert anchored.returncode == 0, anchored.stdout + anchored.stderr
        receipt = elsewhere / "permit.pdf.receipt.json"
        verified = _run(installed, elsewhere, "verify", str(doc), "--receipt", str(receipt),
                        "--rpc", f"127.0.0.1:{own_anvil.port}")  # fmt: skip
        assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=60)
    assert up.returncode == 0, log.read_text()
    assert wait_gone(started, [port]) == []
