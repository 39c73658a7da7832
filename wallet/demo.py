"""The devnet demo's enterprise in the wallet (`credledger up` on a local chain).

The node's demo issues licences to the demo enterprise (``DEMO_ENTERPRISE_USCC``) and binds them to
the demo holder, dev account 9. Here the same enterprise is registered in the wallet with that key
imported (custodial), so that the wallet page can sign in, show the licences as its assets and
present them as a QR code the clerk page verifies. Local devnets only: the key is a well-known
test key and the password is printed.
"""

from __future__ import annotations

from collections.abc import Callable

from credledger.node.core.demo import (
    DEMO_ENTERPRISE_NAME,
    DEMO_ENTERPRISE_USCC,
    DEMO_HOLDER_DEV_ACCOUNT,
)
from credledger.node.core.errors import ConflictError
from credledger.node.core.signer import dev_account
from credledger.wallet import crypto
from credledger.wallet.runtime import WalletRuntime

DEMO_PASSWORD = "devnet-demo-password"
DEVNET_CHAIN_IDS = (31337, 1337)


def seed(runtime: WalletRuntime, say: Callable[[str], None]) -> None:
    """Register the demo enterprise with the demo holder's key, once."""
    if runtime.chain.chain_id not in DEVNET_CHAIN_IDS:
        say(f"wallet demo: off (chain {runtime.chain.chain_id} is not a local devnet)")
        return
    key = bytes(dev_account(DEMO_HOLDER_DEV_ACCOUNT).key)
    passphrase = "devnet-demo-import"
    keystore = crypto.encrypt_key(key, passphrase, runtime.settings.security.keystore_scrypt_n)
    try:
        runtime.accounts.register(
            DEMO_ENTERPRISE_USCC,
            DEMO_ENTERPRISE_NAME,
            DEMO_PASSWORD,
            keystore=keystore,
            keystore_passphrase=passphrase,
        )
        say(f"wallet demo: registered {DEMO_ENTERPRISE_USCC} with the demo holder's key")
    except ConflictError:
        pass  # registered on an earlier run
