"""Deployment and verification against real anvil and ganache, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from credledger.node.core.chain import Chain
from credledger.node.deploy import PLAN
from credledger.node.devnet import DevnetInfo, free_port
from tests.conftest import run_cli


def _deploy(rpc: str, manifest: Path, *extra: str) -> tuple[int, str, str]:
    r = run_cli("deploy", "--rpc", rpc, "--dev-account", "0", "--manifest", str(manifest), *extra)
    return r.returncode, r.stdout, r.stderr


@pytest.mark.parametrize("engine", ["anvil", "ganache"])
def test_deploy_then_verify(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    info: DevnetInfo = request.getfixturevalue(engine)
    manifest = tmp_path / f"{info.chain_id}.json"
    rc, out, err = _deploy(info.rpc_url, manifest)
    assert rc == 0, err
    data = json.loads(manifest.read_text())
    assert data["chainId"] == info.chain_id
    assert [*data["contracts"]] == [spec.name for spec in PLAN]
    for entry in data["contracts"].values():
        assert entry["address"].startswith("0x") and len(entry["address"]) == 42
        assert entry["transactionHash"].startswith("0x")
        assert entry["artifactHash"].startswith("0x")
        assert entry["blockNumber"] >= 1
    assert data["deployer"] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

    verify = run_cli("verify-deployment", "--rpc", info.rpc_url, "--manifest", str(manifest))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.count("✓") == len(PLAN)

    # running it again is a no-op; --force deploys new contracts
    rc, out, _ = _deploy(info.rpc_url, manifest)
    assert rc == 0 and "already deployed" in out
    assert json.loads(manifest.read_text()) == data
    rc, out, _ = _deploy(info.rpc_url, manifest, "--force")
    assert rc == 0
    assert json.loads(manifest.read_text())["contracts"] != data["contracts"]


def test_verify_fails_after_code_is_replaced(anvil: DevnetInfo, tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    assert _deploy(anvil.rpc_url, manifest)[0] == 0
    data = json.loads(manifest.read_text())
    victim = next(iter(data["contracts"]))
    address = data["contracts"][victim]["address"]
    chain = Chain([anvil.rpc_url])
    original = chain.code_at(address)
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0xFF
    chain.w3.provider.make_request("anvil_setCode", [address, "0x" + tampered.hex()])  # type: ignore[arg-type]
    result = run_cli("verify-deployment", "--rpc", anvil.rpc_url, "--manifest", str(manifest))
    assert result.returncode == 1
    assert f"✗ {victim}" in result.stdout
    assert "differs" in result.stdout

    chain.w3.provider.make_request("anvil_setCode", [address, "0x"])  # type: ignore[arg-type]
    result = run_cli("verify-deployment", "--rpc", anvil.rpc_url, "--manifest", str(manifest))
    assert result.returncode == 1 and "no code at this address" in result.stdout


def test_manifest_for_another_chain_is_refused(anvil: DevnetInfo, tmp_path: Path) -> None:
    manifest = tmp_path / "m.json"
    assert _deploy(anvil.rpc_url, manifest)[0] == 0
    data = json.loads(manifest.read_text())
    data["chainId"] = 5
    manifest.write_text(json.dumps(data))
    for args in (
        ("verify-deployment", "--rpc", anvil.rpc_url, "--manifest", str(manifest)),
        ("deploy", "--rpc", anvil.rpc_url, "--manifest", str(manifest)),
    ):
        result = run_cli(*args)
        assert result.returncode == 2, result.stdout
        assert f"is for chain 5, but {anvil.rpc_url} is chain {anvil.chain_id}" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["deploy", "verify-deployment"])
def test_unreachable_rpc_is_one_line_exit_2(command: str, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_cli(command, "--rpc", url, "--manifest", str(tmp_path / "m.json"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0]


def test_keystore_deployer(anvil: DevnetInfo, tmp_path: Path) -> None:
    from credledger.node.core.signer import create_keystore

    keystore, password = tmp_path / "key.json", tmp_path / "pw"
    password.write_text("correct horse\n")
    address = create_keystore(keystore, "correct horse")
    chain = Chain([anvil.rpc_url])
    chain.w3.provider.make_request("anvil_setBalance", [address, hex(10**20)])  # type: ignore[arg-type]
    manifest = tmp_path / "m.json"
    result = run_cli(
        "deploy", "--rpc", anvil.rpc_url, "--keystore", str(keystore),
        "--password-file", str(password), "--manifest", str(manifest),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(manifest.read_text())["deployer"] == address
    assert "correct horse" not in result.stdout + result.stderr

    password.write_text("wrong")
    result = run_cli(
        "deploy", "--rpc", anvil.rpc_url, "--keystore", str(keystore),
        "--password-file", str(password), "--manifest", str(tmp_path / "m2.json"),
    )  # fmt: skip
    assert result.returncode == 2
    assert "wrong password" in result.stderr
