"""Reproducible builds: the committed artifacts are what the sources compile to."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from credledger.node import compiler
from credledger.node.core import paths
from tests.conftest import run_cli


@pytest.fixture
def scratch_sources() -> Iterator[Path]:
    """A copy of the contract sources inside the project root (remappings are root-relative)."""
    base = paths.STATE_DIR / f"test-compile-{os.getpid()}"
    shutil.rmtree(base, ignore_errors=True)
    shutil.copytree(paths.SOURCES_DIR, base / "src")
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_committed_artifacts_match_sources() -> None:
    result = run_cli("compile", "--check")
    assert result.returncode == 0, result.stderr
    assert "artifacts match the sources" in result.stdout


def test_check_fails_after_a_source_edit(scratch_sources: Path) -> None:
    src, out = scratch_sources / "src", scratch_sources / "artifacts"
    built = run_cli("compile", "--src", str(src), "--out", str(out))
    assert built.returncode == 0, built.stderr
    assert (out / "AnchorRegistry.json").is_file()
    assert run_cli("compile", "--check", "--src", str(src), "--out", str(out)).returncode == 0

    target = src / "AnchorRegistry.sol"
    # even a comment changes the metadata hash appended to the bytecode
    target.write_text(target.read_text() + "\n// edited after the build\n")
    result = run_cli("compile", "--check", "--src", str(src), "--out", str(out))
    assert result.returncode == 1
    assert "AnchorRegistry: artifact differs from a fresh build" in result.stderr


def test_check_reports_missing_and_stale_artifacts(scratch_sources: Path) -> None:
    out = scratch_sources / "artifacts"
    out.mkdir()
    (out / "Gone.json").write_text("{}")
    problems = compiler.check_artifacts(
        compiler.build_artifacts(compiler.source_files(scratch_sources / "src")), out
    )
    assert any(p.startswith("AnchorRegistry: artifact missing") for p in problems)
    assert "Gone: artifact has no contract in the sources any more" in problems


def test_artifact_carries_what_deployment_and_audits_need() -> None:
    art = json.loads((paths.ARTIFACTS_DIR / "AnchorRegistry.json").read_text())
    assert art["compiler"]["version"].startswith(compiler.SOLC_VERSION)
    assert art["compiler"]["settings"]["evmVersion"] == compiler.EVM_VERSION
    assert art["bytecode"].startswith("0x60") and art["deployedBytecode"].startswith("0x60")
    assert "contracts/src/AnchorRegistry.sol" in art["sourceHashes"]
    assert isinstance(art["immutableReferences"], dict)
    # Paris target: no PUSH0 (0x5f) in executable code would run on ganache 7.9 and QBFT.
    assert art["compiler"]["settings"]["evmVersion"] == "paris"


def test_compile_errors_are_one_clear_message(scratch_sources: Path) -> None:
    bad = scratch_sources / "src" / "Broken.sol"
    bad.write_text("pragma solidity ^0.8.28; contract Broken { function f() { } }")
    result = run_cli(
        "compile", "--src", str(scratch_sources / "src"), "--out", str(scratch_sources / "o")
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "solc failed" in result.stderr
