"""The two list encodings against the specs' own examples, both ways, and their sizes."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from credledger.node.core.errors import InputError
from credledger.node.status.encoding import (
    INVALID,
    SUSPENDED,
    VALID,
    bit,
    bitstring,
    decode_bitstring,
    decode_token_list,
    encode_bitstring,
    encode_token_list,
    token_list,
    token_status,
    unb64url,
)

# W3C Bitstring Status List v1.0, example "BitstringStatusListCredential": 131,072 bits, none set
W3C_EXAMPLE = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"
# draft-ietf-oauth-status-list, the 1-bit example: statuses 1 0 0 1 1 1 0 1 | 1 1 0 0 0 1 0 1
IETF_1BIT = "eNrbuRgAAhcBXQ"


def test_the_w3c_example_decodes_to_131072_clear_bits() -> None:
    raw = decode_bitstring(W3C_EXAMPLE)
    assert len(raw) * 8 == 131_072 and not any(raw)


def test_bitstring_index_zero_is_the_left_most_bit_and_round_trips() -> None:
    raw = bitstring(131_072, [0, 9, 131_071])
    assert raw[0] == 0x80 and raw[1] == 0x40 and raw[-1] == 0x01
    back = decode_bitstring(encode_bitstring(raw))
    assert back == raw
    assert [i for i in (0, 1, 8, 9, 131_071) if bit(back, i)] == [0, 9, 131_071]
    encoded = encode_bitstring(raw)
    assert encoded.startswith("u") and "=" not in encoded and "+" not in encoded
    # GZIP (not zlib) inside, as the spec says
    assert gzip.decompress(unb64url(encoded[1:])) == raw
    with pytest.raises(InputError):
        bit(back, 131_072)
    with pytest.raises(InputError):
        decode_bitstring("z" + encoded[1:])


def test_the_ietf_examples_in_least_significant_bit_order() -> None:
    assert decode_token_list(IETF_1BIT) == bytes([0xB9, 0xA3])
    ones = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
    raw = token_list(16, {i: v for i, v in enumerate(ones) if v}, bits=1)
    assert raw == bytes([0xB9, 0xA3])
    # the 2-bit example: 1 2 0 3 | 0 1 0 1 | 1 2 3 3 -> C9 44 F9
    two = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]
    raw2 = token_list(12, dict(enumerate(two)), bits=2)
    assert raw2 == bytes([0xC9, 0x44, 0xF9])
    assert [token_status(raw2, i) for i in range(12)] == two
    lst = encode_token_list(raw2)
    assert zlib.decompress(unb64url(lst)) == raw2 and decode_token_list(lst) == raw2
    with pytest.raises(InputError):
        token_list(4, {0: 4}, bits=2)


def test_a_million_entries_with_1_2_percent_set_compress_to_about_16_kib() -> None:
    rng = random.Random(21)
    size = 1_048_576
    chosen = rng.sample(range(size), int(size * 0.012))
    encoded = encode_bitstring(bitstring(size, chosen))
    assert 12_000 < len(gzip.compress(bitstring(size, chosen))) < 24_000
    back = decode_bitstring(encoded)
    assert sum(bin(b).count("1") for b in back) == len(chosen)
    half = len(chosen) // 2
    statuses = {i: INVALID for i in chosen[:half]} | {i: SUSPENDED for i in chosen[half:]}
    raw = decode_token_list(encode_token_list(token_list(size, statuses)))
    assert token_status(raw, chosen[0]) == INVALID
    assert token_status(raw, chosen[-1]) == SUSPENDED
    assert sum(token_status(raw, i) != VALID for i in chosen) == len(chosen)


def test_a_zip_bomb_is_refused() -> None:
    bomb = "u" + __import__("base64").urlsafe_b64encode(gzip.compress(bytes(70 * 2**20))).decode()
    with pytest.raises(InputError):
        decode_bitstring(bomb.rstrip("="))
