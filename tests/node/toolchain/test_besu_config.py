"""The Besu QBFT generator writes a genesis whose extraData names exactly its validators."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import rlp
from eth_keys import keys

from tests.conftest import ROOT

GENERATOR = ROOT / "hardhat-free-devnet" / "besu-qbft" / "generate.py"


def test_generated_network_is_consistent(tmp_path: Path) -> None:
    funded = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    args = ["--out", str(tmp_path), "--chain-id", "4242", "--fund", funded]
    subprocess.run([sys.executable, str(GENERATOR), *args], check=True, capture_output=True)
    genesis = json.loads((tmp_path / "genesis.json").read_text())
    assert genesis["config"]["chainId"] == 4242
    assert genesis["config"]["qbft"]["blockperiodseconds"] == 2
    assert funded.lower()[2:] in genesis["alloc"]

    vanity, validators, vote, round_, seals = rlp.decode(bytes.fromhex(genesis["extraData"][2:]))
    assert vanity == b"\0" * 32 and vote == [] and round_ == b"" and seals == []
    expected = []
    for i in range(1, 5):
        key_file = tmp_path / f"validator-{i}" / "key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key = keys.PrivateKey(bytes.fromhex(key_file.read_text()))
        expected.append(key.public_key.to_canonical_address())
    assert validators == sorted(expected)
    assert (tmp_path / ".env").read_text().startswith("BOOTNODE=enode://")


def test_fewer_than_four_validators_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(tmp_path), "--validators", "3"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "at least 4" in result.stderr
