"""The one typed settings object: env vars, TOML, validation, no placeholder secrets off devnet."""

from __future__ import annotations

from pathlib import Path

import pytest

from credledger.node.core.errors import ConfigError
from credledger.node.settings import PLACEHOLDER_SECRET, load_settings


def test_defaults_are_a_devnet() -> None:
    s = load_settings()
    assert s.chain.kind == "devnet"
    assert s.chain.effective_confirmations == 1
    assert s.subject_secret.get_secret_value() == PLACEHOLDER_SECRET
    assert PLACEHOLDER_SECRET not in repr(s)  # secrets never print


def test_env_and_nested_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDLEDGER_ANCHORING__BATCH_INTERVAL", "0.5")
    monkeypatch.setenv("CREDLEDGER_CHAIN__RPC_URLS", '["http://a:1", "http://b:2"]')
    s = load_settings()
    assert s.anchoring.batch_interval == 0.5
    assert s.chain.rpc_urls == ["http://a:1", "http://b:2"]


def test_toml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "node.toml"
    cfg.write_text('[chain]\nkind = "public"\nconfirmations = 3\n')
    monkeypatch.setenv("CREDLEDGER_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match="placeholder"):
        load_settings()
    monkeypatch.setenv("CREDLEDGER_SUBJECT_SECRET", "a-real-secret-of-enough-length")
    with pytest.raises(ConfigError, match="keystore"):
        load_settings()
    s = load_settings(signer={"keystore": tmp_path / "k.json", "password_file": tmp_path / "pw"})
    assert s.chain.effective_confirmations == 3


def test_public_chain_defaults_to_12_confirmations(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CREDLEDGER_SUBJECT_SECRET", "a-real-secret-of-enough-length")
    s = load_settings(
        chain={"kind": "public"},
        signer={"keystore": tmp_path / "k.json", "password_file": tmp_path / "pw"},
    )
    assert s.chain.effective_confirmations == 12


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"chain": {"rpc_urls": []}}, "chain.rpc_urls"),
        ({"anchoring": {"batch_interval": 0}}, "anchoring.batch_interval"),
        ({"subject_secret": "short"}, "subject_secret"),
        ({"chain": {"confirmations": -1}}, "chain.confirmations"),
        ({"chain": {"confirmations": "safe"}}, "chain.confirmations"),
        ({"unknown_key": 1}, "unknown_key"),
    ],
)
def test_bad_values_name_the_setting(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(**overrides)


def test_finalized_tag_as_confirmations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDLEDGER_CHAIN__CONFIRMATIONS", "finalized")
    assert load_settings().chain.effective_confirmations == "finalized"


def test_missing_config_file_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CREDLEDGER_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="not a file"):
        load_settings()


def test_counter_single_use_is_network_unless_set_to_node(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().counter.single_use == "network"
    monkeypatch.setenv("CREDLEDGER_COUNTER__SINGLE_USE", "node")
    assert load_settings().counter.single_use == "node"
    monkeypatch.setenv("CREDLEDGER_COUNTER__SINGLE_USE", "nowhere")
    with pytest.raises(ConfigError, match=r"counter\.single_use"):
        load_settings()
