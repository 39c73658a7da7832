#!/usr/bin/env python3
"""Generate a 4-validator Hyperledger Besu QBFT network for credledger departments.

Writes into ``generated/`` (next to this file): one secp256k1 key per validator
(``validator-N/key``, hex without 0x, mode 600), ``genesis.json`` with the QBFT ``extraData``
that lists the validators, and ``.env`` with the bootnode enode for ``docker-compose.yml``.
Each department runs one validator; its node's RPC is ``http://127.0.0.1:854N``.

This replaces ``besu operator generate-blockchain-config`` so the network can be prepared
without a Besu binary. Usage: ``python generate.py [--validators 4] [--chain-id 1981]
[--fund 0xADDR ...] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from pathlib import Path

import rlp
from eth_keys import keys

HERE = Path(__file__).resolve().parent
DEV_ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def qbft_extra_data(validators: list[bytes]) -> str:
    """RLP([32-byte vanity, [validator addresses], no vote, round 0, no seals])."""
    encoded = rlp.encode([b"\x00" * 32, validators, [], b"", []])
    return "0x" + encoded.hex()


def genesis(chain_id: int, validators: list[bytes], funded: list[str]) -> dict[str, object]:
    return {
        "config": {
            "chainId": chain_id,
            "berlinBlock": 0,
            "londonBlock": 0,
            "zeroBaseFee": True,
            "qbft": {
                "blockperiodseconds": 2,
                "epochlength": 30000,
                "requesttimeoutseconds": 4,
            },
        },
        "nonce": "0x0",
        "timestamp": "0x0",
        "gasLimit": "0x1C9C380",
        "difficulty": "0x1",
        "mixHash": "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365",
        "coinbase": "0x0000000000000000000000000000000000000000",
        "alloc": {a.lower().removeprefix("0x"): {"balance": hex(10**24)} for a in funded},
        "extraData": qbft_extra_data(validators),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--chain-id", type=int, default=1981)
    parser.add_argument("--fund", action="append", default=[], help="address to pre-fund")
    parser.add_argument("--out", type=Path, default=HERE / "generated")
    args = parser.parse_args()
    if args.validators < 4:
        parser.error("QBFT tolerates f faults with 3f+1 validators: use at least 4")
    args.out.mkdir(parents=True, exist_ok=True)
    addresses: list[bytes] = []
    enodes: list[str] = []
    for i in range(1, args.validators + 1):
        key = keys.PrivateKey(secrets.token_bytes(32))
        folder = args.out / f"validator-{i}"
        folder.mkdir(exist_ok=True)
        key_file = folder / "key"
        key_file.write_text(key.to_hex().removeprefix("0x"))
        os.chmod(key_file, 0o600)
        (folder / "address").write_text(key.public_key.to_checksum_address())
        addresses.append(key.public_key.to_canonical_address())
        enodes.append(f"enode://{key.public_key.to_hex().removeprefix('0x')}@172.16.239.1{i}:30303")
    funded = args.fund or [DEV_ACCOUNT_0]
    (args.out / "genesis.json").write_text(
        json.dumps(genesis(args.chain_id, sorted(addresses), funded), indent=2) + "\n"
    )
    (args.out / ".env").write_text(f"BOOTNODE={enodes[0]}\n")
    print(f"wrote {args.validators} validators, genesis.json and .env to {args.out}")


if __name__ == "__main__":
    main()
