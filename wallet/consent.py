"""The wallet's side of ConsentRegistry: typed data and nonces, the relayed writes, grant state.

:class:`ConsentChain` is the only code in the wallet that knows ConsentRegistry's interface
(typed data, keyed nonces, ``grantBySig``, ``revokeBySig``, ``getGrant``, ``ConsentUsed``), and
every call it makes goes through the typed binding (``ConsentRegistry`` in
``node.core.contracts.consent_registry``). :class:`credledger.wallet.grants.GrantService` holds
the rules.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3.types import TxReceipt

from credledger.node.core.chain import Chain
from credledger.node.core.contracts.consent_registry import (
    ConsentEvent,
    ConsentRegistry,
    ConsentUse,
)
from credledger.node.core.contracts.eip712 import (
    GrantRequest,
    grant_typed_data,
    revoke_typed_data,
    sign_typed_data,
)
from credledger.node.core.receipts import hex32
from credledger.node.core.tx import TxSender

#: gas limits given explicitly so signed requests can be queued without estimating each
GRANT_GAS = 250_000
REVOKE_GAS = 150_000


@dataclass(frozen=True)
class GrantState:
    expires_at: int
    max_uses: int
    uses: int

    def state(self, now: int) -> str:
        if self.expires_at == 0:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        if self.max_uses and self.uses >= self.max_uses:
            return "exhausted"
        return "active"


@dataclass(frozen=True)
class UseEvent:
    holder: str
    asset_id: bytes
    grantee: str
    purpose: bytes
    uses: int
    log_index: int
    block_number: int
    tx_hash: str

    @classmethod
    def of(cls, u: ConsentUse) -> UseEvent:
        return cls(u.holder, u.asset_id, u.grantee, u.purpose, u.uses, u.log_index,
                   u.block_number, hex32(u.tx_hash))  # fmt: skip


@dataclass(frozen=True)
class Slot:
    """One grant as the wallet sees it: the holder's asset (licence or material), grantee,
    purpose, and the terms. ``doc_hash`` is the file's SHA-256 for a material."""

    holder: str
    kind: str  # "licence" | "material"
    asset_id: bytes
    grantee: str
    purpose: bytes
    expires_at: int = 0
    max_uses: int = 0
    doc_hash: bytes | None = None


