"""Assembles a running wallet from its settings: store, keys, node client, chain, services.

The one place where the wallet's components are wired together; the HTTP app and the CLI call
the typed services on :class:`WalletRuntime` (accounts, materials, grants, reuse, assets,
presentations, grantees: the address book); the web page calls the same services.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from credledger.node.core.chain import Chain
from credledger.node.core.errors import ConfigError
from credledger.node.core.manifest import addresses, check_manifest_chain, load_manifest
from credledger.node.core.signer import resolve_account
from credledger.node.core.tx import TxSender
from credledger.wallet import crypto
from credledger.wallet.accounts import AccountService, Caller
from credledger.wallet.address_book import AddressBook
from credledger.wallet.assets import AssetService
from credledger.wallet.consent import ConsentChain
from credledger.wallet.credentials import CredentialPresenter
from credledger.wallet.grants import GrantService
from credledger.wallet.materials import AnchorWorker, MaterialService
from credledger.wallet.node_client import NodeClient
from credledger.wallet.openid4vp import OpenID4VPHolder
from credledger.wallet.presentations import PresentationService
from credledger.wallet.reconcile import Reconciler
from credledger.wallet.reuse import ReuseService
from credledger.wallet.settings import ClerkSettings, WalletSettings
from credledger.wallet.store import WalletStore

log = logging.getLogger(__name__)


@dataclass
class WalletRuntime:
    settings: WalletSettings
    chain: Chain
    relayer: TxSender
    manifest: dict[str, Any]
    store: WalletStore
    node: NodeClient
    accounts: AccountService
    materials: MaterialService
    grants: GrantService
    reuse: ReuseService
    assets: AssetService
    anchor_worker: AnchorWorker
    presentations: PresentationService
    grantees: AddressBook  # the enterprise's address book of grantees
    reconciler: Reconciler  # follows the enterprises' grants on chain
    openid4vp: OpenID4VPHolder  # answers verifiers' OpenID4VP requests

    @classmethod
    def from_settings(cls, settings: WalletSettings) -> WalletRuntime:
        chain = Chain(settings.chain.rpc_urls, settings.chain.request_timeout)
        account = resolve_account(
            settings.relayer.keystore, settings.relayer.password_file, settings.relayer.dev_account
        )
        manifest_path = settings.manifest_path(chain.chain_id)
        manifest = load_manifest(manifest_path)
        check_manifest_chain(manifest, chain, manifest_path)
        contracts = addresses(manifest)
        if "ConsentRegistry" not in contracts:
            raise ConfigError(f"manifest {manifest_path} has no ConsentRegistry; deploy again")
        data_dir = settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        store = WalletStore(data_dir / "wallet.sqlite3")
        master = crypto.MasterKey(data_dir / "master.key")
        token = settings.node_token.get_secret_value() if settings.node_token else None
        node = NodeClient(settings.node_url, settings.node_timeout, token)
        relayer = TxSender(chain, account, sole_sender=True)  # the wallet's own key
        accounts = AccountService(store, settings.security, master)
        materials = MaterialService(store, settings.materials, master, data_dir / "files", node)
        consent = ConsentChain(chain, contracts["ConsentRegistry"], relayer)
        grants = GrantService(store, consent, accounts, materials, node)
        reuse = ReuseService(store, consent, materials, node, settings.chain.confirmations)
        from_block = int(manifest["contracts"]["ConsentRegistry"].get("blockNumber", 0))
        assets = AssetService(store, node, materials, consent, from_block)
        worker = AnchorWorker(materials, settings.materials.anchor_poll_interval)
        presentations = PresentationService(store, accounts, grants, node, chain.chain_id)
        reconciler = Reconciler(store, consent, from_block)
        grants.reconciler = reconciler
        holder = OpenID4VPHolder(CredentialPresenter(presentations, accounts, node), settings, node)
        return cls(settings, chain, relayer, manifest, store, node, accounts, materials, grants,
                   reuse, assets, worker, presentations, AddressBook(store),
                   reconciler, holder)  # fmt: skip

    def clerk(self, authorization: str | None) -> ClerkSettings | None:
        """The configured clerk whose token this is, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        h = crypto.hash_token(token.strip())
        for clerk in self.settings.clerks:
            if h in (t.lower() for t in clerk.token_sha256):
                return clerk
        return None

    def authenticate(self, authorization: str | None) -> Caller:
        return self.accounts.authenticate(authorization)

    def start(self) -> None:
        self.materials.recover()
        self.anchor_worker.start()
        self.reconciler.start()  # its first pass runs at once: grants made before a crash

    def stop(self) -> None:
        self.reconciler.stop()
        self.anchor_worker.stop()
        self.openid4vp.close()
        self.node.close()
        self.store.close()
