"""Known answers for the hand-written Keccak-f[1600] in node/core/_merkle_native.c.

The extension's ``keccak256`` runs the tree builder's rounds (one macro text, see the C file):
32 and 64 bytes through the tree's fast path, other lengths through the general sponge. Inputs
around the 136-byte rate catch padding and multi-block mistakes; safe-pysha3 is the reference.
"""

from __future__ import annotations

import pytest
import sha3  # type: ignore[import-untyped]

from credledger.node.core import merkle

NATIVE = pytest.importorskip("credledger.node.core._merkle_native")

# published keccak256 values (Ethereum's), not computed by any code under test
KNOWN = {
    b"": "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
    b"abc": "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
}
LENGTHS = [0, 1, 3, 31, 32, 33, 63, 64, 65, 135, 136, 137, 200, 271, 272, 273, 408, 1000]


def _message(n: int) -> bytes:
    return bytes((7 * i + 1) % 256 for i in range(n))


@pytest.mark.parametrize("data", list(KNOWN))
def test_published_answers(data: bytes) -> None:
    assert NATIVE.keccak256(data).hex() == KNOWN[data]
    assert sha3.keccak_256(data).hexdigest() == KNOWN[data]


@pytest.mark.parametrize("n", LENGTHS)
def test_same_as_safe_pysha3_across_the_rate(n: int) -> None:
    data = _message(n)
    assert NATIVE.keccak256(data) == sha3.keccak_256(data).digest()


def test_a_200_byte_message_of_0xa3() -> None:
    # the SHA-3 submission's 1600-bit test message (200 bytes of 0xa3), Keccak-256 padding
    data = b"\xa3" * 200
    assert NATIVE.keccak256(data) == sha3.keccak_256(data).digest()


def test_every_single_bit_flip_changes_the_digest() -> None:
    base = _message(137)
    seen = {NATIVE.keccak256(base)}
    for i in range(len(base) * 8):
        flipped = bytearray(base)
        flipped[i // 8] ^= 1 << (i % 8)
        digest = NATIVE.keccak256(bytes(flipped))
        assert digest == sha3.keccak_256(bytes(flipped)).digest()
        seen.add(digest)
    assert len(seen) == len(base) * 8 + 1


def test_the_native_tree_agrees_with_the_reference() -> None:
    def k(x: bytes) -> bytes:
        digest: bytes = sha3.keccak_256(x).digest()
        return digest

    a, b = _message(32), _message(33)[1:]
    la, lb = k(k(a)), k(k(b))
    assert merkle.MERKLE_BACKEND == "native"
    assert merkle.build([a, b]).root == k(min(la, lb) + max(la, lb))
