"""Gas per licence (single and batch of 24) next to EAS `attest` on the same anvil, same run;
plus the holder binding and a licence grant (grantBySig, consume), which EAS has no counterpart of,
and the same issuance sealed with an SM2 e-seal (issueSealed, issueBatchSealed: issue 20).

    .venv/bin/python bench/licences_gas.py            # writes bench/results/licences_gas.json

EAS (`@ethereum-attestation-service/eas-contracts` 1.9.0) is installed in bench/licences_eas/
(``npm ci`` there on first use) and compiled with the project's pipeline (same solc 0.8.28 and
optimizer settings) into a scratch folder. Two adjustments, for the benchmark only: EAS pins
``pragma solidity 0.8.29``, relaxed to ``^0.8.28`` (no 0.8.29 feature is used), and it is built
for the Cancun EVM because the OpenZeppelin 5.4 code it pulls in uses ``mcopy``; our contracts stay
Paris. The EAS schema carries the same fields as a licence (type, serial, holder subject, document
hash, validity), revocable, with an expiration time, no resolver.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_abi.abi import encode
from eth_hash.auto import keccak

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from credledger.node import compiler  # noqa: E402
from credledger.node.core import paths  # noqa: E402
from credledger.node.core.chain import Chain  # noqa: E402
from credledger.node.core.contracts.consent_registry import ConsentRegistry, purpose_of  # noqa: E402
from credledger.node.core.contracts.eip712 import GrantRequest  # noqa: E402
from credledger.node.core.identifiers import enterprise_subject  # noqa: E402
from credledger.node.core.manifest import addresses  # noqa: E402
from credledger.node.core.signer import dev_account  # noqa: E402
from credledger.node.core.tx import TxSender  # noqa: E402
from credledger.node.deploy import deploy  # noqa: E402
from credledger.node.devnet import free_port, launch, terminate  # noqa: E402
from credledger.node.licences.catalogue import load_catalogue  # noqa: E402
from credledger.node.licences.service import register_catalogue  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from _infra import write_result  # noqa: E402

EAS_DIR = ROOT / "bench" / "licences_eas"
EAS_SRC = EAS_DIR / "node_modules" / "@ethereum-attestation-service" / "eas-contracts" / "contracts"
SCRATCH = paths.STATE_DIR / "bench-eas" / "contracts"
SCHEMA = (
    "bytes32 typeId,bytes32 serial,bytes32 holder,bytes32 docHash,"
    "uint40 validFrom,uint40 validUntil"
)
RUNS = 20
BATCH = 24
KEY_KIND_SM2 = 1
# the SM2 curve's base point (GB/T 32918.5): a valid public key to register (of private key 1)
SM2_G = bytes.fromhex(
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"
)


def eas_artifacts() -> dict[str, dict[str, Any]]:
    if not EAS_SRC.is_dir():
        subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=EAS_DIR, check=True
        )
    shutil.rmtree(SCRATCH, ignore_errors=True)
    shutil.copytree(EAS_SRC, SCRATCH)
    for f in SCRATCH.rglob("*.sol"):
        text = f.read_text(encoding="utf-8")
        f.write_text(
            re.sub(r"pragma solidity 0\.8\.\d+;", "pragma solidity ^0.8.28;", text),
            encoding="utf-8",
        )
    std = compiler.standard_input([SCRATCH / "EAS.sol", SCRATCH / "SchemaRegistry.sol"])
    std["settings"] = {**compiler.SETTINGS, "evmVersion": "cancun"}
    out = compiler.run_solc(compiler.find_compiler(), std)
    arts = {}
    for source, contracts in out["contracts"].items():
        for name in ("EAS", "SchemaRegistry"):
            if source.endswith(f"/{name}.sol") and name in contracts:
                c = contracts[name]
                arts[name] = {"abi": c["abi"], "bytecode": "0x" + c["evm"]["bytecode"]["object"]}
    return arts


def gas(receipt: Any) -> int:
    return int(receipt["gasUsed"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "licences_gas.json")
    ap.add_argument("--quick", action="store_true", help="accepted for `make bench QUICK=1`")
    out_path: Path = ap.parse_args().out
    with tempfile.TemporaryDirectory() as tmp:
        _, info = launch("anvil", free_port(), None, Path(tmp) / "anvil.log")
        try:
            chain = Chain([info.rpc_url])
            admin = TxSender(chain, dev_account(0))
            issuer = TxSender(chain, dev_account(1))
            manifest, _ = deploy(chain, admin, Path(tmp) / "manifest.json")
            address = addresses(manifest)["LicenceRegistry"]
            registry = chain.contract("LicenceRegistry", address)
            cat = load_catalogue()
            register_catalogue(chain, address, admin, cat)
            types = [t.type_id for t in cat.types]
            for tid in types:
                admin.send(registry.functions.setAuthorisation(tid, issuer.address, 1))
            holder = enterprise_subject("91310000MA1FL1234Q")
            now = int(chain.w3.eth.get_block("latest")["timestamp"])
            until = now + 5 * 365 * 86400

            wallet = dev_account(2)  # the holder's wallet address

            def req(i: int, tid: bytes, holder_address: str = "0x" + "00" * 20) -> tuple[Any, ...]:
                serial = f"BENCH-{i:08d}".encode().ljust(32, b"\0")
                return (
                    tid,
                    serial,
                    holder,
                    holder_address,
                    keccak(b"doc%d" % i),
                    now - 10,
                    until,
                )

            single = [
                gas(issuer.send(registry.functions.issue(*req(i, types[1])))) for i in range(RUNS)
            ]
            batch_receipt = issuer.send(
                registry.functions.issueBatch(
                    [req(1000 + i, types[i % len(types)]) for i in range(BATCH)]
                )
            )
            ids = [
                keccak(encode(["bytes32", "bytes32"], [types[1], req(i, types[1])[1]]))
                for i in range(RUNS)
            ]
            suspend = [gas(issuer.send(registry.functions.suspend(lid, 1))) for lid in ids[:5]]
            reinstate = [gas(issuer.send(registry.functions.reinstate(lid))) for lid in ids[:5]]
            amend = [
                gas(issuer.send(registry.functions.amend(lid, keccak(lid), until)))
                for lid in ids[5:10]
            ]
            revoke = [gas(issuer.send(registry.functions.revoke(lid, 4))) for lid in ids[10:15]]
            issuer.send(
                registry.functions.registerDepartmentKey(issuer.address, KEY_KIND_SM2, SM2_G)
            )

            def seal(i: int) -> tuple[int, bytes, bytes]:
                return (1, keccak(b"seal r %d" % i), keccak(b"seal s %d" % i))

            sealed = [
                gas(issuer.send(registry.functions.issueSealed(req(3000 + i, types[1]), seal(i))))
                for i in range(RUNS)
            ]
            sealed_batch = issuer.send(
                registry.functions.issueBatchSealed(
                    [req(4000 + i, types[i % len(types)]) for i in range(BATCH)],
                    [seal(4000 + i) for i in range(BATCH)],
                )
            )
            with_holder = [
                gas(issuer.send(registry.functions.issue(*req(2000 + i, types[1], wallet.address))))
                for i in range(RUNS)
            ]
            bind = [
                gas(issuer.send(registry.functions.bindHolder(lid, wallet.address)))
                for lid in ids[15:20]
            ]
            consents = ConsentRegistry(
                chain, addresses(manifest)["ConsentRegistry"], TxSender(chain, dev_account(3))
            )
            bank_key = dev_account(4)
            bank = consents.with_sender(TxSender(chain, bank_key))
            purpose = purpose_of("LOAN-APPLICATION")
            grant_by_sig, consume = [], []
            for lid in ids[15:20]:
                g = GrantRequest.licence(wallet.address, lid, bank_key.address, purpose, until)
                sig = consents.sign_grant(wallet, g, until)
                grant_by_sig.append(gas(consents.grant_by_sig(g, until, sig)))
                consume.append(gas(bank.consume(wallet.address, lid, purpose)))

            # --- EAS on the same chain ------------------------------------------------------
            arts = eas_artifacts()
            f = chain.w3.eth.contract(
                abi=arts["SchemaRegistry"]["abi"], bytecode=arts["SchemaRegistry"]["bytecode"]
            )
            reg_addr = admin.send(f.constructor())["contractAddress"]
            f = chain.w3.eth.contract(abi=arts["EAS"]["abi"], bytecode=arts["EAS"]["bytecode"])
            eas_addr = admin.send(f.constructor(reg_addr))["contractAddress"]
            schema_registry = chain.w3.eth.contract(
                address=reg_addr, abi=arts["SchemaRegistry"]["abi"]
            )
            eas = chain.w3.eth.contract(address=eas_addr, abi=arts["EAS"]["abi"])
            admin.send(schema_registry.functions.register(SCHEMA, "0x" + "00" * 20, True))
            # EAS: uid = keccak256(abi.encodePacked(schema, resolver, revocable))
            schema_uid = keccak(SCHEMA.encode() + bytes(20) + b"\x01")

            def data(i: int) -> tuple[Any, ...]:
                r = req(5000 + i, types[1])
                payload = encode(
                    ["bytes32", "bytes32", "bytes32", "bytes32", "uint40", "uint40"],
                    [r[0], r[1], r[2], r[4], r[5], r[6]],
                )
                return ("0x" + "00" * 20, until, True, b"\0" * 32, payload, 0)

            eas_single = [
                gas(issuer.send(eas.functions.attest((schema_uid, data(i))))) for i in range(RUNS)
            ]
            eas_batch = issuer.send(
                eas.functions.multiAttest([(schema_uid, [data(100 + i) for i in range(BATCH)])])
            )
            uids = [log["args"]["uid"] for log in eas.events.Attested().get_logs(from_block=0)][:5]
            eas_revoke = [
                gas(issuer.send(eas.functions.revoke((schema_uid, (uid, 0))))) for uid in uids
            ]

            med = statistics.median
            result = {
                "benchmark": "licences_gas",
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "chain": "anvil (instant mining)",
                "runs": RUNS,
                "credledger": {
                    "issue_median": med(single),
                    "issue_first": single[0],
                    "issueBatch24_total": gas(batch_receipt),
                    "issueBatch24_per_licence": round(gas(batch_receipt) / BATCH),
                    "issueSealed_median": med(sealed),
                    "issueBatchSealed24_total": gas(sealed_batch),
                    "issueBatchSealed24_per_licence": round(gas(sealed_batch) / BATCH),
                    "suspend_median": med(suspend),
                    "reinstate_median": med(reinstate),
                    "amend_median": med(amend),
                    "revoke_median": med(revoke),
                    "issue_with_holder_address_median": med(with_holder),
                    "bindHolder_median": med(bind),
                    "grantBySig_licence_first_nonce_median": med(grant_by_sig),
                    "consume_licence_median": med(consume),
                },
                "eas_1_9_0": {
                    "attest_median": med(eas_single),
                    "attest_first": eas_single[0],
                    "multiAttest24_total": gas(eas_batch),
                    "multiAttest24_per_attestation": round(gas(eas_batch) / BATCH),
                    "revoke_median": med(eas_revoke),
                    "schema": SCHEMA,
                    "notes": "compiled with solc 0.8.28 (pragma relaxed from 0.8.29), cancun EVM",
                },
            }
            result["ratio_issue_vs_attest"] = round(med(single) / med(eas_single), 3)
            result["ratio_batch_vs_multiAttest"] = round(gas(batch_receipt) / gas(eas_batch), 3)
        finally:
            terminate(info.pid)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_result(out_path, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
