"""Parsing of caller input for the licence service: times, serial numbers, hashes, reasons.

Everything here raises :class:`~node.errors.InputError` (HTTP 422) with a message that names the
field and says what is expected; nothing here touches the chain.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from web3 import Web3

from credledger.node.core.contracts.licence_registry import number_of, serial_of
from credledger.node.core.errors import InputError
from credledger.node.core.identifiers import refuse_citizen_ids
from credledger.node.core.receipts import parse_hash as parse_hash  # the one hash parser
from credledger.node.core.validity import CHINA_TZ, exclusive_end

# Dates without a time are Beijing dates: valid from 00:00 of the first day, until 24:00 of the
# last day ("有效期至 2030-12-31" includes that day). The contract's validUntil is exclusive:
# node/core/validity.py converts it both ways (the last valid day is what every answer shows).
MAX_UINT40 = 2**40 - 1
MAX_SERIAL_CHARS = 64


def parse_time(value: Any, field: str, *, end_of_day: bool = False) -> int:
    """Unix seconds from an int, an ISO date (``2030-12-31``) or an ISO date-time."""
    if isinstance(value, bool):
        raise InputError(f"{field}: expected a date, a date-time or unix seconds", field=field)
    if isinstance(value, str) and len(value) > 40:
        raise InputError(f"{field}: expected a date, a date-time or unix seconds", field=field)
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        seconds = int(value.strip())
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10 and end_of_day:
                moment = dt.datetime.fromtimestamp(
                    exclusive_end(dt.date.fromisoformat(text)), CHINA_TZ
                )
            elif len(text) == 10:
                moment = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(0), CHINA_TZ)
            else:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=CHINA_TZ)
        except (ValueError, OverflowError):
            raise InputError(
                f"{field} is not a date (expected YYYY-MM-DD, an ISO date-time or unix seconds)",
                field=field,
            ) from None
        seconds = int(moment.timestamp())
    else:
        raise InputError(f"{field}: expected a date, a date-time or unix seconds", field=field)
    if not 0 <= seconds <= MAX_UINT40:
        raise InputError(f"{field}: out of range", field=field)
    return seconds


@functools.lru_cache(maxsize=8192)  # pure; every licence in every answer formats two dates
def iso(seconds: int | None) -> str | None:
    if not seconds:
        return None
    try:
        return dt.datetime.fromtimestamp(seconds, CHINA_TZ).isoformat()
    except (OverflowError, ValueError, OSError):  # past the year 9999 (uint40 seconds)
        return None


def encode_serial(serial: str) -> bytes:
    """The on-chain ``serial``: the ASCII licence number left-aligned in 32 bytes, or its keccak.

    A serial that contains a citizen ID number is refused: it would put personal data on chain.
    """
    if not isinstance(serial, str):
        raise InputError("serialNumber must be a string", field="serialNumber")
    text = unicodedata.normalize("NFKC", serial).strip()
    if not text:
        raise InputError("serialNumber is empty", field="serialNumber")
    if len(text) > MAX_SERIAL_CHARS:
        raise InputError(
            f"serialNumber has {len(text)} characters; at most {MAX_SERIAL_CHARS}",
            field="serialNumber",
        )
    refuse_citizen_ids(text, "serialNumber")
    return serial_of(text)


def decode_serial(serial: bytes) -> str | None:
    """The licence number if ``serial`` is a left-aligned ASCII number, else None (a hash)."""
    return number_of(serial)


def parse_licence_id(value: str) -> bytes:
    return parse_hash(value, "licence id")


def parse_address(value: Any, field: str) -> str:
    if not isinstance(value, str) or not Web3.is_address(value.strip()):
        raise InputError(f"{field}: expected a 20-byte 0x address", field=field)
    address = Web3.to_checksum_address(value.strip())
    if int(address, 16) == 0:
        raise InputError(f"{field}: the zero address is not a holder", field=field)
    return str(address)


@dataclass(frozen=True)
class Reason:
    code: int
    zh: str
    en: str


@cache
def reasons() -> dict[int, Reason]:
    text = resources.files("credledger.node").joinpath("data/reason_codes.json").read_text("utf-8")
    data = json.loads(text)
    return {int(r["code"]): Reason(int(r["code"]), r["zh"], r["en"]) for r in data["codes"]}


def parse_reason(value: Any) -> Reason:
    table = reasons()
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value not in table:
        raise InputError(
            f"reasonCode must be one of {', '.join(str(c) for c in table)} (GET /v1/reason-codes)",
            field="reasonCode",
        )
    return table[value]


def reason_text(code: int) -> str:
    r = reasons().get(code)
    return f"{r.en} / {r.zh}" if r else f"reason code {code}"  # the code is its own field


def clean_note(note: Any) -> str | None:
    """A free-text note (kept off chain, in the acting node's database)."""
    if note is None:
        return None
    if not isinstance(note, str):
        raise InputError("note must be a string", field="note")
    text = note.strip()
    if len(text) > 1000:
        raise InputError("note is longer than 1000 characters", field="note")
    refuse_citizen_ids(text, "note")
    return text or None
