"""The C Merkle builder (node/core/_merkle_native.c) against the pure-Python reference in
node/core/merkle.py.

Both must give byte-identical nodes, positions, roots and proofs, and refuse bad input with the
same errors; test_merkle_vectors.py (beside this file) pins the shared rules to fixed vectors,
OpenZeppelin and the contract. These tests also prove the extension was built where they run
(CI: a fresh clone).
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import sha3  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from credledger.node.core import merkle

NATIVE: Any = merkle._MERKLE_NATIVE


def docs(n: int, seed: int = 0) -> list[bytes]:
    return [hashlib.sha256(f"native-{seed}-{i}".encode()).digest() for i in range(n)]


def python_tree(doc_hashes: Sequence[bytes]) -> merkle.Tree:
    with merkle._no_gc():
        return merkle._build_python(doc_hashes)


def assert_same(doc_hashes: Sequence[bytes]) -> None:
    native = merkle.build(doc_hashes)
    ref = python_tree(doc_hashes)
    assert native.nodes == ref.nodes
    assert native._position == ref._position
    assert native.doc_hashes == ref.doc_hashes
    assert native.root == ref.root
    assert all(type(x) is bytes and len(x) == 32 for x in native.nodes)
    proofs = native.all_proofs()
    assert type(proofs) is list and all(type(p) is list for p in proofs)
    assert proofs == ref._all_proofs()
    assert proofs == [ref.proof(i) for i in range(len(doc_hashes))]
    assert [native.leaf(i) for i in range(len(doc_hashes))] == [
        merkle.leaf_hash(d) for d in doc_hashes
    ]


def raised(fn: Callable[[], Any]) -> tuple[type[BaseException], str]:
    with pytest.raises(Exception) as info:
        fn()
    return info.type, str(info.value)


def test_native_backend_is_in_use() -> None:
    """The extension compiled in this environment (CI installs from a fresh clone)."""
    assert merkle.MERKLE_BACKEND == "native"
    assert NATIVE is not None and NATIVE.__name__ == "credledger.node.core._merkle_native"
    assert str(NATIVE.__file__).endswith(".so")


def test_native_keccak_is_keccak256_not_sha3() -> None:
    rng = random.Random(1)
    for size in (32, 64):
        for _ in range(300):
            data = rng.randbytes(size)
            assert NATIVE.keccak256(data) == sha3.keccak_256(data).digest()
            assert NATIVE.keccak256(data) != hashlib.sha3_256(data).digest()


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.integers(min_value=0, max_value=2**32))
def test_same_as_python_small(n: int, seed: int) -> None:
    """Every small tree (1..300 leaves: odd levels, the last lone leaf, one leaf) — one property,
    300 examples, so the test count stays honest."""
    assert_same(docs(n, seed=seed))


@pytest.mark.parametrize("n", [1023, 1024, 1025, 8191, 8192, 8193, 16385, 100_003])
def test_same_as_python_larger(n: int) -> None:
    """Around powers of two and the size where the C code splits work over two threads."""
    assert_same(docs(n, seed=n))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=200, unique=True))
def test_same_as_python_any_input(doc_hashes: list[bytes]) -> None:
    assert_same(doc_hashes)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=301, max_value=20_000), st.integers(min_value=0, max_value=2**32))
def test_same_as_python_random_sizes(n: int, seed: int) -> None:
    assert_same(docs(n, seed=seed))


def test_same_as_python_bytearray_input() -> None:
    d = docs(50, seed=7)
    mixed: list[bytes] = [bytearray(x) if i % 2 else x for i, x in enumerate(d)]
    assert_same(mixed)
    assert merkle.build(mixed).doc_hashes == d


def test_leaves_sharing_their_first_bytes() -> None:
    """Leaves equal in their first 2..4 bytes: the C sort buckets on the top 16 bits, then sorts
    inside a bucket (insertion sort up to 32 items, qsort above). Among 2^20 candidate documents
    some 16-bit bucket holds more than 32 leaves and about 128 pairs share 4 bytes."""
    n = 1 << 20
    cand = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n)]
    with merkle._no_gc():
        nodes, position = NATIVE.build(b"".join(cand))
        by_rank = [0] * n  # input index of the leaf of each rank (heap index 2n - 2 - rank)
        for i, k in enumerate(position):
            by_rank[2 * n - 2 - k] = i
        leaves = nodes[: n - 2 : -1]  # ascending
    assert leaves == sorted(leaves)
    runs: list[list[int]] = [[0]]
    for r in range(1, n):
        if leaves[r][:2] == leaves[r - 1][:2]:
            runs[-1].append(r)
        else:
            runs.append([r])
    big = max(runs, key=len)
    assert len(big) > 32
    pairs4 = [r for r in range(1, n) if leaves[r][:4] == leaves[r - 1][:4]]
    assert len(pairs4) > 50
    ranks = set(big) | set(pairs4) | {r - 1 for r in pairs4}
    assert_same([cand[by_rank[r]] for r in sorted(ranks)])
    # a bucket of exactly the small-sort size, and the big one among unrelated leaves
    assert_same([cand[by_rank[r]] for r in big[:32]])
    assert_same([cand[by_rank[r]] for r in reversed(big)] + docs(1000, seed=3))


@pytest.mark.parametrize(
    "bad",
    [
        [],
        [b"short"],
        [b"\x00" * 33],
        [*docs(3), b"\x00" * 31],
        ["x" * 32],
        [*docs(2), memoryview(b"\x01" * 32)],
        [1],
        [docs(1)[0], docs(1)[0]],
        [*docs(40), docs(40)[17]],
        [*docs(20_000), docs(20_000)[12_345]],
        [docs(1)[0], bytearray(docs(1)[0])],
    ],
    ids=lambda b: f"len{len(b)}",
)
def test_bad_input_same_error(bad: list[Any]) -> None:
    assert raised(lambda: merkle.build(bad)) == raised(lambda: python_tree(bad))
    assert raised(lambda: merkle.build(bad))[0] in (ValueError, TypeError)


def test_duplicates_refused() -> None:
    with pytest.raises(ValueError, match="duplicate document hash in one batch"):
        merkle.build([*docs(10), docs(10)[0]])


def test_native_build_rejects_a_bad_buffer() -> None:
    with pytest.raises(ValueError, match="exactly 32 bytes"):
        NATIVE.build(b"\x00" * 33)
    with pytest.raises(ValueError, match="at least one"):
        NATIVE.build(b"")
    with pytest.raises(TypeError):
        NATIVE.build("not bytes")


def test_native_all_proofs_rejects_a_bad_tree() -> None:
    nodes, position = NATIVE.build(b"".join(docs(4)))
    with pytest.raises(IndexError):
        NATIVE.all_proofs(nodes, [*position[:-1], len(nodes)])
    with pytest.raises(ValueError):
        NATIVE.all_proofs(nodes[:-1], position)
    with pytest.raises(TypeError):
        NATIVE.all_proofs(tuple(nodes), position)


def test_all_proofs_of_a_hand_made_tree() -> None:
    """Positions sharing a node (not a built tree) still give the reference's answer."""
    tree = merkle.build(docs(5))
    odd = merkle.Tree(tree.nodes, tree.doc_hashes + tree.doc_hashes[:1], [*tree._position, 8])
    assert odd.all_proofs() == odd._all_proofs()


def test_random_input_order_same_root() -> None:
    d = [os.urandom(32) for _ in range(5000)]
    shuffled = random.Random(5).sample(d, len(d))
    assert merkle.build(d).root == merkle.build(shuffled).root == python_tree(shuffled).root
