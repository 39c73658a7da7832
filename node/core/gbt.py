"""National e-licence standards: GB/T 36904 identifiers and GB/T 36903 metadata.

* **MOD 37,36** (ISO/IEC 7064, adopted as GB/T 17710): the hybrid system over the 36 characters
  ``0-9 A-Z``; the check character is one of those 36. :func:`mod37_36_check`.
* **Identifier** (GB/T 36904-2018): ``1.2.156.3005.2.<type code>.<issuer code>.<serial>.<version>
  .<check>`` — the root, the licence type code (GB/T 36902: the defining department's 18-character
  unified social credit code and a 3-digit sequence, 21 characters), the issuing department's
  unified social credit code (18), the serial, a 3-digit version (``001`` at issuance, incremented
  by each amendment) and the MOD 37,36 check character over type code + issuer code + serial +
  version (the four concatenated, without dots).
* **Serials** outside ``0-9 A-Z``: the identifier's serial part must be ``0-9 A-Z`` (the check
  character is defined over that alphabet, and dots separate the parts). A licence number that is
  upper-case letters and digits and does not start with ``Z`` is written as it is; any other
  number (lower case, ``-``, ``/``, Chinese characters, or a leading ``Z``) is written as ``Z``
  followed by the upper-case hex of its UTF-8 bytes: ``沪食2020-1`` → ``ZE6B2AAE9A39F323032302D31``.
  Plain serials never start with ``Z`` and encoded ones always do, so the encoding is reversible
  and collision-free (:func:`encode_serial`, :func:`decode_serial`). The number is first
  NFKC-normalised and trimmed, exactly as the contract's ``serial`` is derived.
* **Metadata** (GB/T 36903-2018): :class:`LicenceMetadata`; :meth:`LicenceMetadata.canonical`
  is the byte string a department's seal signs, defined in ``docs/standards.md``: RFC 8785 (JCS)
  JSON of :meth:`LicenceMetadata.json` — keys sorted, no whitespace, UTF-8; values are strings
  without control characters, so the only escapes are ``\\"`` and ``\\\\``.

Parsing folds full-width characters (NFKC), spaces and lower case, and every refusal says which
part is wrong and what it should be (:class:`~credledger.node.core.identifiers.IdentifierError`,
HTTP 422).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from credledger.node.core.identifiers import IdentifierError, parse_uscc

__all__ = [
    "GBT_ROOT",
    "LONG_TERM",
    "MOD37_ALPHABET",
    "GbtIdentifier",
    "LicenceMetadata",
    "decode_serial",
    "encode_serial",
    "gbt_identifier",
    "looks_like_gbt_identifier",
    "mod37_36_check",
    "parse_gbt_identifier",
    "parse_type_code",
]

GBT_ROOT = "1.2.156.3005.2"
MOD37_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {c: i for i, c in enumerate(MOD37_ALPHABET)}
LONG_TERM = "长期"
SERIAL_ESCAPE = "Z"
MAX_VERSION = 999
_PLAIN_SERIAL = re.compile(r"^[0-9A-Y][0-9A-Z]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def mod37_36_check(s: str) -> str:
    """The ISO/IEC 7064 MOD 37,36 check character of ``s`` (characters ``0-9 A-Z``).

    The hybrid system with M = 36: P starts at M; for each character, S = (P + value) mod M
    (0 read as M), P = 2·S mod (M + 1); the check character is the one whose value makes the
    final (P + value) mod M equal 1.
    """
    p = 36
    for pos, ch in enumerate(s, start=1):
        value = _VALUE.get(ch)
        if value is None:
            raise IdentifierError(
                f"MOD 37,36 input: character {pos} {ch!r} is not one of 0-9 A-Z", position=pos
            )
        p = (((p + value) % 36 or 36) * 2) % 37
    return MOD37_ALPHABET[(1 - p) % 36]


# --- serials ------------------------------------------------------------------------------------


def _normal_serial(serial: str) -> str:
    return unicodedata.normalize("NFKC", serial).strip()


def encode_serial(serial: str) -> str:
    """A licence number as the identifier's serial part (see the module docstring)."""
    if not isinstance(serial, str):
        raise IdentifierError("serial must be a string", field="serial")
    text = _normal_serial(serial)
    if not text:
        raise IdentifierError("serial is empty", field="serial")
    if _PLAIN_SERIAL.match(text):
        return text
    return SERIAL_ESCAPE + text.encode("utf-8").hex().upper()


