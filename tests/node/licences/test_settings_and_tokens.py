"""Department settings, demo refusal outside devnets, and the hashed token book (no chain)."""

from __future__ import annotations

from pathlib import Path

import pytest

from credledger.node.auth import Principal, TokenBook, hash_token, new_token, require
from credledger.node.core.errors import ConfigError, ForbiddenError, UnauthorizedError
from credledger.node.demo.licences import demo_settings, enable
from credledger.node.settings import load_settings

REAL_SECRET = "a-real-consortium-secret-0123456789"


def test_departments_from_settings() -> None:
    s = load_settings(
        departments=[
            {
                "name": "market",
                "dev_account": 1,
                "token_sha256": [hash_token("t")],
                "issues": ["FOOD-OPERATION"],
            }
        ]
    )
    assert s.departments[0].issues == ["FOOD-OPERATION"]


@pytest.mark.parametrize(
    ("dept", "message"),
    [
        ({"name": "market"}, r"set keystore\+password_file or dev_account"),
        ({"name": "market", "dev_account": 1, "token_sha256": ["abc"]}, "64 hex"),
        ({"name": "Market!", "dev_account": 1}, "departments.0.name"),
        ({"name": "market", "keystore": "/x.json"}, "keystore needs password_file"),
    ],
)
def test_bad_department_settings(dept: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(departments=[dept])


def test_dev_accounts_and_demo_are_refused_outside_devnets(tmp_path: Path) -> None:
    ks, pw = tmp_path / "k.json", tmp_path / "p"
    base = {
        "chain": {"kind": "consortium"},
        "subject_secret": REAL_SECRET,
        "signer": {"keystore": ks, "password_file": pw},
    }
    with pytest.raises(ConfigError, match="department market needs a keystore"):
        load_settings(**base, departments=[{"name": "market", "dev_account": 1}])
    with pytest.raises(ConfigError, match="demo"):
        load_settings(**base, licences={"demo": True})
    s = load_settings(**base)
    assert enable(s).licences.demo is False  # `up --demo` does nothing on a consortium chain
    assert demo_settings(s).departments == []


def test_demo_settings_add_departments_clerk_and_admin() -> None:
    s = demo_settings(enable(load_settings()))
    assert [d.name for d in s.departments] == ["market", "drugs", "enforcement"]
    assert s.clerks[0].department == "market"
    assert hash_token("devnet-admin-token") in s.licences.admin_token_sha256


def test_token_book() -> None:
    book = TokenBook()
    market = Principal("department", "market", "market")
    token = new_token()
    book.add(market, [hash_token(token)])
    assert book.authenticate(f"Bearer {token}") == market
    assert book.authenticate(f"bearer   {token}  ") == market
    assert book.authenticate(None) is None
    with pytest.raises(UnauthorizedError, match="Bearer"):
        book.authenticate(token)
    with pytest.raises(UnauthorizedError, match="not known"):
        book.authenticate("Bearer " + new_token())
    with pytest.raises(ConfigError, match="same token hash"):
        book.add(Principal("clerk", "c1", "market"), [hash_token(token)])
    assert len(token) > 40 and token.startswith("clt_")


def test_require() -> None:
    with pytest.raises(UnauthorizedError):
        require(None, "department")
    with pytest.raises(ForbiddenError, match="clerk:c1 cannot issue"):
        require(Principal("clerk", "c1", "market"), "department", action="issue")
    p = Principal("admin", "admin")
    assert require(p, "admin") is p