class ConsentChain:
    """ConsentRegistry as the wallet uses it; the relayer pays for every write.

    The only place that knows the contract's interface: typed data and nonces, the two signed
    writes, the grant view and the ``ConsentUsed`` event.
    """

    def __init__(self, chain: Chain, address: str, relayer: TxSender) -> None:
        self.chain = chain
        self.address = to_checksum_address(address)
        self.registry = ConsentRegistry(chain, self.address, relayer)
        self.relayer = relayer
        self._locks: dict[tuple[str, str, str, str], threading.RLock] = {}
        self._locks_lock = threading.Lock()
        self._now, self._now_at = 0, -10.0

    def lock(self, slot: Slot) -> threading.RLock:
        """Serialises the signed requests that share a nonce sequence (one per grant slot);
        re-entrant, so a caller may hold it across a check and the write it guards."""
        key = (slot.holder.lower(), slot.asset_id.hex(), slot.grantee.lower(), slot.purpose.hex())
        with self._locks_lock:
            return self._locks.setdefault(key, threading.RLock())

    def now(self) -> int:
        """The chain's time (latest block), read at most once a second."""
        t = time.monotonic()
        if t - self._now_at > 1.0:
            self._now = self.chain.block("latest").timestamp
            self._now_at = t
        return self._now + int(t - self._now_at)

    def _nonce(self, slot: Slot) -> int:
        return self.registry.slot_nonce(slot.holder, slot.asset_id, slot.grantee, slot.purpose)

    @staticmethod
    def _request(slot: Slot) -> GrantRequest:
        if slot.kind == "material":
            assert slot.doc_hash is not None
            return GrantRequest.material(slot.holder, slot.doc_hash, slot.grantee, slot.purpose,
                                         slot.expires_at, slot.max_uses)  # fmt: skip
        return GrantRequest.licence(slot.holder, slot.asset_id, slot.grantee, slot.purpose,
                                    slot.expires_at, slot.max_uses)  # fmt: skip

    # typed data for a signer (custodial: signed here; external: returned to the client)
    def grant_payload(self, slot: Slot, deadline: int) -> dict[str, Any]:
        return grant_typed_data(
            self.chain.chain_id, self.address, self._request(slot), self._nonce(slot), deadline
        )

    def revoke_payload(self, slot: Slot, deadline: int) -> dict[str, Any]:
        return revoke_typed_data(
            self.chain.chain_id,
            self.address,
            holder=slot.holder,
            asset_id=slot.asset_id,
            grantee=slot.grantee,
            purpose=slot.purpose,
            nonce=self._nonce(slot),
            deadline=deadline,
        )

    def relay_grant(
        self, slot: Slot, deadline: int, signature: bytes, *, check: bool = True
    ) -> TxReceipt:
        """Relay a signed grant; ``check`` first with eth_call (skipped for our own signature)."""
        return self.registry.grant_by_sig(
            self._request(slot), deadline, signature, gas=GRANT_GAS, preflight=check
        )

    def relay_revoke(self, slot: Slot, deadline: int, signature: bytes) -> TxReceipt:
        return self.registry.revoke_by_sig(
            slot.holder, slot.asset_id, slot.grantee, slot.purpose, deadline, signature,
            gas=REVOKE_GAS, preflight=True,
        )  # fmt: skip

    def grant_and_sign(
        self,
        signer: LocalAccount,
        slot: Slot,
        deadline: int,
        before_relay: Callable[[int, int, bytes], None] | None = None,
    ) -> TxReceipt:
        """Sign with the slot's current nonce and relay; ``before_relay(nonce, deadline,
        signature)`` runs in between (the wallet stores the signed request there, so a retry
        after a crash relays the same request again, never a second one)."""
        with self.lock(slot):
            payload = self.grant_payload(slot, deadline)
            sig = sign_typed_data(signer, payload)
            if before_relay is not None:
                before_relay(int(payload["message"]["nonce"]), deadline, sig)
            return self.relay_grant(slot, deadline, sig, check=False)

    def slot_nonce(self, slot: Slot) -> int:
        """The nonce the slot's next signed grant or revocation must carry."""
        return self._nonce(slot)

    def revoke_and_sign(self, signer: LocalAccount, slot: Slot, deadline: int) -> TxReceipt:
        with self.lock(slot):
            payload = self.revoke_payload(slot, deadline)
            return self.relay_revoke(slot, deadline, sign_typed_data(signer, payload))

    def state(self, holder: str, asset_id: bytes, grantee: str, purpose: bytes) -> GrantState:
        g = self.registry.get_grant(holder, asset_id, grantee, purpose)
        if g is None:
            return GrantState(0, 0, 0)
        return GrantState(g.expires_at, g.max_uses, g.uses)

    def is_authorized(self, holder: str, asset_id: bytes, grantee: str, purpose: bytes) -> bool:
        return self.registry.is_authorized(holder, asset_id, grantee, purpose)

    def uses_in(self, tx_hash: bytes) -> tuple[TxReceipt | None, list[UseEvent]]:
        """The receipt of ``tx_hash`` (None if not mined) and its ConsentUsed events."""
        try:
            receipt = self.chain.receipt(tx_hash)
        except Exception:
            return None, []
        if receipt is None:
            return None, []
        return receipt, [UseEvent.of(u) for u in self.registry.uses_in(receipt)]

    def holder_uses(self, holder: str, from_block: int = 0) -> list[UseEvent]:
        return [UseEvent.of(u) for u in self.registry.uses_of(holder, from_block)]

    def events(self, holders: list[str], start: int, end: int) -> list[ConsentEvent]:
        """Grants, revocations and uses of ``holders``' grants in blocks [start, end]."""
        return self.registry.events_of(holders, start, end)

    def head(self) -> int:
        """The chain's latest block number."""
        return self.chain.block_number()

    def block_time(self, block_number: int) -> int:
        return self.chain.block(block_number).timestamp