def decode_serial(part: str) -> str:
    """The licence number an identifier's serial part stands for (inverse of
    :func:`encode_serial`); refuses parts :func:`encode_serial` never writes."""
    if not part:
        raise IdentifierError("identifier: the serial part is empty", part="serial")
    if not part.startswith(SERIAL_ESCAPE):
        if not _PLAIN_SERIAL.match(part):
            raise IdentifierError("identifier: the serial part must be 0-9 A-Z", part="serial")
        return part
    body = part[1:]
    if not body or len(body) % 2 or not re.fullmatch(r"[0-9A-F]+", body):
        raise IdentifierError(
            "identifier: a serial starting with Z is the hex of the number's UTF-8 bytes "
            "(an even number of 0-9 A-F after the Z)",
            part="serial",
        )
    try:
        text = bytes.fromhex(body).decode("utf-8")
    except UnicodeDecodeError:
        raise IdentifierError(
            "identifier: the serial's hex after Z is not UTF-8 text", part="serial"
        ) from None
    if encode_serial(text) != part:
        raise IdentifierError(
            f"identifier: the serial {text!r} is written {encode_serial(text)}, not hex-encoded",
            part="serial",
        )
    return text


# --- type codes (GB/T 36902) --------------------------------------------------------------------


def parse_type_code(code: str, *, field: str = "typeCode") -> str:
    """A GB/T 36902 licence type code: the defining department's USCC (check character
    validated) followed by a 3-digit sequence; returns it canonical (upper case)."""
    if not isinstance(code, str):
        raise IdentifierError(f"{field}: must be a string", field=field)
    text = unicodedata.normalize("NFKC", code).strip().upper()
    if len(text) != 21:
        raise IdentifierError(
            f"{field}: a licence type code has 21 characters (a unified social credit code and "
            f"a 3-digit sequence), got {len(text)}",
            field=field,
        )
    if not text[18:].isdigit() or not text[18:].isascii():
        raise IdentifierError(
            f"{field}: characters 19-21 of a licence type code are a 3-digit sequence",
            field=field,
        )
    try:
        parse_uscc(text[:18], field=field)
    except IdentifierError as exc:
        raise IdentifierError(
            f"{field}: the defining department's code (characters 1-18): {exc.message}",
            field=field,
        ) from None
    return text


# --- identifiers (GB/T 36904) -------------------------------------------------------------------


@dataclass(frozen=True)
class GbtIdentifier:
    """A GB/T 36904 e-licence identifier; ``serial`` is the serial *part* (encoded)."""

    type_code: str
    issuer_uscc: str
    serial: str
    version: int
    check: str

    def __str__(self) -> str:
        return ".".join(
            (GBT_ROOT, self.type_code, self.issuer_uscc, self.serial, f"{self.version:03d}",
             self.check)
        )  # fmt: skip

    @property
    def licence_number(self) -> str:
        """The licence number (serial) the identifier names, decoded."""
        return decode_serial(self.serial)


def _body(type_code: str, issuer_uscc: str, serial_part: str, version: int) -> str:
    return f"{type_code}{issuer_uscc}{serial_part}{version:03d}"


def gbt_identifier(type_code: str, issuer_uscc: str, serial: str, version: int) -> GbtIdentifier:
    """Build the identifier of a licence. ``serial`` is the licence number as issued (encoded
    here when it is not plain ``0-9 A-Z``); ``version`` 1 at issuance, +1 per amendment."""
    code = parse_type_code(type_code)
    issuer = parse_uscc(issuer_uscc, field="issuer").code
    part = encode_serial(serial)
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 999:
        raise IdentifierError(f"version must be 1-{MAX_VERSION}, got {version!r}", field="version")
    return GbtIdentifier(
        code, issuer, part, version, mod37_36_check(_body(code, issuer, part, version))
    )


def looks_like_gbt_identifier(text: str) -> bool:
    """Whether ``text`` is meant as a GB/T 36904 identifier rather than a ``0x`` licence id: it
    has a dot (the root's, or a mistyped root's), so a caller can send it to
    :func:`parse_gbt_identifier` and answer with the reason when it is malformed."""
    return isinstance(text, str) and "." in unicodedata.normalize("NFKC", text)


def _fold(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).upper()


