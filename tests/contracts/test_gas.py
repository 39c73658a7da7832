"""Gas budgets, asserted exactly: a fresh measurement must equal the committed gas report.

Gas is deterministic (fixed inputs, contracts at fixed addresses from a dedicated key), so any
change that moves gas fails here until ``scripts/gas_report.py`` is run and the new report is
committed; the budgets of issues 3, 9 and 20 are asserted on the committed numbers too.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from credledger.node.core.chain import Chain
from tests.contracts.conftest import rpc

ROOT = Path(__file__).resolve().parents[2]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gas_report", ROOT / "scripts" / "gas_report.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gas_report = _load_script()


@pytest.fixture(scope="module")
def measured(chain: Chain) -> Iterator[dict[str, Any]]:
    snap = rpc(chain, "evm_snapshot", [])
    try:
        yield gas_report.report(gas_report.measure(chain))
    finally:
        rpc(chain, "evm_revert", [snap])


def committed() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(gas_report.REPORT.read_text(encoding="utf-8"))
    return data


def test_gas_report_is_up_to_date(measured: dict[str, Any]) -> None:
    fresh = measured["measurements"]
    old = committed()["measurements"]
    changed = {
        name: (old.get(name, {}).get("gasUsed"), m["gasUsed"])
        for name, m in fresh.items()
        if old.get(name, {}).get("gasUsed") != m["gasUsed"]
    }
    assert not changed, f"gas moved (committed, now): {changed}; run scripts/gas_report.py"
    assert gas_report.render_report(measured) == gas_report.REPORT.read_text(encoding="utf-8")


def test_readme_table_is_up_to_date() -> None:
    readme = gas_report.README.read_text(encoding="utf-8")
    table = gas_report.render_table(committed())
    assert gas_report.readme_with_table(readme, table) == readme


def test_every_budget_is_met() -> None:
    data = committed()
    assert gas_report.over_budget(data) == []
    budgeted = {n for n, m in data["measurements"].items() if "budget" in m}
    assert budgeted == set(gas_report.BUDGETS)


@pytest.mark.parametrize(
    ("name", "gas"),
    [
        # the headline numbers, pinned here as well so a review sees them move
        ("LicenceRegistry.issue", 74_749),
        ("LicenceRegistry.issue (no holder address)", 74_509),
        ("LicenceRegistry.issueBatch(24 types) per licence", 54_472),
        ("LicenceRegistry.suspend", 31_757),
        ("LicenceRegistry.reinstate", 31_258),
        ("LicenceRegistry.revoke", 31_725),
        ("LicenceRegistry.bindHolder", 32_123),
        ("AnchorRegistry.anchor", 46_513),
        ("ConsentRegistry.grantBySig (holder's first nonce)", 86_892),
        ("ConsentRegistry.consume", 37_380),
        ("LicenceRegistry.issueSealed (no holder address)", 78_853),
        ("LicenceRegistry.issueBatchSealed(24 types) per licence", 58_632),
    ],
)
def test_headline_gas_exact(measured: dict[str, Any], name: str, gas: int) -> None:
    assert measured["measurements"][name]["gasUsed"] == gas
