"""The enterprise's address book of grantees: a name (and an optional note) for an address.

Grants name their grantee by address; people know a bank by its name. The book is per enterprise
(table ``address_book``, schema version 2): listing needs ``view`` (an agent sees the names of
the grants it sees), adding, renaming and removing need ``grant`` (administrators and the legal
representative). Names and notes are free text and go through the personal-ID scan like every
other name the wallet stores. Changes are events in the enterprise's history.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from credledger.node.core.errors import ConflictError, InputError, NotFoundError
from credledger.wallet.callers import Caller, checksum, clean_name
from credledger.wallet.scan import refuse_personal_ids
from credledger.wallet.store import WalletStore

MAX_NOTE = 500
MAX_ENTRIES = 1000


def clean_note(note: str | None) -> str | None:
    note = (note or "").strip()
    if not note:
        return None
    if len(note) > MAX_NOTE:
        raise InputError(f"note: at most {MAX_NOTE} characters", field="note")
    refuse_personal_ids(note, "note")
    return note


def entry_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "name": row["name"],
        "address": row["address"],
        "note": row["note"],
        "addedBy": row["created_by"],
        "addedAt": row["created_at"],
    }


class AddressBook:
    """Typed service of the address book (the HTTP routes, the CLI and the page call it)."""

    def __init__(self, store: WalletStore) -> None:
        self.store = store

    def list(self, caller: Caller) -> list[dict[str, Any]]:
        caller.require("view")
        rows = self.store.all(
            "SELECT * FROM address_book WHERE enterprise_id=? ORDER BY name COLLATE NOCASE",
            caller.enterprise_id,
        )
        return [entry_json(r) for r in rows]

    def name_of(self, caller: Caller, name: str) -> str | None:
        """The address of the entry called ``name`` (case-insensitive), or None."""
        row = self.store.one(
            "SELECT address FROM address_book WHERE enterprise_id=? AND lower(name)=lower(?)",
            caller.enterprise_id, (name or "").strip(),
        )  # fmt: skip
        return str(row["address"]) if row else None

    def _row(self, caller: Caller, address: str) -> sqlite3.Row:
        a = checksum(address, "address")
        sql = "SELECT * FROM address_book WHERE enterprise_id=? AND address=?"
        row = self.store.one(sql, caller.enterprise_id, a)
        if row is None:
            raise NotFoundError(f"no grantee {a} in this enterprise's address book")
        return row

    def get(self, caller: Caller, address: str) -> dict[str, Any]:
        caller.require("view")
        return entry_json(self._row(caller, address))

    def _name_free(self, conn: sqlite3.Connection, caller: Caller, name: str, own: int) -> None:
        taken = conn.execute(
            "SELECT id FROM address_book WHERE enterprise_id=? AND lower(name)=lower(?) AND id!=?",
            (caller.enterprise_id, name, own),
        ).fetchone()
        if taken is not None:
            raise ConflictError(f"the address book already has a grantee called {name!r}")

    def add(
        self, caller: Caller, name: str, address: str, note: str | None = None
    ) -> dict[str, Any]:
        caller.require("grant")
        name = clean_name(name, "name")
        a = checksum(address, "address")
        if a.lower() == caller.address.lower():
            raise InputError("the grantee must not be the enterprise itself", field="address")
        note = clean_note(note)
        with self.store.tx() as c:
            if c.execute(
                "SELECT 1 FROM address_book WHERE enterprise_id=? AND address=?",
                (caller.enterprise_id, a),
            ).fetchone():
                raise ConflictError(f"{a} is already in the address book")
            (count,) = c.execute(
                "SELECT count(*) FROM address_book WHERE enterprise_id=?", (caller.enterprise_id,)
            ).fetchone()
            if count >= MAX_ENTRIES:
                raise ConflictError(f"the address book holds at most {MAX_ENTRIES} grantees")
            self._name_free(c, caller, name, -1)
            c.execute(
                "INSERT INTO address_book (enterprise_id, name, address, note, created_by,"
                " created_at) VALUES (?,?,?,?,?,?)",
                (caller.enterprise_id, name, a, note, caller.label, time.time()),
            )
            self.store.event(c, caller.enterprise_id, caller.label, "grantee-added",
                             name=name, grantee=a)  # fmt: skip
        return self.get(caller, a)

    def rename(
        self, caller: Caller, address: str, name: str | None = None, note: str | None = None
    ) -> dict[str, Any]:
        """A new name and/or note (an empty note clears it; None keeps it)."""
        caller.require("grant")
        row = self._row(caller, address)
        new_name = clean_name(name, "name") if name is not None else row["name"]
        new_note = clean_note(note) if note is not None else row["note"]
        with self.store.tx() as c:
            self._name_free(c, caller, new_name, row["id"])
            c.execute(
                "UPDATE address_book SET name=?, note=? WHERE id=?", (new_name, new_note, row["id"])
            )
            self.store.event(c, caller.enterprise_id, caller.label, "grantee-renamed",
                             name=new_name, grantee=row["address"])  # fmt: skip
        return self.get(caller, row["address"])

    def remove(self, caller: Caller, address: str) -> dict[str, Any]:
        caller.require("grant")
        row = self._row(caller, address)
        with self.store.tx() as c:
            c.execute("DELETE FROM address_book WHERE id=?", (row["id"],))
            self.store.event(c, caller.enterprise_id, caller.label, "grantee-removed",
                             name=row["name"], grantee=row["address"])  # fmt: skip
        return entry_json(row)
