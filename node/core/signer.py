"""The node's signing key: an encrypted keystore file + password file, or a devnet account.

Key material never leaves this module's objects: it is not logged, printed or returned by the API.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from credledger.node.core.errors import ConfigError

# The well-known development mnemonic of anvil and Hardhat; `credledger devnet up` starts ganache
# with it too, so dev account N is the same address on every devnet engine.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNT_COUNT = 10
DEV_BALANCE_ETH = 10_000

Account.enable_unaudited_hdwallet_features()


def dev_account(index: int) -> LocalAccount:
    if not 0 <= index < 1000:
        raise ConfigError(f"dev account index {index} is out of range 0-999")
    acct: LocalAccount = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return acct


def load_keystore(keystore: Path, password_file: Path) -> LocalAccount:
    try:
        data = json.loads(keystore.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"keystore {keystore} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"keystore {keystore} is not a readable JSON keystore: {exc}") from None
    try:
        password = password_file.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"cannot read password file {password_file}: {exc}") from None
    try:
        key = Account.decrypt(data, password)
    except ValueError:
        raise ConfigError(f"wrong password for keystore {keystore}") from None
    acct: LocalAccount = Account.from_key(key)
    return acct


def create_keystore(path: Path, password: str) -> str:
    """Write a new encrypted keystore to ``path`` and return its address."""
    acct = Account.create()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(Account.encrypt(acct.key, password)), encoding="utf-8")
    path.chmod(0o600)
    return str(acct.address)


def resolve_account(
    keystore: Path | None, password_file: Path | None, dev_index: int | None
) -> LocalAccount:
    if keystore is not None:
        if password_file is None:
            raise ConfigError("--keystore needs --password-file")
        return load_keystore(keystore, password_file)
    return dev_account(dev_index or 0)
