"""Typed binding for AnchorRegistry: anchoring Merkle roots and verifying documents against them.

An anchor counts only if its anchorer held ``ANCHORER_ROLE`` at the anchoring time (checked by the
views, see ``IAnchorRegistry``): trust :meth:`AnchorRegistry.anchored_at`, not an ``Anchored``
event alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_hash.auto import keccak
from eth_utils.address import to_checksum_address
from web3.types import TxReceipt

from credledger.node.core.contracts import openzeppelin as _oz  # noqa: F401 - registers the OpenZeppelin errors
from credledger.node.core.contracts._base import AdminRules
from credledger.node.core.contracts.errors import register
from credledger.node.core.errors import ContractRevert
from credledger.node.core.merkle import MerkleRoot

ANCHORER_ROLE = keccak(b"ANCHORER_ROLE")


class RootAlreadyAnchored(ContractRevert):
    """The root was anchored before by an anchorer (args: root, anchoredAt)."""

    code = "root_already_anchored"
    http_status = 409


class InvalidBatch(ContractRevert):
    """A zero root or an empty batch (args: root, leafCount)."""

    code = "invalid_batch"
    http_status = 400


class AnchorerRetired(ContractRevert):
    """An anchorer key whose term ended cannot be granted again (args: account, retiredAt)."""

    code = "anchorer_retired"
    http_status = 409


register(RootAlreadyAnchored, InvalidBatch, AnchorerRetired)


@dataclass(frozen=True)
class AnchoredEvent:
    """One ``Anchored(bytes32 indexed root, address indexed anchorer, uint32 leafCount,
    uint64 anchoredAt)`` event, as emitted by ``anchor``."""

    root: bytes
    anchorer: str
    leaf_count: int
    anchored_at: int


@dataclass(frozen=True)
class AnchorRecord:
    """The raw record of a root: when and by whom it was written (whether or not it counts)."""

    root: MerkleRoot
    time: int
    anchorer: str


class AnchorRegistry(AdminRules):
    """AnchorRegistry at ``address``; writes are signed by ``sender`` (a node's key)."""

    NAME = "AnchorRegistry"

    def anchor(self, root: bytes, leaf_count: int, gas: int | None = None) -> TxReceipt:
        return self._send(self.contract.functions.anchor(root, leaf_count), gas)

    def anchor_calldata(self, root: bytes, leaf_count: int) -> str:
        """The input of an ``anchor`` transaction (for a caller that signs and persists it)."""
        return str(self.contract.encode_abi("anchor", args=[root, leaf_count]))

    def preflight_anchor(self, root: bytes, leaf_count: int, sender: str) -> None:
        """Simulate ``anchor`` from ``sender``; a revert raises its error class."""
        self._simulate(self.contract.functions.anchor(root, leaf_count), sender)

    def anchor_transactions(self, root: bytes, from_block: int = 0) -> list[bytes]:
        """Hashes of the transactions that emitted ``Anchored(root)``, oldest first."""
        return [bytes(e["transactionHash"]) for e in self._logs("Anchored", from_block, root=root)]

    def anchored_roots(self, receipt: TxReceipt) -> list[bytes]:
        """The roots this registry's ``Anchored`` events in ``receipt`` name."""
        return [bytes(a["root"]) for a in self._events("Anchored", receipt)]

    def anchored_events(self, receipt: TxReceipt) -> list[AnchoredEvent]:
        """This registry's ``Anchored`` events in ``receipt``, with every field (a receipt's
        ``leafCount`` is checked against the event's)."""
        return [
            AnchoredEvent(
                bytes(a["root"]), str(a["anchorer"]), int(a["leafCount"]), int(a["anchoredAt"])
            )
            for a in self._events("Anchored", receipt)
        ]

    def grant_anchorer(self, account: str) -> TxReceipt:
        return self._send(
            self.contract.functions.grantRole(ANCHORER_ROLE, to_checksum_address(account))
        )

    def revoke_anchorer(self, account: str) -> TxReceipt:
        return self._send(
            self.contract.functions.revokeRole(ANCHORER_ROLE, to_checksum_address(account))
        )

    def anchored_at(self, root: bytes) -> int:
        """Anchoring time of ``root`` by an anchorer, or 0."""
        return int(self.contract.functions.anchoredAt(root).call())

    def verify_document(self, root: bytes, doc_hash: bytes, proof: list[bytes]) -> int:
        """Anchoring time if ``doc_hash`` is a leaf of anchored ``root`` with ``proof``, else 0."""
        return int(self.contract.functions.verifyDocument(root, doc_hash, proof).call())

    def anchor_record(self, root: bytes) -> AnchorRecord | None:
        time, anchorer = self.contract.functions.anchorRecord(root).call()
        if int(time) == 0:
            return None
        return AnchorRecord(MerkleRoot(bytes(root)), int(time), str(anchorer))

    def anchorer_term(self, account: str) -> tuple[int, int]:
        """(since, until) of an anchorer key; until 0 while it holds the role."""
        since, until = self.contract.functions.anchorerTerm(to_checksum_address(account)).call()
        return int(since), int(until)

    def is_anchorer(self, account: str) -> bool:
        return bool(
            self.contract.functions.hasRole(ANCHORER_ROLE, to_checksum_address(account)).call()
        )
