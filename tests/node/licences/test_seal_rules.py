"""The e-seal rules (node/licences/verdicts.py ``judge_seal``), without a chain: each way a seal
fails gives INVALID with its reason, and a refused seal turns a VALID verdict into TAMPERED."""

from __future__ import annotations

from pathlib import Path

import pytest

from credledger.node.licences.verdicts import (
    Outcome,
    SealFacts,
    SealStatus,
    Verdict,
    judge_seal,
    with_seal,
)

DEPT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
LID = b"\x01" * 32


def facts(**kw: object) -> SealFacts:
    base: dict[str, object] = {
        "licence_id": LID,
        "version": 1,
        "issuer": DEPT,
        "key_id": 7,
        "sealed_at": 1_800_000_000,
        "key_department": DEPT,
        "key_kind": 1,
        "signature_ok": True,
        "metadata_source": "node",
        "metadata_number": "SC1",
        "metadata_version": 1,
    }
    base.update(kw)
    return SealFacts(**base)  # type: ignore[arg-type]


def test_a_good_seal_is_valid() -> None:
    check = judge_seal(facts())
    assert check.status is SealStatus.VALID and not check.refuse
    assert check.to_json() == {
        "status": "VALID",
        "reason": check.reason,
        "department": DEPT,
        "keyId": 7,
    }


def test_a_seal_made_before_retirement_stays_valid() -> None:
    check = judge_seal(facts(key_retired_at=1_900_000_000))
    assert check.status is SealStatus.VALID and "retired" in check.reason


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"key_department": None}, "not registered"),
        ({"key_kind": 2}, "not an SM2"),
        ({"key_department": OTHER}, "belongs to department"),
        ({"key_retired_at": 1_700_000_000, "sealed_after_retirement": True}, "was retired"),
        ({"metadata_version": 2}, "version 2"),
        ({"metadata_names_licence": False}, "names another licence"),
        ({"signature_ok": False}, "does not verify"),
    ],
)
def test_each_failure_is_invalid_with_its_reason(change: dict[str, object], words: str) -> None:
    check = judge_seal(facts(**change))
    assert check.status is SealStatus.INVALID and check.refuse
    assert words in check.reason
    refused = with_seal(Outcome(Verdict.VALID, ["active"], [LID]), check)
    assert refused.verdict is Verdict.TAMPERED
    assert refused.reasons == [f"e-seal: {check.reason}", "active"]


def test_missing_and_unchecked() -> None:
    old = judge_seal(facts(key_id=None))
    assert old.status is SealStatus.MISSING and not old.refuse
    skipped = judge_seal(facts(key_id=None, issuer_had_key=True, issuer_key_id=3))
    assert skipped.status is SealStatus.MISSING and skipped.refuse and "key 3" in skipped.reason
    unchecked = judge_seal(facts(signature_ok=None, metadata_source=None))
    assert unchecked.status is SealStatus.UNCHECKED and not unchecked.refuse
    # a revoked or superseded verdict is not changed by the seal
    for verdict in (Verdict.REVOKED, Verdict.SUPERSEDED):
        assert with_seal(Outcome(verdict), skipped).verdict is verdict


def test_seal_passphrase_and_presented_metadata_are_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from credledger.node.core.errors import ConfigError, InputError
    from credledger.node.licences.seals import metadata_from_json, seal_passphrase
    from credledger.node.settings import DepartmentSettings

    cfg = DepartmentSettings(
        name="sealer", dev_account=1, seal_keystore="k.json", seal_passphrase_env="SEAL_PASS_X"
    )
    monkeypatch.delenv("SEAL_PASS_X", raising=False)
    with pytest.raises(ConfigError, match="SEAL_PASS_X"):
        seal_passphrase(cfg)
    monkeypatch.setenv("SEAL_PASS_X", "from-env")
    assert seal_passphrase(cfg) == "from-env"
    good = {
        "name": "食品经营许可证",
        "typeCode": "11310000MB2F00001F101",
        "number": "JY1",
        "identifier": "1.2.156.3005.2.x",
        "authority": "市场监督管理局",
        "issueDate": "2026-01-05",
        "holderName": "上海示例食品有限公司",
        "holderCode": "91310000MA1FL1234Q",
        "holderCodeType": "uscc",
        "validFrom": "2026-01-01",
        "validUntil": "长期",
    }
    assert metadata_from_json(good).json() == good
    for bad, words in (
        ({k: v for k, v in good.items() if k != "number"}, "missing number"),
        ({**good, "extra": "x"}, "unknown extra"),
        ({**good, "issueDate": "5 Jan"}, "issueDate"),
        ([], "JSON object"),
    ):
        with pytest.raises(InputError, match=words):
            metadata_from_json(bad)


