"""Identifier tables (USCC GB 32100-2015, citizen ID GB 11643-1999) and subject properties."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from eth_hash.auto import keccak
from hypothesis import given
from hypothesis import strategies as st

from credledger.node.core.identifiers import (
    USCC_ALPHABET,
    IdentifierError,
    citizen_id_check_digit,
    enterprise_subject,
    holder_from,
    mask_citizen_id,
    normalise_citizen_id,
    normalise_uscc,
    parse_citizen_id,
    parse_uscc,
    person_subject,
    uscc_check_char,
)

SECRET = b"test-secret-0123456789abcdef"

VALID_USCC = [
    "91350100M000100Y43",  # the GB 32100-2015 worked example
    "91310000MA1FL1234Q",
    "91440300708461136T",
    "12100000400000624D",  # institution, national level
    "51110000500021676X",  # civil affairs: social organisation
    "92350102MA2XYW012F",  # individual business
    "N2110105MA0123456L",  # village collective
    "31110000400834282L",  # law firm
    "93370100MA3C123453",  # farmers' cooperative, digit check
    "Y1100000MA0000001T",
]


@pytest.mark.parametrize("code", VALID_USCC)
def test_valid_uscc(code: str) -> None:
    assert normalise_uscc(code) == code


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("91350100m000100y43", "91350100M000100Y43"),  # lower case
        ("９１３５０１００Ｍ０００１００Ｙ４３", "91350100M000100Y43"),  # full-width
        (" 9135 0100-M000 100Y43 ", "91350100M000100Y43"),  # spaces and dashes
        ("9135０１００m000100y43", "91350100M000100Y43"),  # mixed
    ],
)
def test_uscc_normalisation(raw: str, canonical: str) -> None:
    assert normalise_uscc(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "is empty"),
        ("91350100M000100Y4", "must have 18 characters, got 17"),
        ("91350100M000100Y433", "must have 18 characters, got 19"),
        ("91350100M000100Y44", "check character should be 3, not 4"),
        ("91310000MA1FL1234R", "check character should be Q, not R"),
        ("91350100O000100Y43", "character 9 'O' is not allowed (I, O, S, V and Z are never used)"),
        ("91350100M000100I43", "character 16 'I' is not allowed"),
        ("91350100M00010?Y43", "character 15 '?' is not allowed"),
        ("B1350100M000100Y43", "registration authority code 'B' (character 1)"),
        ("94350100M000100Y43", "entity type '4' (character 2) is not defined for registration"),
        ("99350100M000100Y43", "entity type '9' (character 2)"),
        ("91A50100M000100Y43", "administrative division 'A50100' (characters 3-8) must be 6"),
        ("91990100M000100Y43", "starts with 99, which is no province code"),
    ],
)
def test_invalid_uscc(raw: str, message: str) -> None:
    with pytest.raises(IdentifierError) as err:
        normalise_uscc(raw)
    assert message in str(err.value)
    assert err.value.http_status == 422


def test_uscc_parts() -> None:
    info = parse_uscc("91350100M000100Y43")
    assert (info.authority, info.entity_type, info.region) == ("9", "1", "350100")
    assert info.entity_type_name == "企业"
    assert info.region_name == "福建"
    assert info.organisation_code == "M000100Y4"


def test_uscc_weights_are_the_standard_ones() -> None:
    # GB 32100-2015 table: weights 3^i mod 31
    from credledger.node.core.identifiers import _USCC_WEIGHTS

    assert _USCC_WEIGHTS == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


VALID_IDS = [
    "11010519491231002X",  # the GB 11643-1999 worked example
    "44030419900307123X",
    "310115198512203012",
    "510107200002294564",  # 29 February of a leap year
    "650102199912317896",
    "810000198001010014",  # Hong Kong residence permit
]


@pytest.mark.parametrize("number", VALID_IDS)
def test_valid_citizen_id(number: str) -> None:
    assert normalise_citizen_id(number) == number


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("11010519491231002x", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
        ("110105 19491231 002X", "11010519491231002X"),
    ],
)
def test_citizen_id_normalisation(raw: str, canonical: str) -> None:
    assert normalise_citizen_id(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "is empty"),
        ("11010519491231002", "must have 18 characters, got 17"),
        ("110105491231002", "15-digit numbers from before 1999 must be converted"),
        ("110105194912310021X", "got 19"),
        ("11010519491231002Y", "character 18 must be a digit or X"),
        ("1101051949123100AX", "character 17 must be a digit"),
        ("110105194912310021", "check digit should be X, not 1"),
        ("310115198512203013", "check digit should be 2, not 3"),
        ("000105194912310027", "address code starts with 00"),
        ("990105194912310027", "address code starts with 99"),
        ("110105194913310023", "not a calendar date"),  # month 13
        ("510107200102294566", "not a calendar date"),  # 29 Feb 2001
        ("110105189912310022", "birth date (characters 7-14) must be between 1900-01-01"),
        ("110105209912310028", "birth date (characters 7-14) must be between"),
    ],
)
def test_invalid_citizen_id(raw: str, message: str) -> None:
    with pytest.raises(IdentifierError) as err:
        normalise_citizen_id(raw)
    assert message in str(err.value)


def test_citizen_id_error_never_repeats_the_number() -> None:
    number = "110105194912310021"
    with pytest.raises(IdentifierError) as err:
        normalise_citizen_id(number)
    assert number not in str(err.value)
    assert number not in repr(err.value.to_json())


def test_citizen_id_parts() -> None:
    info = parse_citizen_id("11010519491231002X")
    assert info.birth_date == dt.date(1949, 12, 31)
    assert info.sex == "F"  # 17th digit 2 is even
    assert info.region_name == "北京"
    assert "11010519491231002X" not in repr(info)


def test_masking() -> None:
    assert mask_citizen_id("11010519491231002X") == "110***********002X"
    assert mask_citizen_id("short") == "*****"


def test_enterprise_subject_is_domain_separated_keccak() -> None:
    expected = keccak(b"credledger/subject/enterprise/v1\x00" + b"91350100M000100Y43")
    assert enterprise_subject("91350100m000100y43") == expected
    # domain separation: not the bare keccak of the code
    assert enterprise_subject("91350100M000100Y43") != keccak(b"91350100M000100Y43")


def test_person_subject_is_keyed_hmac() -> None:
    expected = hmac.new(
        SECRET, b"credledger/subject/person/v1\x00" + b"11010519491231002X", hashlib.sha256
    ).digest()
    assert person_subject("11010519491231002x", SECRET) == expected
    assert person_subject("11010519491231002X", b"another-secret-0123456") != expected
    with pytest.raises(ValueError):
        person_subject("11010519491231002X", b"short")


def test_holder_from() -> None:
    ent = holder_from(uscc="９１３５０１００Ｍ０００１００Ｙ４３", secret=SECRET)
    assert (ent.kind, ent.display, ent.uscc) == ("enterprise", "91350100M000100Y43", ent.display)
    per = holder_from(citizen_id="11010519491231002X", secret=SECRET)
    assert per.kind == "person" and per.uscc is None
    assert per.display == "110***********002X"
    assert "11010519491231002X" not in repr(per)
    with pytest.raises(IdentifierError, match="exactly one"):
        holder_from(secret=SECRET)
    with pytest.raises(IdentifierError, match="exactly one"):
        holder_from(uscc="91350100M000100Y43", citizen_id="11010519491231002X", secret=SECRET)


# --- properties -------------------------------------------------------------------------------

uscc_bodies = st.tuples(
    st.sampled_from(["91", "92", "93", "12", "51", "N2", "31"]),
    st.sampled_from(["110000", "310115", "350100", "440300", "100000", "650102"]),
    st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9),
).map("".join)


@given(uscc_bodies)
def test_any_body_with_its_check_char_is_valid(body: str) -> None:
    code = body + uscc_check_char(body)
    assert normalise_uscc(code) == code
    assert normalise_uscc(code.lower()) == code


@given(uscc_bodies, st.integers(0, 16), st.sampled_from(USCC_ALPHABET))
def test_any_single_substitution_is_caught(body: str, pos: int, ch: str) -> None:
    code = body + uscc_check_char(body)
    mutated = code[:pos] + ch + code[pos + 1 :]
    if mutated == code:
        return
    # position 1/2/3-8 may fail earlier (authority, type, region); any failure is fine,
    # but a substituted character must never validate (31 is prime: weights are units)
    with pytest.raises(IdentifierError):
        normalise_uscc(mutated)


@given(uscc_bodies, st.integers(8, 15))
def test_adjacent_transposition_is_caught(body: str, pos: int) -> None:
    code = body + uscc_check_char(body)
    swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]
    if swapped == code:
        return
    with pytest.raises(IdentifierError):
        normalise_uscc(swapped)


birth_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31))
id_bodies = st.tuples(
    st.sampled_from(["110105", "310115", "440304", "510107", "650102"]),
    birth_dates.map(lambda d: d.strftime("%Y%m%d")),
    st.integers(0, 999).map(lambda n: f"{n:03d}"),
).map("".join)


@given(id_bodies)
def test_any_id_with_its_check_digit_is_valid(body: str) -> None:
    number = body + citizen_id_check_digit(body)
    assert normalise_citizen_id(number) == number
    # full-width input folds to the same number
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)
    assert normalise_citizen_id(full_width) == number


@given(id_bodies, st.sampled_from("0123456789X"))
def test_only_one_check_digit_fits(body: str, check: str) -> None:
    number = body + check
    if check == citizen_id_check_digit(body):
        assert normalise_citizen_id(number) == number
    else:
        with pytest.raises(IdentifierError, match="check digit should be"):
            normalise_citizen_id(number)


@given(id_bodies, id_bodies)
def test_person_subjects_are_distinct_and_stable(a: str, b: str) -> None:
    na, nb = a + citizen_id_check_digit(a), b + citizen_id_check_digit(b)
    sa, sb = person_subject(na, SECRET), person_subject(nb, SECRET)
    assert len(sa) == 32
    assert (sa == sb) == (na == nb)
    assert person_subject(na, SECRET) == sa
