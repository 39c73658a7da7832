"""Status lists from chain state (issue 21): W3C Bitstring Status List v1.0 credentials
(purposes revocation and suspension) and IETF Token Status Lists, per issuing department and list,
built from the indexed chain at a stated block and signed with the department's P-256 credential
key. See docs/credentials.md "Status lists".

- :class:`StatusEntry` (``entries.py``): where a licence's bits live, and the list URLs;
- :class:`StatusLists` (``lists.py``): the view the indexer feeds; ``entry_for(licence_id)``;
- ``encoding.py``: the bitstring and the 2-bit token list, compressed and decoded;
- ``documents.py``: the signed list credentials / tokens, cached per block.
"""

from __future__ import annotations

from credledger.node.status.entries import (
    DEFAULT_CAPACITY,
    MIN_CAPACITY,
    PURPOSES,
    REVOCATION,
    SUSPENSION,
    StatusEntry,
)
from credledger.node.status.lists import ListState, StatusLists

__all__ = [
    "DEFAULT_CAPACITY",
    "MIN_CAPACITY",
    "PURPOSES",
    "REVOCATION",
    "SUSPENSION",
    "ListState",
    "StatusEntry",
    "StatusLists",
]
