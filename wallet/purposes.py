"""The purpose catalogue: codes with Chinese and English names; on chain ``keccak256(code)``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from credledger.node.core.contracts.consent_registry import purpose_of
from credledger.node.core.errors import InputError
from credledger.node.core.receipts import hex32
from credledger.wallet.scan import refuse_personal_ids

CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9-]{1,47}$")


@dataclass(frozen=True)
class Purpose:
    code: str
    zh: str
    en: str

    @property
    def hash(self) -> bytes:
        return bytes(purpose_of(self.code))  # the one definition, beside the binding

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "zh": self.zh, "en": self.en, "hash": hex32(self.hash)}


CATALOGUE: tuple[Purpose, ...] = (
    Purpose("LOAN-APPLICATION", "贷款申请", "Loan application"),
    Purpose("TENDER", "招投标", "Tender and bidding"),
    Purpose("COUNTER-PRESENTATION", "窗口办事", "Presentation at a service counter"),
    Purpose("AUDIT", "审计", "Audit"),
    Purpose("LICENCE-APPLICATION", "许可申请", "Licence application"),
    Purpose("ACCOUNT-OPENING", "银行开户", "Bank account opening"),
    Purpose("INSURANCE", "保险投保", "Insurance application"),
    Purpose("GOVERNMENT-SUBSIDY", "政策补贴申报", "Government subsidy application"),
    Purpose("DUE-DILIGENCE", "尽职调查", "Due diligence"),
)

BY_CODE = {p.code: p for p in CATALOGUE}
BY_HASH = {p.hash: p for p in CATALOGUE}


def purpose(code: str) -> Purpose:
    """A catalogue purpose by code (case-insensitive); InputError naming the codes otherwise."""
    c = (code or "").strip().upper()
    p = BY_CODE.get(c)
    if p is None:
        refuse_personal_ids(code, "purpose")
        raise InputError(
            f"purpose: unknown purpose; use one of {', '.join(BY_CODE)}", field="purpose"
        )
    return p


def name_of(purpose_hash: bytes) -> str:
    p = BY_HASH.get(purpose_hash)
    return p.code if p else hex32(purpose_hash)
