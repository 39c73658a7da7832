"""GB/T 36902 type codes and fingerprints in the catalogue; department USCCs in the settings."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest
from pydantic import ValidationError

from credledger.node.core.errors import InputError
from credledger.node.core.gbt import parse_type_code
from credledger.node.core.identifiers import parse_uscc
from credledger.node.demo.licences import DEMO_DEPARTMENTS
from credledger.node.licences.catalogue import load_catalogue, parse_catalogue
from credledger.node.settings import DepartmentSettings


def _data() -> dict:
    text = resources.files("credledger.node").joinpath("data/licence_types.json").read_text()
    return json.loads(text)


def test_every_type_has_a_valid_unique_type_code_and_a_fingerprint() -> None:
    cat = load_catalogue()
    codes = [t.type_code for t in cat.types]
    assert all(codes) and len(set(codes)) == len(codes)
    for t in cat.types:
        assert t.type_code is not None
        assert parse_type_code(t.type_code) == t.type_code
        assert t.type_code_source in ("national", "local")
        assert t.fingerprint in ("sha256", "sm3")
        if t.type_code_source == "national":
            assert t.type_code_citation
        assert cat.by_type_code(t.type_code) == t
        shown = t.to_json()
        assert shown["typeCode"] == t.type_code and shown["fingerprint"] == t.fingerprint
    assert cat.get("BL-BUSINESS").type_code == "11100000MB0143028R001"


def test_catalogue_refuses_bad_type_codes() -> None:
    data = _data()
    bad = copy.deepcopy(data)
    bad["types"][1]["typeCode"] = bad["types"][1]["typeCode"][:-3] + "1X1"
    with pytest.raises(InputError, match="3-digit"):
        parse_catalogue(bad)
    twice = copy.deepcopy(data)
    twice["types"][2]["typeCode"] = twice["types"][1]["typeCode"]
    with pytest.raises(InputError, match="used twice"):
        parse_catalogue(twice)
    uncited = copy.deepcopy(data)
    uncited["types"][1]["typeCodeSource"] = "national"
    with pytest.raises(InputError, match="citation"):
        parse_catalogue(uncited)
    fp = copy.deepcopy(data)
    fp["types"][1]["fingerprint"] = "md5"
    with pytest.raises(InputError, match="fingerprint"):
        parse_catalogue(fp)


def test_demo_departments_have_valid_usccs() -> None:
    codes = [d.uscc for d in DEMO_DEPARTMENTS]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert code is not None and parse_uscc(code).code == code


def test_department_uscc_is_validated_with_its_check_character() -> None:
    ok = DepartmentSettings(name="market", dev_account=1, uscc="11310000mb2f00001f")
    assert ok.uscc == "11310000MB2F00001F"
    with pytest.raises(ValidationError, match="check character should be F"):
        DepartmentSettings(name="market", dev_account=1, uscc="11310000MB2F00001G")


def test_other_departments_codes_are_validated() -> None:
    from credledger.node.settings import LicenceSettings

    addr = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
    ok = LicenceSettings(department_codes={addr: "11310000mb2f00001f"})
    assert ok.department_codes == {
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8": "11310000MB2F00001F"
    }
    with pytest.raises(ValidationError, match="check character"):
        LicenceSettings(department_codes={addr: "11310000MB2F00001G"})
    with pytest.raises(ValidationError, match="address"):
        LicenceSettings(department_codes={"0x12": "11310000MB2F00001F"})
