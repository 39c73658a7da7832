"""Holder identifiers: the unified social credit code and the citizen ID number.

Both are validated and normalised *before* anything is written anywhere, and each failure says
exactly what is wrong ("check character should be X"). From a valid identifier we derive the
holder's on-chain **subject**:

* an enterprise's subject is ``keccak256("credledger/subject/enterprise/v1" || 0x00 || USCC)`` —
  public, reproducible by anyone who knows the code (the enterprise code page is public);
* a person's subject is ``HMAC-SHA256(subject_secret, "credledger/subject/person/v1" || 0x00 ||
  ID)`` — keyed with the deployment secret, so the chain never holds anything from which the ID
  number can be recovered by enumeration.

Changing either derivation changes every subject ever written: do not.

Standards:

* USCC — GB 32100-2015: 18 characters from ``0-9 A-H J-N P-R T U W-Y`` (no I, O, S, V, Z);
  position 1 the registration authority, 2 the entity type under that authority, 3–8 the
  administrative division, 9–17 the organisation code, 18 the check character
  ``31 - (Σ value·3^i mod 31) mod 31``.
* Citizen ID — GB 11643-1999: 6-digit address code, 8-digit birth date, 3-digit sequence,
  check digit ``(12 - Σ digit·2^(17-i) mod 11) mod 11`` with 10 written ``X``.

Input may come from a scan gun or a phone keyboard in full-width mode (``９１３５…``), with
spaces or lower case; :func:`normalise_uscc` and :func:`normalise_citizen_id` fold all that.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal, NewType

from eth_hash.auto import keccak

from credledger.node.core.errors import InputError

Uscc = NewType("Uscc", str)
CitizenId = NewType("CitizenId", str)
Subject = NewType("Subject", bytes)
HolderKind = Literal["enterprise", "person"]

ENTERPRISE_DOMAIN = b"credledger/subject/enterprise/v1\x00"
PERSON_DOMAIN = b"credledger/subject/person/v1\x00"


class IdentifierError(InputError):
    """An identifier is malformed; the message says which part and what it should be."""

    code = "invalid_identifier"


# --- normalisation ----------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―·]+")


def _fold(raw: str) -> str:
    """Full-width to ASCII (NFKC), drop spaces and dashes, upper case."""
    if not isinstance(raw, str):
        raise IdentifierError("identifier must be a string")
    text = unicodedata.normalize("NFKC", raw)
    return _SEPARATORS.sub("", text).upper()


# --- USCC (GB 32100-2015) ---------------------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28

# registration authority -> (name, {entity type code: name})
USCC_AUTHORITIES: dict[str, tuple[str, dict[str, str]]] = {
    "1": (
        "机构编制 (establishment administration)",
        {"1": "机关", "2": "事业单位", "3": "群众团体", "9": "其他"},
    ),
    "2": ("外交 (foreign affairs)", {"1": "外国常驻新闻机构", "9": "其他"}),
    "3": (
        "司法行政 (justice)",
        {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
    ),
    "4": ("文化 (culture)", {"1": "外国在华文化中心", "9": "其他"}),
    "5": (
        "民政 (civil affairs)",
        {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},
    ),
    "6": (
        "旅游 (tourism)",
        {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻代表机构", "9": "其他"},
    ),
    "7": ("宗教 (religious affairs)", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会 (trade unions)", {"1": "基层工会", "9": "其他"}),
    "9": ("市场监管 (market regulation)", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室 (military establishment)", {"1": "军队事业单位", "9": "其他"}),
    "N": (
        "农业农村 (agriculture)",
        {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    ),
    "Y": ("其他 (other)", {"1": "其他"}),
}

# First two digits of an administrative division code (GB/T 2260): provinces, plus 10 for
# national-level registrations in the USCC and 81/82/83 (HK/Macao/Taiwan residence permits) and
# 91 (foreigners' permanent residence, 2023 format) in ID numbers.
PROVINCES: dict[str, str] = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古",
    "21": "辽宁", "22": "吉林", "23": "黑龙江",
    "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建",
    "36": "江西", "37": "山东",
    "41": "河南", "42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南",
    "50": "重庆", "51": "四川", "52": "贵州", "53": "云南", "54": "西藏",
    "61": "陕西", "62": "甘肃", "63": "青海", "64": "宁夏", "65": "新疆",
    "71": "台湾",
}  # fmt: skip
_USCC_EXTRA_REGIONS = {"10": "全国 (national)"}
_ID_EXTRA_REGIONS = {"81": "香港", "82": "澳门", "83": "台湾居民", "91": "外国人永久居留"}


def uscc_check_char(first17: str) -> str:
    """The check character (position 18) for the first 17 characters of a USCC."""
    if len(first17) != 17 or any(c not in _USCC_VALUE for c in first17):
        raise IdentifierError(
            "need 17 characters of the USCC alphabet to compute a check character"
        )
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


@dataclass(frozen=True)
class UsccInfo:
    code: Uscc
    authority: str
    authority_name: str
    entity_type: str
    entity_type_name: str
    region: str
    region_name: str
    organisation_code: str


@functools.lru_cache(maxsize=4096)  # pure; the read path normalises a code per request
def normalise_uscc(raw: str, *, field: str = "uscc") -> Uscc:
    """Validate a unified social credit code and return it in canonical form (18 upper ASCII)."""
    return parse_uscc(raw, field=field).code


def parse_uscc(raw: str, *, field: str = "uscc") -> UsccInfo:
    """Validate a USCC and return its parts; raise :class:`IdentifierError` saying what is wrong.

    ``field`` is the name the caller gave the value (``holderUscc``); errors carry it.
    """
    code = _fold(raw)
    if not code:
        raise IdentifierError("unified social credit code is empty", field=field)
    if len(code) != 18:
        raise IdentifierError(
            f"unified social credit code must have 18 characters, got {len(code)}", field=field
        )
    for pos, ch in enumerate(code, start=1):
        if ch not in _USCC_VALUE:
            hint = " (I, O, S, V and Z are never used)" if ch in "IOSVZ" else ""
            raise IdentifierError(
                f"unified social credit code: character {pos} {ch!r} is not allowed{hint}",
                field=field,
                position=pos,
            )
    authority = USCC_AUTHORITIES.get(code[0])
    if authority is None:
        raise IdentifierError(
            f"unified social credit code: registration authority code {code[0]!r} (character 1) "
            f"is not one of {', '.join(USCC_AUTHORITIES)}",
            field=field,
            position=1,
        )
    authority_name, types = authority
    if code[1] not in types:
        raise IdentifierError(
            f"unified social credit code: entity type {code[1]!r} (character 2) is not defined "
            f"for registration authority {code[0]} ({authority_name}); expected one of "
            f"{', '.join(types)}",
            field=field,
            position=2,
        )
    region = code[2:8]
    if not region.isdigit():
        raise IdentifierError(
            f"unified social credit code: administrative division {region!r} (characters 3-8) "
            "must be 6 digits",
            field=field,
            position=3,
        )
    region_name = PROVINCES.get(region[:2]) or _USCC_EXTRA_REGIONS.get(region[:2])
    if region_name is None:
        raise IdentifierError(
            f"unified social credit code: administrative division {region} (characters 3-8) "
            f"starts with {region[:2]}, which is no province code",
            field=field,
            position=3,
        )
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise IdentifierError(
            f"unified social credit code: check character should be {expected}, not {code[17]}",
            field=field,
            position=18,
            expected=expected,
        )
    return UsccInfo(
        code=Uscc(code),
        authority=code[0],
        authority_name=authority_name,
        entity_type=code[1],
        entity_type_name=types[code[1]],
        region=region,
        region_name=region_name,
        organisation_code=code[8:17],
    )


def is_uscc(raw: str) -> bool:
    try:
        parse_uscc(raw)
    except IdentifierError:
        return False
    return True


# --- citizen ID (GB 11643-1999) ---------------------------------------------------------------

_ID_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
_ID_CHECK = "10X98765432"
EARLIEST_BIRTH = dt.date(1900, 1, 1)


def citizen_id_check_digit(first17: str) -> str:
    if len(first17) != 17 or not first17.isdigit() or not first17.isascii():
        raise IdentifierError("need 17 digits to compute an ID check digit")
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


@dataclass(frozen=True)
class CitizenIdInfo:
    number: CitizenId
    region: str
    region_name: str
    birth_date: dt.date
    # odd sequence number: male; even: female (the 17th digit)
    sex: Literal["M", "F"]

    def __repr__(self) -> str:  # never print the number itself
        return f"CitizenIdInfo({mask_citizen_id(self.number)})"


def normalise_citizen_id(
    raw: str, *, today: dt.date | None = None, field: str = "citizen_id"
) -> CitizenId:
    """Validate a citizen ID number and return it canonical (18 ASCII, ``X`` upper case)."""
    return parse_citizen_id(raw, today=today, field=field).number


def parse_citizen_id(
    raw: str, *, today: dt.date | None = None, field: str = "citizen_id"
) -> CitizenIdInfo:
    """Validate a citizen ID number. Messages never repeat the number (it is personal data)."""
    number = _fold(raw)
    if not number:
        raise IdentifierError("citizen ID number is empty", field=field)
    if len(number) != 18:
        hint = " (15-digit numbers from before 1999 must be converted)" if len(number) == 15 else ""
        raise IdentifierError(
            f"citizen ID number must have 18 characters, got {len(number)}{hint}",
            field=field,
        )
    for pos, ch in enumerate(number[:17], start=1):
        if not ("0" <= ch <= "9"):
            raise IdentifierError(
                f"citizen ID number: character {pos} must be a digit",
                field=field,
                position=pos,
            )
    if not ("0" <= number[17] <= "9" or number[17] == "X"):
        raise IdentifierError(
            "citizen ID number: character 18 must be a digit or X", field=field, position=18
        )
    region = number[:6]
    region_name = PROVINCES.get(region[:2]) or _ID_EXTRA_REGIONS.get(region[:2])
    if region_name is None:
        raise IdentifierError(
            f"citizen ID number: address code starts with {region[:2]} (characters 1-2), "
            "which is no province code",
            field=field,
            position=1,
        )
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentifierError(
            "citizen ID number: characters 7-14 are not a calendar date (YYYYMMDD)",
            field=field,
            position=7,
        ) from None
    today = today or dt.date.today()
    if birth < EARLIEST_BIRTH or birth > today:
        raise IdentifierError(
            f"citizen ID number: birth date (characters 7-14) must be between "
            f"{EARLIEST_BIRTH.isoformat()} and today",
            field=field,
            position=7,
        )
    expected = citizen_id_check_digit(number[:17])
    if number[17] != expected:
        raise IdentifierError(
            f"citizen ID number: check digit should be {expected}, not {number[17]}",
            field=field,
            position=18,
            expected=expected,
        )
    return CitizenIdInfo(
        number=CitizenId(number),
        region=region,
        region_name=region_name,
        birth_date=birth,
        sex="M" if int(number[16]) % 2 else "F",
    )


def is_citizen_id(raw: str) -> bool:
    try:
        parse_citizen_id(raw)
    except IdentifierError:
        return False
    return True


# --- subjects and masking ---------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)  # pure; keccak through pycryptodome is slow
def enterprise_subject(uscc: str) -> Subject:
    """The on-chain subject of an enterprise (validates and normalises ``uscc`` first)."""
    code = normalise_uscc(uscc)
    return Subject(keccak(ENTERPRISE_DOMAIN + code.encode("ascii")))


def person_subject(citizen_id: str, secret: bytes) -> Subject:
    """The on-chain subject of a person: keyed, so it cannot be reversed by enumeration."""
    if len(secret) < 16:
        raise ValueError("the subject secret must be at least 16 bytes")
    number = normalise_citizen_id(citizen_id)
    return Subject(
        hmac.new(secret, PERSON_DOMAIN + number.encode("ascii"), hashlib.sha256).digest()
    )


def mask_citizen_id(number: str) -> str:
    """``110105********123X`` → ``110***********123X``: province+city prefix and last four kept."""
    if len(number) != 18:
        return "*" * len(number)
    return number[:3] + "*" * 11 + number[-4:]


@dataclass(frozen=True)
class Holder:
    """A validated holder: what it is, its canonical identifier, subject and display form."""

    kind: HolderKind
    subject: Subject
    display: str  # the USCC (public) or the masked citizen ID
    uscc: Uscc | None = None

    def __repr__(self) -> str:
        return f"Holder({self.kind}, {self.display})"


def holder_from(*, uscc: str | None = None, citizen_id: str | None = None, secret: bytes) -> Holder:
    """Exactly one of ``uscc`` / ``citizen_id``; the clear ID number is not kept in the result."""
    if (uscc is None) == (citizen_id is None):
        raise IdentifierError(
            "give exactly one of holderUscc or holderCitizenId", field="holderUscc"
        )
    try:
        if uscc is not None:
            code = normalise_uscc(uscc, field="holderUscc")
            return Holder("enterprise", enterprise_subject(code), code, code)
        assert citizen_id is not None
        number = normalise_citizen_id(citizen_id, field="holderCitizenId")
    except IdentifierError as exc:
        raise _named(exc) from None
    return Holder("person", person_subject(number, secret), mask_citizen_id(number))


def _named(exc: IdentifierError) -> IdentifierError:
    """The same error with its message starting with the field the caller sent."""
    field = exc.details.get("field")
    if not field:
        return exc
    details = {k: v for k, v in exc.details.items()}
    return IdentifierError(f"{field}: {exc.message}", **details)


# --- the personal-ID scan -----------------------------------------------------------------------


class PersonalIdError(InputError):
    """A free-text value contains a citizen ID number (refused; the number is never echoed)."""

    code = "contains_citizen_id"


def _digit_runs(text: str) -> list[str]:
    """Runs of digits (any script, full-width folded) and ``X``, with every separator inside a
    run dropped: spaces, hyphens, dots, slashes, commas, zero-width and other non-letters. A
    letter other than X ends a run."""
    runs: list[str] = []
    current: list[str] = []
    for ch in unicodedata.normalize("NFKC", text):
        if ch.isdecimal():
            current.append(str(unicodedata.decimal(ch)))
        elif ch in "Xx":
            current.append("X")
        elif ch.isalpha():
            if len(current) >= 18:
                runs.append("".join(current))
            current = []
    if len(current) >= 18:
        runs.append("".join(current))
    return runs


def contains_citizen_id(text: str) -> bool:
    """Whether ``text`` carries a valid citizen ID number in any form a reader could recover.

    Folded: full-width and other-script digits, any separators between the digits; every
    18-character window is checked (overlapping), so an ID inside a longer run of digits counts.
    """
    for run in _digit_runs(text):
        for i in range(len(run) - 17):
            window = run[i : i + 18]
            if "X" not in window[:17] and is_citizen_id(window):
                return True
    return False


def refuse_citizen_ids(value: object, field: str) -> None:
    """Raise :class:`PersonalIdError` (422) if any string in ``value`` holds a citizen ID number.

    ``value`` may be a string, or dicts / lists / tuples of them (keys are checked too). This is
    the one check for every free-text field that can reach the chain or a database: serial
    numbers, notes, metadata, idempotency keys, the wallet's material names and folders, grant
    purposes.
    """
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if contains_citizen_id(item):
                raise PersonalIdError(
                    f"{field} contains a citizen ID number; personal ID numbers are never "
                    "stored or put on chain (refer to the holder by licence instead)",
                    field=field,
                )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
