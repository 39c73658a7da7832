"""Fast checks with no chain: KDFs and wrapping, folders, purposes, expiries, throttling."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from eth_hash.auto import keccak

from credledger.node.core.contracts.eip712 import material_asset_id
from credledger.node.core.errors import InputError, UnauthorizedError
from credledger.wallet import crypto, folders, purposes
from credledger.wallet.accounts import LoginThrottle
from credledger.wallet.errors import TooManyAttemptsError
from credledger.wallet.grants import grant_key, parse_expiry

FAST = crypto.KdfParams(time_cost=1, memory_kib=1024, parallelism=1, scrypt_n=1024)


def test_password_hash_and_kek() -> None:
    pw = crypto.Passwords(FAST)
    h = pw.hash("a long password")
    assert h.startswith("$argon2id$") and pw.verify(h, "a long password")
    assert not pw.verify(h, "another password") and not pw.verify(None, "a long password")
    salt = b"s" * 16
    assert pw.kek("a long password", salt) == pw.kek("a long password", salt)
    assert pw.kek("a long password", salt) != pw.kek("a long password", b"t" * 16)


def test_wrap_binds_key_and_associated_data() -> None:
    key, other = b"k" * 32, b"o" * 32
    blob = crypto.wrap(key, b"secret passphrase", b"person:1")
    assert crypto.unwrap(key, blob, b"person:1") == b"secret passphrase"
    with pytest.raises(UnauthorizedError):
        crypto.unwrap(other, blob, b"person:1")
    with pytest.raises(UnauthorizedError):
        crypto.unwrap(key, blob, b"person:2")
    f = crypto.encrypt_file(key, b"file", crypto.file_aad(1, "0xab"))
    assert f.startswith(crypto.FILE_MAGIC) and b"file" not in f[4:]
    with pytest.raises(UnauthorizedError):
        crypto.decrypt_file(key, f, crypto.file_aad(2, "0xab"))


def test_keystore_round_trip() -> None:
    passphrase = crypto.new_passphrase()
    address, ks = crypto.new_keystore(passphrase, FAST.scrypt_n)
    assert ks["crypto"]["kdf"] == "scrypt" and ks["crypto"]["kdfparams"]["n"] == 1024
    assert crypto.open_keystore(ks, passphrase).address == address
    with pytest.raises(UnauthorizedError):
        crypto.open_keystore(ks, crypto.new_passphrase())


def test_folder_suggestions_and_names() -> None:
    assert folders.suggest("营业执照副本.jpg").code == "BUSINESS-LICENCE"
    assert folders.suggest("Company_Articles.pdf").code == "ARTICLES"
    assert folders.suggest("ＡＵＤＩＴ report.pdf").code == "AUDIT-REPORT"  # full-width folded
    assert folders.suggest("photo.png").code == "OTHER"
    assert folders.resolve("发票") == "INVOICE" and folders.resolve("invoices") == "INVOICE"
    assert folders.resolve("my own folder") == "my own folder"
    assert len({f.code for f in folders.FOLDERS}) == len(folders.FOLDERS)


def test_purposes_are_keccak_of_their_code() -> None:
    p = purposes.purpose("loan-application")
    assert p.zh == "贷款申请" and p.hash == keccak(b"LOAN-APPLICATION")
    assert purposes.name_of(keccak(b"TENDER")) == "TENDER"
    codes = {q.code for q in purposes.CATALOGUE}
    assert {"LOAN-APPLICATION", "TENDER", "COUNTER-PRESENTATION", "AUDIT",
            "LICENCE-APPLICATION"} <= codes  # fmt: skip
    with pytest.raises(InputError):
        purposes.purpose("SOMETHING-ELSE")


def test_asset_ids_commit_to_the_holder() -> None:
    doc = hashlib.sha256(b"doc").digest()
    a = "0x" + "11" * 20
    b = "0x" + "22" * 20
    assert material_asset_id(a, doc) == keccak(bytes(12) + bytes.fromhex("11" * 20) + doc)
    assert material_asset_id(a, doc) != material_asset_id(b, doc)
    assert len(grant_key(a, doc, b, keccak(b"AUDIT"))) == 32


def test_expiry_forms() -> None:
    assert parse_expiry(1_900_000_000) == 1_900_000_000
    assert parse_expiry("1900000000") == 1_900_000_000
    china = dt.timezone(dt.timedelta(hours=8))
    end = int(dt.datetime(2030, 6, 30, 23, 59, 59, tzinfo=china).timestamp())
    assert parse_expiry("2030-06-30") == end
    assert parse_expiry("2030-06-30T00:00:00Z") == int(
        dt.datetime(2030, 6, 30, tzinfo=dt.UTC).timestamp()
    )
    with pytest.raises(InputError):
        parse_expiry("next week")


def test_login_throttle_window() -> None:
    t = LoginThrottle(limit=2, window=60)
    for _ in range(2):
        t.done(t.admit("x", "1"), failed=True)
    with pytest.raises(TooManyAttemptsError) as e:
        t.admit("x", "1")
    assert e.value.retry_after > 0
    t.done(t.admit("y", "1"), failed=None)  # the client address may fail more often
    t.done(t.admit("x", "2"), failed=False)  # another client is not refused


def test_login_throttle_counts_attempts_being_checked() -> None:
    """Admission and spending are one step: attempts in flight count as failures."""
    t = LoginThrottle(limit=3, window=60)
    held = [t.admit("x", "1") for _ in range(3)]
    with pytest.raises(TooManyAttemptsError) as e:
        t.admit("x", "1")
    assert e.value.retry_after == 1
    t.done(held.pop(), failed=False)  # a success frees its place and clears the pair
    t.done(t.admit("x", "1"), failed=None)


def test_login_throttle_account_ceiling_gives_each_address_one_guess() -> None:
    t = LoginThrottle(limit=2, window=60)
    for i in range(2 * LoginThrottle.ACCOUNT_FACTOR):  # many addresses, one failure each
        t.done(t.admit("x", f"c{i}"), failed=True)
    with pytest.raises(TooManyAttemptsError):
        t.admit("x", "c0")  # failed once already: no second guess while the account is over
    t.done(t.admit("x", "fresh"), failed=False)  # the rightful user's clean address: admitted


def test_trusted_proxies_are_addresses_or_networks() -> None:
    from credledger.node.core.errors import ConfigError
    from credledger.wallet.settings import load_wallet_settings

    ok = load_wallet_settings(api={"trusted_proxies": ["10.0.0.5", "192.168.0.0/16", "::1"]})
    assert ok.api.trusted_proxies == ["10.0.0.5", "192.168.0.0/16", "::1"]
    assert ok.api.header_timeout == 10.0 and load_wallet_settings().api.trusted_proxies == []
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_wallet_settings(api={"trusted_proxies": ["proxy.example"]})


def test_password_hashing_waits_for_a_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    from credledger.wallet import crypto, sessions

    pw = sessions.BoundedPasswords(crypto.KdfParams(1, 1024, 1, 1024), slots=1)
    stored = pw.hash("a password 123")
    assert pw.verify(stored, "a password 123") and not pw.verify(stored, "another one 123")
    monkeypatch.setattr(sessions, "HASH_QUEUE_SECONDS", 0.2)
    with pw._slot(), pytest.raises(TooManyAttemptsError) as e:  # the one slot is taken
        pw.verify(stored, "a password 123")
    assert e.value.retry_after == 1
    assert pw.verify(stored, "a password 123")  # released