def parse_gbt_identifier(text: str) -> GbtIdentifier:
    """Parse and check an identifier; raise :class:`IdentifierError` with the reason."""
    if not isinstance(text, str):
        raise IdentifierError("identifier must be a string", field="identifier")
    folded = _fold(text)
    if not folded.startswith(GBT_ROOT + "."):
        raise IdentifierError(
            f"identifier must start with the root {GBT_ROOT}.", field="identifier", part="root"
        )
    parts = folded[len(GBT_ROOT) + 1 :].split(".")
    if len(parts) != 5:
        raise IdentifierError(
            "identifier: after the root come 5 parts separated by dots (type code, issuer code, "
            f"serial, version, check character), got {len(parts)}",
            field="identifier",
        )
    type_part, issuer_part, serial_part, version_part, check_part = parts
    try:
        code = parse_type_code(type_part, field="type code")
    except IdentifierError as exc:
        raise IdentifierError(
            f"identifier: {exc.message}", field="identifier", part="type"
        ) from None
    try:
        issuer = parse_uscc(issuer_part, field="issuer code").code
    except IdentifierError as exc:
        raise IdentifierError(
            f"identifier: issuer code: {exc.message}", field="identifier", part="issuer"
        ) from None
    try:
        decode_serial(serial_part)
    except IdentifierError as exc:
        raise IdentifierError(exc.message, field="identifier", part="serial") from None
    if not re.fullmatch(r"[0-9]{3}", version_part) or version_part == "000":
        raise IdentifierError(
            f"identifier: the version is 3 digits, 001-999, got {version_part!r}",
            field="identifier",
            part="version",
        )
    if len(check_part) != 1 or check_part not in _VALUE:
        raise IdentifierError(
            "identifier: the check character is one character of 0-9 A-Z",
            field="identifier",
            part="check",
        )
    version = int(version_part)
    expected = mod37_36_check(_body(code, issuer, serial_part, version))
    if check_part != expected:
        raise IdentifierError(
            f"identifier: check character should be {expected}, not {check_part} (MOD 37,36 "
            "over type code, issuer code, serial and version): a character was mistyped or "
            "changed",
            field="identifier",
            part="check",
            expected=expected,
        )
    return GbtIdentifier(code, issuer, serial_part, version, check_part)


# --- metadata (GB/T 36903) ----------------------------------------------------------------------

HOLDER_CODE_TYPES = ("uscc", "citizen_id")
#: the metadata's field names as the API, the exports and the wallet show them, in the
#: standard's order (``LicenceMetadata.json``); each is selectively disclosable in an SD-JWT VC
METADATA_FIELDS = (
    "name",
    "typeCode",
    "number",
    "identifier",
    "authority",
    "issueDate",
    "holderName",
    "holderCode",
    "holderCodeType",
    "validFrom",
    "validUntil",
)


@dataclass(frozen=True)
class LicenceMetadata:
    """The mandatory metadata of an e-licence (GB/T 36903). Dates are Beijing dates
    ``YYYY-MM-DD``; ``valid_until`` is the last valid day or ``长期`` (no end)."""

    name: str
    type_code: str
    number: str
    identifier: str
    authority: str
    issue_date: str
    holder_name: str
    holder_code: str
    holder_code_type: str  # "uscc" | "citizen_id"
    valid_from: str
    valid_until: str

    def __post_init__(self) -> None:
        for key, value in self.json().items():
            if not isinstance(value, str):
                raise IdentifierError(f"metadata {key}: must be a string", field=key)
            for ch in value:
                if ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF:
                    raise IdentifierError(
                        f"metadata {key}: control characters are not allowed", field=key
                    )
        if self.holder_code_type not in HOLDER_CODE_TYPES:
            raise IdentifierError(
                "metadata holderCodeType: must be uscc or citizen_id", field="holderCodeType"
            )
        for key, value in (("issueDate", self.issue_date), ("validFrom", self.valid_from)):
            if not _DATE.match(value):
                raise IdentifierError(f"metadata {key}: expected YYYY-MM-DD", field=key)
        if self.valid_until != LONG_TERM and not _DATE.match(self.valid_until):
            raise IdentifierError(
                f"metadata validUntil: expected YYYY-MM-DD or {LONG_TERM}", field="validUntil"
            )

    def json(self) -> dict[str, str]:
        """The API and export form (our field names; docs/standards.md maps them to the
        standard's)."""
        return {
            "name": self.name,
            "typeCode": self.type_code,
            "number": self.number,
            "identifier": self.identifier,
            "authority": self.authority,
            "issueDate": self.issue_date,
            "holderName": self.holder_name,
            "holderCode": self.holder_code,
            "holderCodeType": self.holder_code_type,
            "validFrom": self.valid_from,
            "validUntil": self.valid_until,
        }

    def canonical(self) -> bytes:
        """The exact bytes a seal signs: RFC 8785 (JCS) JSON of :meth:`json`, UTF-8.

        With string values only, ASCII keys and no control characters (refused above), JCS is:
        keys sorted, ``{"k":"v",…}`` without whitespace, ``"`` and ``\\`` escaped with a
        backslash, every other character as itself in UTF-8."""
        return json.dumps(
            self.json(), ensure_ascii=False, sort_keys=True, separators=(",", ":")
        ).encode("utf-8")
