"""The licence-type catalogue shipped with the node (``node/data/licence_types.json``).

The business licence plus the 24 kinds of e-licences in the six market-regulation categories the
Shanghai enterprise code links (seed 001). A type's on-chain id is ``keccak256(code)`` of its
stable code, so every node derives the same id without a lookup table.

Each type also has its GB/T 36902 type code (``typeCode``: the defining department's unified
social credit code + a 3-digit sequence; ``typeCodeSource`` ``national`` with a citation, or
``local``), part of every licence's GB/T 36904 identifier, and its document fingerprint
(``fingerprint``: ``sha256``, the default, or ``sm3``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from eth_hash.auto import keccak

from credledger.node.core.contracts.licence_registry import TypeId
from credledger.node.core.errors import InputError, NotFoundError
from credledger.node.core.gbt import parse_type_code

__all__ = [
    "Catalogue",
    "Category",
    "LicenceType",
    "TypeId",
    "load_catalogue",
    "parse_catalogue",
    "type_id",
]
HolderRule = Literal["enterprise", "person", "any"]
Fingerprint = Literal["sha256", "sm3"]
FINGERPRINTS: tuple[Fingerprint, ...] = ("sha256", "sm3")
TYPE_CODE_SOURCES = ("national", "local")
CODE_PATTERN = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$"


@dataclass(frozen=True)
class Category:
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class LicenceType:
    code: str
    category: str
    zh: str
    en: str
    holder: HolderRule = "enterprise"
    #: GB/T 36902 type code (None: a type registered on chain without one — no identifier)
    type_code: str | None = None
    type_code_source: str | None = None  # "national" | "local"
    fingerprint: Fingerprint = "sha256"
    type_code_citation: str | None = None

    @property
    def type_id(self) -> TypeId:
        return type_id(self.code)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "typeId": "0x" + self.type_id.hex(),
            "category": self.category,
            "zh": self.zh,
            "en": self.en,
            "holder": self.holder,
            "typeCode": self.type_code,
            "typeCodeSource": self.type_code_source,
            "typeCodeCitation": self.type_code_citation,
            "fingerprint": self.fingerprint,
        }


@cache  # keccak per call was a tenth of a verdict
def type_id(code: str) -> TypeId:
    if not code.isascii():
        raise InputError("licence type codes are ASCII: A-Z, 0-9 and '-'", field="type")
    return TypeId(keccak(code.encode("ascii")))


@dataclass(frozen=True)
class Catalogue:
    categories: tuple[Category, ...]
    types: tuple[LicenceType, ...]

    def get(self, code: str) -> LicenceType:
        for t in self.types:
            if t.code == code:
                return t
        raise NotFoundError("unknown licence type; GET /v1/licence-types lists them")

    def by_id(self, tid: bytes) -> LicenceType | None:
        for t in self.types:
            if t.type_id == tid:
                return t
        return None

    def by_type_code(self, type_code: str) -> LicenceType | None:
        """The type with this GB/T 36902 type code, if any."""
        return next((t for t in self.types if t.type_code == type_code), None)

    def codes(self) -> list[str]:
        return [t.code for t in self.types]

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)


def parse_catalogue(data: dict[str, Any]) -> Catalogue:
    import re

    if data.get("format") != "credledger-licence-types-1":
        raise InputError("not a credledger licence-type catalogue (format)")
    cats = tuple(Category(c["code"], c["zh"], c["en"]) for c in data["categories"])
    cat_codes = {c.code for c in cats}
    types: list[LicenceType] = []
    seen: set[str] = set()
    type_codes: set[str] = set()
    for t in data["types"]:
        code = t["code"]
        if not re.match(CODE_PATTERN, code) or code in seen:
            raise InputError(f"licence type code {code!r} is malformed or repeated")
        if t["category"] not in cat_codes:
            raise InputError(f"licence type {code}: unknown category {t['category']!r}")
        if t.get("holder", "enterprise") not in ("enterprise", "person", "any"):
            raise InputError(f"licence type {code}: holder must be enterprise, person or any")
        seen.add(code)
        types.append(
            LicenceType(
                code,
                t["category"],
                t["zh"],
                t["en"],
                t.get("holder", "enterprise"),
                *_gbt_fields(t, data.get("typeCodeCitations") or {}, type_codes),
            )
        )
    return Catalogue(cats, tuple(types))


def _gbt_fields(
    t: dict[str, Any], citations: dict[str, str], seen: set[str]
) -> tuple[str | None, str | None, Fingerprint, str | None]:
    """A catalogue entry's type code, its source, fingerprint and citation, validated."""
    code = t["code"]
    fingerprint = t.get("fingerprint", "sha256")
    if fingerprint not in FINGERPRINTS:
        raise InputError(f"licence type {code}: fingerprint must be sha256 or sm3")
    raw = t.get("typeCode")
    if raw is None:
        return None, None, fingerprint, None
    type_code = parse_type_code(raw, field=f"licence type {code}: typeCode")
    if type_code in seen:
        raise InputError(f"licence type {code}: typeCode {type_code} is used twice")
    seen.add(type_code)
    source = t.get("typeCodeSource")
    if source not in TYPE_CODE_SOURCES:
        raise InputError(f"licence type {code}: typeCodeSource must be national or local")
    citation = citations.get(type_code)
    if source == "national" and not citation:
        raise InputError(f"licence type {code}: a national typeCode needs its citation")
    return type_code, source, fingerprint, citation


@cache
def load_catalogue() -> Catalogue:
    text = resources.files("credledger.node").joinpath("data/licence_types.json").read_text("utf-8")
    return parse_catalogue(json.loads(text))
