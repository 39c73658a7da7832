#!/usr/bin/env python3
"""Measure the gas of every budgeted contract call and write ``contracts/gas-report.json``.

Usage: ``.venv/bin/python scripts/gas_report.py`` (starts its own anvil), or ``--check`` to exit 1
if the committed report or the table in ``contracts/README.md`` differ from a fresh measurement.
``tests/contracts/test_gas.py`` runs :func:`measure` on the test session's anvil and asserts the
committed numbers exactly, so a change that moves gas fails until this script is run again.

Gas is deterministic: the contracts are deployed by a dedicated key at nonce 0 (so at the same
addresses on every fresh anvil, which makes signatures and thus calldata identical), and every
input is a fixed value. Numbers are total transaction gas (``gasUsed``: 21,000 base + calldata +
execution), the figure a department pays.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eth_account import Account  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402
from eth_hash.auto import keccak  # noqa: E402

from credledger.node import compiler  # noqa: E402
from credledger.node.core.chain import Chain  # noqa: E402
from credledger.node.core.contracts.anchor_registry import AnchorRegistry  # noqa: E402
from credledger.node.core.contracts.consent_registry import ConsentRegistry, purpose_of  # noqa: E402
from credledger.node.core.contracts.eip712 import GrantRequest  # noqa: E402
from credledger.node.core.contracts.licence_registry import (  # noqa: E402
    KEY_KIND_SM2,
    ROLE_ISSUER,
    ROLE_SUPERVISOR,
    IssueRequest,
    LicenceRegistry,
    Seal,
    SupervisionKind,
    serial_of,
)
from credledger.node.core.contracts.presentation_ledger import PresentationLedger  # noqa: E402
from credledger.node.core.tx import TxSender  # noqa: E402
from credledger.node.deploy import deploy  # noqa: E402

REPORT = ROOT / "contracts" / "gas-report.json"
README = ROOT / "contracts" / "README.md"
TABLE_START = "<!-- gas-table:start (scripts/gas_report.py writes this) -->"
TABLE_END = "<!-- gas-table:end -->"
FORMAT = "credledger-gas-report-1"

# Budgets from issues 3, 9 and 20 (total transaction gas).
BUDGETS: dict[str, int] = {
    "LicenceRegistry.issue": 98_000,
    "LicenceRegistry.issue (no holder address)": 75_000,
    "LicenceRegistry.issueBatch(24 types) per licence": 55_000,
    "LicenceRegistry.issueBatch(24 same type) per licence": 55_000,
    "LicenceRegistry.issueSealed": 80_000,
    "LicenceRegistry.issueSealed (no holder address)": 80_000,
    "LicenceRegistry.issueBatchSealed(24 types) per licence": 60_000,
    "LicenceRegistry.issueBatchSealed(24 same type) per licence": 60_000,
    "LicenceRegistry.suspend": 32_000,
    "LicenceRegistry.reinstate": 32_000,
    "LicenceRegistry.revoke": 32_000,
    "LicenceRegistry.suspend (by the issuing key, de-authorised)": 32_000,
    "LicenceRegistry.bindHolder": 50_000,
    "LicenceRegistry.bindHolder (re-binding)": 50_000,
    "AnchorRegistry.anchor": 47_000,
    "AnchorRegistry.anchor per document (1,024 leaves)": 46,
    "ConsentRegistry.grantBySig (holder's first nonce)": 90_000,
    "ConsentRegistry.grantBySig (material, first nonce of its slot)": 90_000,
    "ConsentRegistry.grantBySig (re-grant, next nonce of the slot)": 90_000,
    "ConsentRegistry.consume": 40_000,
    "PresentationLedger.spend (1 statement)": 50_000,
    "PresentationLedger.spend (16 statements) per statement": 26_000,
}

NOTES: dict[str, str] = {
    "LicenceRegistry.issue": "with a holder address: one more slot (holderOf)",
    "LicenceRegistry.suspend": "by the issuing key: the licence word and its word for the type",
    "LicenceRegistry.suspend (by a supervisor of the type)": (
        "the same two reads: the licence word and the supervisor's word for the type"
    ),
    "LicenceRegistry.suspend (by the issuing key, de-authorised)": (
        "its word for the type keeps its key index (no roles): still two reads"
    ),
    "LicenceRegistry.amend": "two slots: the licence word and the document hash",
    "LicenceRegistry.bindHolder": "first binding of a licence issued without a holder address",
    "LicenceRegistry.retireKey (24 types)": "removes the key's roles for every type it had",
    "LicenceRegistry.registerDepartmentKey (SM2, by the department)": (
        "record, key, uniqueness, list; and the seal key set in 1 + 24 authorisation words"
    ),
    "LicenceRegistry.issueSealed": (
        "issue + LicenceSealed (r, s); the seal key is checked in the authorisation word"
    ),
    "LicenceRegistry.amendSealed": "amend + the seal key's record (one cold read) + LicenceSealed",
    "LicenceRegistry.retireDepartmentKey": "takes an SM2 key out of the set in 1 + 24 words",
    "ConsentRegistry.grantBySig (holder's first nonce)": "licence: includes holderAndStatus",
    "ConsentRegistry.consume": "licence grant: includes the ownership read (holderAndStatus)",
    "ConsentRegistry.consume (material)": "no ownership read: the asset id commits to the holder",
    "ConsentRegistry.revoke": "also uses the slot's nonce (its first use here: a new nonce slot)",
}

NAMESPACE = "credledger-gas-report"
T_FROM = 1_767_225_600  # 2026-01-01
T_UNTIL = 4_102_444_800  # 2100-01-01
HOLDER = keccak(b"subject:91310000MA1FL0XX3A")
# the SM2 curve's base point (GB/T 32918.5), a valid public key (of private key 1)
SM2_G = bytes.fromhex(
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"
)
DOC = keccak(b"gas report document v1")


def _key(name: str) -> LocalAccount:
    acct: LocalAccount = Account.from_key(keccak(f"{NAMESPACE}/{name}".encode()))
    return acct


def _fund(chain: Chain, address: str) -> None:
    chain.w3.provider.make_request("anvil_setBalance", [address, hex(10**22)])  # type: ignore[arg-type]


def measure(chain: Chain) -> dict[str, int]:
    """Deploy the PLAN from fresh dedicated keys and measure every call; returns name -> gasUsed."""
    keys = {n: _key(n) for n in ("admin", "issuer", "supervisor", "holder", "grantee", "relayer")}
    for k in keys.values():
        _fund(chain, k.address)
    senders = {n: TxSender(chain, k) for n, k in keys.items()}
    out: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        manifest, _ = deploy(chain, senders["admin"], Path(tmp) / "m.json", force=True)
    addr = {n: c["address"] for n, c in manifest["contracts"].items()}
    for name, c in manifest["contracts"].items():
        out[f"{name} deployment"] = int(c["gasUsed"])

    admin = LicenceRegistry(chain, addr["LicenceRegistry"], senders["admin"])
    types = [keccak(f"GAS-TYPE-{i:02d}".encode()) for i in range(24)]
    for t in types:
        admin.register_type(t, "type", keccak(b"schema"))
        admin.set_authorisation(t, keys["issuer"].address, ROLE_ISSUER)
        admin.set_authorisation(t, keys["supervisor"].address, ROLE_SUPERVISOR)
    lic = admin.with_sender(senders["issuer"])

    def req(i: int, type_index: int = 0, holder_address: str | None = None) -> IssueRequest:
        return IssueRequest(
            type_id=types[type_index],
            serial=serial_of(f"JY1310101{i:07d}"),
            holder=HOLDER,
            doc_hash=keccak(f"gas report document {i}".encode()),
            valid_from=T_FROM,
            valid_until=T_UNTIL,
            holder_address=holder_address,
        )

    lid, r = lic.issue(req(1, holder_address=keys["holder"].address))
    out["LicenceRegistry.issue"] = int(r["gasUsed"])
    lid2, r = lic.issue(req(2))
    out["LicenceRegistry.issue (no holder address)"] = int(r["gasUsed"])
    _, r = lic.issue_batch([req(100 + i, i) for i in range(24)])
    out["LicenceRegistry.issueBatch(24 types)"] = int(r["gasUsed"])
    out["LicenceRegistry.issueBatch(24 types) per licence"] = int(r["gasUsed"]) // 24
    _, r = lic.issue_batch([req(200 + i, 0) for i in range(24)])
    out["LicenceRegistry.issueBatch(24 same type)"] = int(r["gasUsed"])
    out["LicenceRegistry.issueBatch(24 same type) per licence"] = int(r["gasUsed"]) // 24
    out.update(_measure_sealed(lic, keys["issuer"].address, keys["holder"].address, req))
    out["LicenceRegistry.suspend"] = int(lic.suspend(lid, 7)["gasUsed"])
    out["LicenceRegistry.reinstate"] = int(lic.reinstate(lid)["gasUsed"])
    sup = lic.with_sender(senders["supervisor"])
    out["LicenceRegistry.suspend (by a supervisor of the type)"] = int(
        sup.suspend(lid, 7)["gasUsed"]
    )
    lic.reinstate(lid)
    out["LicenceRegistry.amend"] = int(lic.amend(lid, DOC, T_UNTIL)["gasUsed"])
    out["LicenceRegistry.bindHolder"] = int(
        lic.bind_holder(lid2, keys["holder"].address)["gasUsed"]
    )
    out["LicenceRegistry.bindHolder (re-binding)"] = int(
        lic.bind_holder(lid2, keys["grantee"].address)["gasUsed"]
    )
    out["LicenceRegistry.revoke"] = int(lic.revoke(lid2, 9)["gasUsed"])
    admin.set_authorisation(types[0], keys["issuer"].address, 0)
    out["LicenceRegistry.suspend (by the issuing key, de-authorised)"] = int(
        lic.suspend(req(200, 0).licence_id, 7)["gasUsed"]
    )
    admin.grant_supervisor_role(keys["supervisor"].address)
    out["LicenceRegistry.recordSupervision"] = int(
        sup.record_supervision(HOLDER, SupervisionKind.ADMINISTRATIVE_PENALTY, DOC)["gasUsed"]
    )

    out["LicenceRegistry.retireKey (24 types)"] = int(
        admin.retire_key(keys["supervisor"].address)["gasUsed"]
    )

    anchors = AnchorRegistry(chain, addr["AnchorRegistry"], senders["admin"])
    r = anchors.anchor(keccak(b"gas report root"), 1024)
    out["AnchorRegistry.anchor"] = int(r["gasUsed"])
    out["AnchorRegistry.anchor per document (1,024 leaves)"] = -(-int(r["gasUsed"]) // 1024)

    consents = ConsentRegistry(chain, addr["ConsentRegistry"], senders["relayer"])
    holder = keys["holder"]

    purpose = purpose_of("LOAN-APPLICATION")
    bank_address = keys["grantee"].address

    g1 = GrantRequest.licence(holder.address, lid, bank_address, purpose, T_UNTIL, 5)
    r = consents.grant_by_sig(g1, T_UNTIL, consents.sign_grant(holder, g1, T_UNTIL))
    out["ConsentRegistry.grantBySig (holder's first nonce)"] = int(r["gasUsed"])
    g2 = GrantRequest.material(holder.address, DOC, bank_address, purpose, T_UNTIL, 5)
    r = consents.grant_by_sig(g2, T_UNTIL, consents.sign_grant(holder, g2, T_UNTIL))
    out["ConsentRegistry.grantBySig (material, first nonce of its slot)"] = int(r["gasUsed"])
    g1b = GrantRequest.licence(holder.address, lid, bank_address, purpose, T_UNTIL, 6)
    r = consents.grant_by_sig(g1b, T_UNTIL, consents.sign_grant(holder, g1b, T_UNTIL))
    out["ConsentRegistry.grantBySig (re-grant, next nonce of the slot)"] = int(r["gasUsed"])
    bank = consents.with_sender(senders["grantee"])
    r = bank.consume(holder.address, lid, g1.purpose)
    out["ConsentRegistry.consume"] = int(r["gasUsed"])
    r = bank.consume(holder.address, g2.asset_id, g2.purpose)
    out["ConsentRegistry.consume (material)"] = int(r["gasUsed"])
    direct = consents.with_sender(senders["holder"])
    g3 = GrantRequest.material(
        holder.address, keccak(b"third asset"), bank_address, purpose, T_UNTIL, 5
    )
    out["ConsentRegistry.grant"] = int(direct.grant(g3)["gasUsed"])
    out["ConsentRegistry.revoke"] = int(
        direct.revoke(g3.asset_id, g3.grantee, g3.purpose)["gasUsed"]
    )
    sig = consents.sign_revoke(holder, g2.asset_id, g2.grantee, g2.purpose, T_UNTIL)
    r = consents.revoke_by_sig(holder.address, g2.asset_id, g2.grantee, g2.purpose, T_UNTIL, sig)
    out["ConsentRegistry.revokeBySig"] = int(r["gasUsed"])
    out["ConsentRegistry.cancelNonce"] = int(
        direct.cancel_nonce(consents.slot_nonce(holder.address, lid, bank_address, purpose))[
            "gasUsed"
        ]
    )
    out.update(_measure_ledger(chain, addr["PresentationLedger"], senders["grantee"]))
    return out


def _measure_sealed(lic: LicenceRegistry, issuer: str, holder: str, req: Any) -> dict[str, int]:
    """Department keys and sealed issuance: the issuer registers its SM2 key, then seals."""
    key_id, r = lic.register_department_key(issuer, KEY_KIND_SM2, SM2_G)
    out = {"LicenceRegistry.registerDepartmentKey (SM2, by the department)": int(r["gasUsed"])}

    def seal(i: int) -> Seal:
        return Seal(key_id, keccak(f"gas report seal r {i}".encode()), keccak(b"s%d" % i))

    lid, r = lic.issue_sealed(req(300, 1, holder_address=holder), seal(300))
    out["LicenceRegistry.issueSealed"] = int(r["gasUsed"])
    _, r = lic.issue_sealed(req(301, 1), seal(301))
    out["LicenceRegistry.issueSealed (no holder address)"] = int(r["gasUsed"])
    requests = [req(400 + i, i) for i in range(24)]
    _, r = lic.issue_batch_sealed(requests, [seal(400 + i) for i in range(24)])
    out["LicenceRegistry.issueBatchSealed(24 types)"] = int(r["gasUsed"])
    out["LicenceRegistry.issueBatchSealed(24 types) per licence"] = int(r["gasUsed"]) // 24
    requests = [req(500 + i, 0) for i in range(24)]
    _, r = lic.issue_batch_sealed(requests, [seal(500 + i) for i in range(24)])
    out["LicenceRegistry.issueBatchSealed(24 same type)"] = int(r["gasUsed"])
    out["LicenceRegistry.issueBatchSealed(24 same type) per licence"] = int(r["gasUsed"]) // 24
    r = lic.amend_sealed(lid, DOC, T_UNTIL, seal(302))
    out["LicenceRegistry.amendSealed"] = int(r["gasUsed"])
    out["LicenceRegistry.retireDepartmentKey"] = int(lic.retire_department_key(key_id)["gasUsed"])
    return out


def _measure_ledger(chain: Chain, address: str, sender: TxSender) -> dict[str, int]:
    """PresentationLedger.spend: one statement, a group of 16, and a statement spent before."""
    ledger = PresentationLedger(chain, address, sender)
    statements = [keccak(f"gas report statement {i}".encode()) for i in range(17)]
    out = {"PresentationLedger.spend (1 statement)": int(ledger.spend(statements[:1])["gasUsed"])}
    group = int(ledger.spend(statements[1:])["gasUsed"])
    out["PresentationLedger.spend (16 statements) per statement"] = group // 16
    out["PresentationLedger.spend (1 statement, already spent)"] = int(
        ledger.spend(statements[:1])["gasUsed"]
    )
    return out


def report(measurements: dict[str, int]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "about": "total transaction gas (gasUsed) on anvil; budgets from issues 3, 9 and 20",
        "compiler": {
            "solc": compiler.SOLC_VERSION,
            "evmVersion": compiler.EVM_VERSION,
            "optimizerRuns": compiler.OPTIMIZER_RUNS,
        },
        "measurements": {
            name: {
                "gasUsed": gas,
                **({"budget": BUDGETS[name]} if name in BUDGETS else {}),
                **({"note": NOTES[name]} if name in NOTES else {}),
            }
            for name, gas in measurements.items()
        },
    }


def render_report(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"


def render_table(data: dict[str, Any]) -> str:
    lines = ["| call | gas used | budget |", "|---|---:|---:|"]
    for name, m in data["measurements"].items():
        budget = f"{m['budget']:,}" if "budget" in m else "–"
        lines.append(f"| {name} | {m['gasUsed']:,} | {budget} |")
    return "\n".join(lines)


def readme_with_table(readme: str, table: str) -> str:
    start, end = readme.index(TABLE_START), readme.index(TABLE_END)
    return readme[: start + len(TABLE_START)] + "\n" + table + "\n" + readme[end:]


def over_budget(data: dict[str, Any]) -> list[str]:
    return [
        f"{name}: {m['gasUsed']:,} > budget {m['budget']:,}"
        for name, m in data["measurements"].items()
        if "budget" in m and m["gasUsed"] > m["budget"]
    ]


def main() -> int:
    from credledger.node.devnet import free_port, launch, terminate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _, info = launch("anvil", free_port(), None, Path(tmp) / "anvil.log")
        try:
            data = report(measure(Chain([info.rpc_url])))
        finally:
            terminate(info.pid)
    text = render_report(data)
    readme = readme_with_table(README.read_text(encoding="utf-8"), render_table(data))
    problems = over_budget(data)
    if args.check:
        if REPORT.read_text(encoding="utf-8") != text:
            problems.append(f"{REPORT} is out of date: run scripts/gas_report.py")
        if README.read_text(encoding="utf-8") != readme:
            problems.append(f"{README} gas table is out of date: run scripts/gas_report.py")
    else:
        REPORT.write_text(text, encoding="utf-8")
        README.write_text(readme, encoding="utf-8")
        print(f"wrote {REPORT} and the table in {README}")
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
