"""GB/T 36904 identifiers (MOD 37,36 per ISO/IEC 7064 / GB/T 17710) and GB/T 36903 metadata."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.iso7064 import mod_37_36  # an independent implementation

from credledger.node.core.gbt import (
    GBT_ROOT,
    METADATA_FIELDS,
    MOD37_ALPHABET,
    LicenceMetadata,
    decode_serial,
    encode_serial,
    gbt_identifier,
    looks_like_gbt_identifier,
    mod37_36_check,
    parse_gbt_identifier,
    parse_type_code,
)
from credledger.node.core.identifiers import IdentifierError

TYPE = "11100000MB0143028R001"  # a type code: the defining department's USCC + 001
ISSUER = "11310000MA1FL00012"


def test_mod37_36_matches_stdnum_on_its_example() -> None:
    assert mod37_36_check("A12425GABC1234002") == "M"


@given(st.text(alphabet=MOD37_ALPHABET, min_size=1, max_size=80))
@settings(max_examples=500)
def test_mod37_36_matches_an_independent_implementation(body: str) -> None:
    check = mod37_36_check(body)
    assert check == mod_37_36.calc_check_digit(body)
    assert mod_37_36.is_valid(body + check)


def test_mod37_36_refuses_other_characters() -> None:
    with pytest.raises(IdentifierError, match="character 3"):
        mod37_36_check("AB-1")


def test_identifier_shape_and_check_accepted_by_stdnum() -> None:
    ident = gbt_identifier(TYPE, ISSUER, "SC10131010500012", 1)
    text = str(ident)
    assert text.startswith(GBT_ROOT + "." + TYPE + "." + ISSUER + ".SC10131010500012.001.")
    assert mod_37_36.is_valid(TYPE + ISSUER + "SC10131010500012" + "001" + ident.check)
    assert parse_gbt_identifier(text) == ident
    assert ident.licence_number == "SC10131010500012"


@pytest.mark.parametrize(
    "serial",
    ["沪食药监械经营许20150001号", "sc1013", "JY-3101-0001", "Z123", "A B", "食"],
)
def test_serials_outside_the_alphabet_are_hex_encoded_and_reversible(serial: str) -> None:
    part = encode_serial(serial)
    assert part.startswith("Z")
    assert set(part) <= set(MOD37_ALPHABET)
    assert decode_serial(part) == serial
    ident = gbt_identifier(TYPE, ISSUER, serial, 2)
    assert parse_gbt_identifier(str(ident)).licence_number == serial


def test_plain_serials_are_written_as_they_are() -> None:
    assert encode_serial("SC10131010500012") == "SC10131010500012"
    assert encode_serial(" ＳＣ１２ ") == "SC12"  # NFKC and trimmed, as the contract's serial


@given(st.text(min_size=1, max_size=40).filter(lambda s: s.strip()))
def test_serial_encoding_is_collision_free(serial: str) -> None:
    import unicodedata

    normal = unicodedata.normalize("NFKC", serial).strip()
    if not normal:
        return
    assert decode_serial(encode_serial(serial)) == normal


def test_non_canonical_serial_encoding_is_refused() -> None:
    with pytest.raises(IdentifierError, match="written SC1"):
        decode_serial("Z" + b"SC1".hex().upper())
    with pytest.raises(IdentifierError, match="even number"):
        decode_serial("ZABC")
    with pytest.raises(IdentifierError, match="not UTF-8"):
        decode_serial("ZFF")


def test_every_single_character_tampering_is_refused() -> None:
    """Change any one character of an identifier to any other: refused, with a reason."""
    text = str(gbt_identifier(TYPE, ISSUER, "沪食2020-1", 3))
    replacements = MOD37_ALPHABET + "."
    tried = 0
    for i, original in enumerate(text):
        for ch in replacements:
            if ch == original:
                continue
            tampered = text[:i] + ch + text[i + 1 :]
            with pytest.raises(IdentifierError) as exc:
                parse_gbt_identifier(tampered)
            assert exc.value.message
            tried += 1
    assert tried > 1000


def test_swapping_neighbours_is_refused() -> None:
    text = str(gbt_identifier(TYPE, ISSUER, "SC10131010500012", 1))
    for i in range(len(text) - 1):
        if text[i] == text[i + 1]:
            continue
        swapped = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        with pytest.raises(IdentifierError):
            parse_gbt_identifier(swapped)


def test_wrong_check_character_names_the_right_one() -> None:
    ident = gbt_identifier(TYPE, ISSUER, "SC1", 1)
    wrong = "0" if ident.check != "0" else "1"
    with pytest.raises(IdentifierError, match=f"should be {ident.check}, not {wrong}") as exc:
        parse_gbt_identifier(str(ident)[:-1] + wrong)
    assert exc.value.code == "invalid_identifier"
    assert exc.value.details["expected"] == ident.check


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1.2.156.3005.1." + TYPE + "." + ISSUER + ".SC1.001.X", "root"),
        (GBT_ROOT + "." + TYPE + "." + ISSUER + ".SC1.001", "5 parts"),
        (GBT_ROOT + ".11100000MB0143028R01." + ISSUER + ".SC1.001.X", "21 characters"),
        (GBT_ROOT + ".11100000MB0143028RABC." + ISSUER + ".SC1.001.X", "3-digit sequence"),
        (GBT_ROOT + ".11100000MB0143028Q001." + ISSUER + ".SC1.001.X", "check character"),
        (GBT_ROOT + "." + TYPE + ".11310000MA1FL00013.SC1.001.X", "issuer code"),
        (GBT_ROOT + "." + TYPE + "." + ISSUER + ".SC1.01.X", "version"),
        (GBT_ROOT + "." + TYPE + "." + ISSUER + ".SC1.000.X", "version"),
        (GBT_ROOT + "." + TYPE + "." + ISSUER + ".SC1.001.XY", "check character"),
        (GBT_ROOT + "." + TYPE + "." + ISSUER + "..001.X", "serial"),
    ],
)
def test_malformed_identifiers_say_why(text: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason):
        parse_gbt_identifier(text)


def test_parse_folds_case_width_and_spaces() -> None:
    ident = gbt_identifier(TYPE, ISSUER, "SC10131010500012", 12)
    text = str(ident)
    assert parse_gbt_identifier(text.lower()) == ident
    assert parse_gbt_identifier(" " + text.replace(".", "．") + "\n") == ident
    assert looks_like_gbt_identifier(text.lower())
    assert not looks_like_gbt_identifier("0x" + "ab" * 32)
    assert looks_like_gbt_identifier("8.2.156.3005.2.X")  # a mistyped root: refused as one


def test_builder_refuses_bad_parts() -> None:
    with pytest.raises(IdentifierError, match="version"):
        gbt_identifier(TYPE, ISSUER, "SC1", 1000)
    with pytest.raises(IdentifierError, match="version"):
        gbt_identifier(TYPE, ISSUER, "SC1", 0)
    with pytest.raises(IdentifierError, match="check character"):
        gbt_identifier(TYPE, "11310000MA1FL00013", "SC1", 1)
    with pytest.raises(IdentifierError, match="empty"):
        gbt_identifier(TYPE, ISSUER, "  ", 1)
    assert parse_type_code(TYPE.lower()) == TYPE


def _metadata(**over: str) -> LicenceMetadata:
    fields = {
        "name": "食品生产许可证",
        "type_code": TYPE,
        "number": "SC10131010500012",
        "identifier": str(gbt_identifier(TYPE, ISSUER, "SC10131010500012", 1)),
        "authority": "上海市市场监督管理局",
        "issue_date": "2026-01-05",
        "holder_name": '上海"示例"食品有限公司\\',
        "holder_code": "91310000MA1FL1234Q",
        "holder_code_type": "uscc",
        "valid_from": "2026-01-01",
        "valid_until": "长期",
    }
    fields.update(over)
    return LicenceMetadata(**fields)


def test_the_field_list_is_the_metadata_json_in_order() -> None:
    assert tuple(_metadata().json()) == METADATA_FIELDS


def test_canonical_bytes_are_jcs() -> None:
    m = _metadata()
    raw = m.canonical()
    assert raw.startswith(b'{"authority":"')
    assert b" " not in raw and b"\n" not in raw
    assert json.loads(raw) == m.json()
    keys = list(json.loads(raw))
    assert keys == sorted(keys)
    assert '"holderName":"上海\\"示例\\"食品有限公司\\\\"'.encode() in raw
    assert "长期".encode() in raw
    expected = (
        '{"authority":"上海市市场监督管理局","holderCode":"91310000MA1FL1234Q",'
        '"holderCodeType":"uscc","holderName":"上海\\"示例\\"食品有限公司\\\\",'
        f'"identifier":"{m.identifier}","issueDate":"2026-01-05","name":"食品生产许可证",'
        '"number":"SC10131010500012","typeCode":"11100000MB0143028R001",'
        '"validFrom":"2026-01-01","validUntil":"长期"}'
    )
    assert raw == expected.encode("utf-8")


def test_metadata_refuses_what_canonical_bytes_could_not_carry() -> None:
    with pytest.raises(IdentifierError, match="control"):
        _metadata(holder_name="a\nb")
    with pytest.raises(IdentifierError, match="holderCodeType"):
        _metadata(holder_code_type="passport")
    with pytest.raises(IdentifierError, match="validUntil"):
        _metadata(valid_until="forever")
    with pytest.raises(IdentifierError, match="issueDate"):
        _metadata(issue_date="2026/01/05")
