"""The frozen core: leaf encoding, Merkle tree and proof checking of anchored batches.

CHANGING ANYTHING IN THIS MODULE BREAKS EVERY RECEIPT EVER ISSUED. Receipts carry a root and a
path computed here; verifiers (``credledger verify``, the contract's ``verifyDocument``,
``@openzeppelin/merkle-tree``) recompute them with exactly these rules, forever:

* a document hash is 32 bytes (SHA-256 of the file, or any 32-byte digest the caller chose);
* ``leaf = keccak256(keccak256(abi.encode(bytes32 docHash)))`` -- ``abi.encode`` of a bytes32 is
  the 32 bytes themselves, so the leaf is a double keccak of the document hash;
* inner node = ``keccak256(min(a, b) ++ max(a, b))`` (sorted pairs, bytes compared unsigned);
* the tree has the shape of OpenZeppelin's ``StandardMerkleTree`` with ``sortLeaves``: leaves are
  sorted by value, laid out in a heap array of ``2n - 1`` nodes with leaf ``i`` (in sorted order)
  at index ``2n - 2 - i``, node ``k`` having children ``2k + 1`` and ``2k + 2``; the root is node 0;
* a proof lists the siblings from the leaf up to (not including) the root.

So ``StandardMerkleTree.of(docHashes.map(h => [h]), ["bytes32"]).root`` equals :attr:`Tree.root`,
and every proof verifies with ``MerkleProof.verify`` on chain. The fixed vectors in
``tests/test_merkle_vectors.py`` pin this; they are checked in Python, with the npm package and
against the deployed contract.

The keccak backend is native (``safe-pysha3``); pycryptodome is a fallback only. Trees are built
by the C extension ``node/core/_merkle_native.c`` (same rules; :data:`MERKLE_BACKEND` is
``"native"``) when it was compiled; the pure-Python code here is the reference and fallback, and
``tests/node/core/merkle/test_merkle_native.py`` checks that both give byte-identical trees and
proofs.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NewType

DocHash = NewType("DocHash", bytes)
MerkleRoot = NewType("MerkleRoot", bytes)

_Hasher = Callable[[bytes], bytes]


def _pick_keccak() -> tuple[_Hasher, Any, str]:
    """(keccak256 function, native constructor or None, backend name)."""
    try:
        import sha3  # type: ignore[import-untyped]  # safe-pysha3: native C keccak

        ctor = sha3.keccak_256

        def native(data: bytes) -> bytes:
            digest: bytes = ctor(data).digest()
            return digest

        return native, ctor, "safe-pysha3"
    except ImportError:  # pragma: no cover - only where the wheel is missing
        from Crypto.Hash import keccak as _k

        def slow(data: bytes) -> bytes:
            return _k.new(digest_bits=256, data=data).digest()

        return slow, None, "pycryptodome"


keccak256, _NATIVE, KECCAK_BACKEND = _pick_keccak()


def _pick_merkle() -> tuple[Any, str]:
    """(the compiled node._merkle_native module or None, backend name)."""
    try:
        return importlib.import_module("credledger.node.core._merkle_native"), "native"
    except ImportError:  # pragma: no cover - only where the extension was not built
        return None, "python"


_MERKLE_NATIVE, MERKLE_BACKEND = _pick_merkle()


def _check(doc_hash: bytes) -> None:
    if not isinstance(doc_hash, bytes | bytearray) or len(doc_hash) != 32:
        raise ValueError("a document hash must be exactly 32 bytes")


def leaf_hash(doc_hash: bytes) -> bytes:
    """The leaf of ``doc_hash``: keccak256(keccak256(abi.encode(bytes32 docHash)))."""
    _check(doc_hash)
    return keccak256(keccak256(bytes(doc_hash)))


def node_hash(a: bytes, b: bytes) -> bytes:
    """An inner node: keccak256 of the two children in ascending byte order."""
    return keccak256(a + b if a < b else b + a)


class Tree:
    """A built tree: the heap array of nodes and where each input document ended up."""

    __slots__ = ("_position", "doc_hashes", "nodes")

    def __init__(self, nodes: list[bytes], doc_hashes: list[bytes], position: list[int]) -> None:
        self.nodes = nodes  # heap array, root at 0
        self.doc_hashes = doc_hashes  # in input order
        self._position = position  # input index -> heap index

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    def __len__(self) -> int:
        return len(self.doc_hashes)

    def proof(self, i: int) -> list[bytes]:
        """Sibling path of input ``i`` (the i-th document hash given to :func:`build`)."""
        nodes = self.nodes
        k = self._position[i]
        path: list[bytes] = []
        while k > 0:
            path.append(nodes[k + 1] if k & 1 else nodes[k - 1])
            k = (k - 1) >> 1
        return path

    def leaf(self, i: int) -> bytes:
        return self.nodes[self._position[i]]

    def all_proofs(self) -> list[list[bytes]]:
        """Every proof, in input order, sharing work top-down (one list copy per node)."""
        with _no_gc():
            native = _MERKLE_NATIVE
            if native is not None and type(self.nodes) is list and type(self._position) is list:
                proofs: list[list[bytes]] = native.all_proofs(self.nodes, self._position)
                return proofs
            return self._all_proofs()

    def _all_proofs(self) -> list[list[bytes]]:
        """The pure-Python reference of :meth:`all_proofs`."""
        nodes = self.nodes
        total = len(nodes)
        paths: list[list[bytes]] = [[]] * total
        for k in range(1, total):
            sib = nodes[k + 1] if k & 1 else nodes[k - 1]
            paths[k] = [sib, *paths[(k - 1) >> 1]]
        return [paths[p] for p in self._position]


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC while millions of acyclic bytes/lists are made (no result changes)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def build(doc_hashes: Sequence[bytes]) -> Tree:
    """Build the tree of ``doc_hashes`` (32 bytes each, at least one, no duplicates)."""
    with _no_gc():
        return _build(doc_hashes)


def _validate(doc_hashes: Sequence[bytes]) -> list[bytes]:
    """Refuse a batch that is empty or has anything but 32-byte hashes; the hashes as bytes."""
    if len(doc_hashes) == 0:
        raise ValueError("a Merkle tree needs at least one document hash")
    if set(map(type, doc_hashes)) == {bytes}:  # the usual case, checked without a Python loop
        if set(map(len, doc_hashes)) != {32}:
            raise ValueError("a document hash must be exactly 32 bytes")
        return list(doc_hashes)
    if set(map(len, doc_hashes)) != {32} or not all(
        isinstance(d, bytes | bytearray) for d in doc_hashes
    ):
        raise ValueError("a document hash must be exactly 32 bytes")
    return [bytes(d) for d in doc_hashes]


def _build(doc_hashes: Sequence[bytes]) -> Tree:
    if _MERKLE_NATIVE is None:  # pragma: no cover
        return _build_python(doc_hashes)
    docs = _validate(doc_hashes)
    # leaves, sort (refusing duplicates with the same ValueError) and inner nodes in C
    nodes, position = _MERKLE_NATIVE.build(b"".join(docs))
    return Tree(nodes, docs, position)


def _build_python(doc_hashes: Sequence[bytes]) -> Tree:
    """The pure-Python reference of :func:`build` (call inside ``_no_gc`` for speed)."""
    docs = _validate(doc_hashes)
    n = len(docs)
    # the same rules as leaf_hash/node_hash, with the native constructor inlined (hot loops)
    if _NATIVE is not None:
        K = _NATIVE
        leaves: list[bytes] = [K(K(d).digest()).digest() for d in doc_hashes]
    else:  # pragma: no cover
        leaves = [keccak256(keccak256(bytes(d))) for d in doc_hashes]
    order = sorted(range(n), key=leaves.__getitem__)
    total = 2 * n - 1
    nodes: list[bytes] = [b""] * total
    position = [0] * n
    last = total - 1
    for rank, i in enumerate(order):
        position[i] = last - rank
        nodes[last - rank] = leaves[i]
    if _NATIVE is not None:
        for j in range(total - 1 - n, -1, -1):
            a = nodes[2 * j + 1]
            b = nodes[2 * j + 2]
            nodes[j] = K(a + b if a < b else b + a).digest()
    else:  # pragma: no cover
        for j in range(total - 1 - n, -1, -1):
            nodes[j] = node_hash(nodes[2 * j + 1], nodes[2 * j + 2])
    if len(set(leaves)) != n:
        raise ValueError("duplicate document hash in one batch")
    return Tree(nodes, docs, position)


def compute_root(doc_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from ``doc_hash``'s leaf."""
    node = leaf_hash(doc_hash)
    for sib in proof:
        if len(sib) != 32:
            raise ValueError("every proof element must be 32 bytes")
        node = node_hash(node, bytes(sib))
    return node


def verify(root: bytes, doc_hash: bytes, proof: Sequence[bytes]) -> bool:
    """True when ``proof`` proves ``doc_hash`` is a leaf of the tree with ``root``."""
    try:
        return compute_root(doc_hash, proof) == bytes(root)
    except ValueError:
        return False