def test_seal_checker_over_a_read_model(tmp_path: Path) -> None:
    """SealChecker from indexed events alone (no chain): the node's kept metadata verifies, a
    later retirement is shown (the cached verdict follows it), a new unsealed version is MISSING
    and refused, and a check costs microseconds once judged."""
    import time
    import types

    from credledger.node.core.contracts.licence_registry import licence_id_of, serial_of
    from credledger.node.core.gbt import LicenceMetadata, gbt_identifier
    from credledger.node.core.sm2 import Sm2PrivateKey, der_to_rs
    from credledger.node.licences.catalogue import type_id
    from credledger.node.licences.seal_store import SealStore, StoredSeal
    from credledger.node.licences.sealcheck import SealChecker
    from credledger.node.licences.seals import Seals, masked
    from credledger.node.readmodel import ReadModel

    key = Sm2PrivateKey.generate()
    tid, number = type_id("FOOD-OPERATION"), "JY13101050000001"
    lid = licence_id_of(tid, serial_of(number))
    code, issuer = "11310000MB2F00001F101", "11310000MB2F00001F"
    md = LicenceMetadata(
        "食品经营许可证",
        code,
        number,
        str(gbt_identifier(code, issuer, number, 1)),
        "市场监督管理局",
        "2026-01-05",
        "上海示例",
        "91310000MA1FL1234Q",
        "uscc",
        "2026-01-01",
        "长期",
    )
    der = key.sign(md.canonical())
    r, s = der_to_rs(der)

    def h(b: bytes) -> str:
        return "0x" + b.hex()

    def event(name: str, args: dict[str, object], block: int, index: int = 0) -> object:
        return types.SimpleNamespace(
            contract="LicenceRegistry",
            event=name,
            args=args,
            block_number=block,
            block_time=1_800_000_000 + block,
            tx_hash=h(bytes([block]) * 32),
            log_index=index,
        )

    registered = {"department": DEPT, "keyId": 1, "kind": 1, "publicKey": h(key.public_key().raw())}
    issued = {
        "licenceId": h(lid),
        "typeId": h(tid),
        "holder": h(b"\1" * 32),
        "issuer": DEPT,
        "holderAddress": "0x" + "00" * 20,
        "docHash": h(b"\2" * 32),
        "validFrom": 1,
        "validUntil": 0,
    }
    rs = {"r": h(r.to_bytes(32, "big")), "s": h(s.to_bytes(32, "big"))}
    sealed = {"licenceId": h(lid), "keyId": 1, "version": 1, **rs}
    model = ReadModel()
    model.reset(
        [
            event("DepartmentKeyRegistered", registered, 1),
            event("LicenceIssued", issued, 2),
            event("LicenceSealed", sealed, 2, 1),
        ],
        2,
        1_800_000_002,
    )
    store = SealStore(tmp_path / "seals.sqlite3")
    body, hidden = masked(md)
    store.put(StoredSeal(lid, 1, 1, "1234567812345678", body, hidden, der))
    checker = SealChecker(types.SimpleNamespace(model=model, seals=Seals({}, store)))  # type: ignore[arg-type]
    first = checker.check(lid, None)
    assert first is not None and first.status is SealStatus.VALID, first
    start = time.perf_counter()
    for _ in range(1000):
        assert checker.check(lid, None) is first
    assert time.perf_counter() - start < 0.5  # ~1 µs a check once judged (not a timing test)
    retired = {"department": DEPT, "keyId": 1, "retiredAt": 1_800_000_003}
    model.extend([event("DepartmentKeyRetired", retired, 3)], 3, 1_800_000_003)
    after = checker.check(lid, None)
    assert after is not None and after.status is SealStatus.VALID and "retired" in after.reason
    amended = {"licenceId": h(lid), "by": DEPT, "version": 2, "docHash": h(b"\3" * 32)}
    model.extend([event("LicenceAmended", {**amended, "validUntil": 0}, 4)], 4, 1_800_000_004)
    unsealed = checker.check(lid, None)
    assert unsealed is not None and unsealed.status is SealStatus.MISSING and not unsealed.refuse
