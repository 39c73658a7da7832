"""The materials bank's folders and the table that suggests one from a file name.

The first rule whose keyword occurs in the (case-folded) file name wins; nothing matches: OTHER.
This table is documented in docs/wallet.md; keep the two the same.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Folder:
    code: str
    zh: str
    en: str
    keywords: tuple[str, ...]


FOLDERS: tuple[Folder, ...] = (
    Folder("BUSINESS-LICENCE", "营业执照", "Business licence",
           ("营业执照", "执照", "business licence", "business license", "business-licen", "yyzz")),
    Folder("ARTICLES", "章程", "Articles of association",
           ("章程", "articles", "bylaws", "charter")),
    Folder("CONTRACT", "合同", "Contracts", ("合同", "协议", "contract", "agreement")),
    Folder("AUDIT-REPORT", "审计报告", "Audit reports", ("审计", "audit")),
    Folder("FINANCIAL", "财务报表", "Financial statements",
           ("财务", "报表", "balance sheet", "financial", "statement")),
    Folder("IDENTITY", "身份证明", "Identity documents",
           ("身份证", "身份证明", "护照", "identity", "passport", "id card", "id-card")),
    Folder("LEASE", "租赁", "Leases", ("租赁", "租房", "lease", "tenancy", "rental")),
    Folder("INVOICE", "发票", "Invoices", ("发票", "invoice", "receipt", "fapiao")),
    Folder("QUALIFICATION", "资质证书", "Certificates and qualifications",
           ("资质", "证书", "许可证", "certificate", "permit", "qualification")),
    Folder("TAX", "税务", "Tax", ("税", "tax")),
    Folder("OTHER", "其他", "Other", ()),
)  # fmt: skip

BY_CODE = {f.code: f for f in FOLDERS}


def suggest(file_name: str) -> Folder:
    name = unicodedata.normalize("NFKC", file_name).casefold().replace("_", " ")
    for folder in FOLDERS:
        if any(k.casefold() in name for k in folder.keywords):
            return folder
    return BY_CODE["OTHER"]


def resolve(value: str) -> str:
    """A folder code from its code, Chinese or English name; any other text is kept as given."""
    v = value.strip()
    for folder in FOLDERS:
        if v.upper() == folder.code or v == folder.zh or v.casefold() == folder.en.casefold():
            return folder.code
    return v


def folder_json(code: str) -> dict[str, str]:
    f = BY_CODE.get(code)
    if f is None:
        return {"code": code, "zh": code, "en": code}
    return {"code": f.code, "zh": f.zh, "en": f.en}
