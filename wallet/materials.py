"""The materials bank: file once, encrypted at rest, anchored through the node, confirmed → trusted.

Durability: a filing is acknowledged only after the encrypted file is fsynced and renamed into
place (directory fsynced too) and its row is committed (SQLite ``synchronous=FULL``). A crash
before the commit leaves at most a file without a row, which :meth:`MaterialService.recover`
deletes at the next start together with any half-written temporary file; so nothing acknowledged
is lost and nothing unacknowledged stays.

A material's asset id commits to its holder: ``keccak256(abi.encode(holder, sha256(file)))``
(Contracts II). That id is the hash the wallet anchors, so the receipt proves holder, document
and time together. States: ``pending`` (filed, not yet anchored) → ``anchored`` (receipt stored)
→ ``trusted`` (an administrator confirmed it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from credledger.node.core.contracts.eip712 import material_asset_id  # the one definition
from credledger.node.core.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PayloadTooLargeError,
)
from credledger.node.core.receipts import check_receipt_offline, hex32, parse_hash
from credledger.wallet import crypto, folders
from credledger.wallet.accounts import Caller
from credledger.wallet.errors import GoneError
from credledger.wallet.node_client import NodeClient
from credledger.wallet.scan import refuse_personal_ids
from credledger.wallet.settings import MaterialSettings
from credledger.wallet.store import WalletStore

log = logging.getLogger(__name__)

ASSET_ID_ENCODING = "keccak256(abi.encode(address holder, bytes32 sha256(file)))"


@dataclass(frozen=True)
class Filer:
    """Who files: a person of the enterprise, or a counter clerk the wallet trusts."""

    kind: str  # "person" | "clerk"
    label: str


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MaterialService:
    def __init__(
        self,
        store: WalletStore,
        settings: MaterialSettings,
        master: crypto.MasterKey,
        files_dir: Path,
        node: NodeClient,
    ) -> None:
        self.store = store
        self.settings = settings
        self.master = master
        self.files_dir = files_dir
        self.tmp_dir = files_dir / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.node = node
        self._keys: dict[int, bytes] = {}
        self._locks = [threading.Lock() for _ in range(64)]
        self.filed = threading.Event()  # a new material waits for anchoring (wakes the worker)
        self.in_flight = True  # materials submitted and not yet anchored (set by anchor_step)

    # --- storage helpers ------------------------------------------------------------------------

    def data_key(self, enterprise_id: int) -> bytes:
        key = self._keys.get(enterprise_id)
        if key is None:
            row = self.store.one("SELECT data_key FROM enterprises WHERE id=?", enterprise_id)
            if row is None:
                raise NotFoundError("no such enterprise")
            key = self.master.unwrap_data_key(bytes(row["data_key"]), enterprise_id)
            self._keys[enterprise_id] = key
        return key

    def path_of(self, enterprise_id: int, material_id: str) -> Path:
        return self.files_dir / str(enterprise_id) / f"{material_id[2:]}.bin"

    def _write_file(self, enterprise_id: int, material_id: str, data: bytes) -> Path:
        blob = crypto.encrypt_file(
            self.data_key(enterprise_id), data, crypto.file_aad(enterprise_id, material_id)
        )
        tmp = self.tmp_dir / f"{uuid.uuid4().hex}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(blob)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        target = self.path_of(enterprise_id, material_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        return target

    def recover(self) -> dict[str, int]:
        """At start: delete temporary files and files no committed row refers to."""
        removed_tmp = 0
        for p in self.tmp_dir.glob("*.part"):
            p.unlink(missing_ok=True)
            removed_tmp += 1
        known = {
            (r["enterprise_id"], r["id"][2:])
            for r in self.store.all(
                "SELECT enterprise_id, id FROM materials WHERE file_deleted_at IS NULL"
            )
        }
        orphans = 0
        for d in self.files_dir.iterdir():
            if not d.is_dir() or not d.name.isdigit():
                continue
            for f in d.glob("*.bin"):
                if (int(d.name), f.stem) not in known:
                    f.unlink(missing_ok=True)
                    orphans += 1
        if removed_tmp or orphans:
            log.warning("recovery removed %d temporary and %d orphan files", removed_tmp, orphans)
        return {"temporary": removed_tmp, "orphans": orphans}

    # --- filing ---------------------------------------------------------------------------------

    def check_size(self, size: int) -> None:
        if size > self.settings.max_bytes:
            raise PayloadTooLargeError(
                f"the file is over the {self.settings.max_bytes}-byte limit",
                limit=self.settings.max_bytes,
            )

    def file(
        self,
        enterprise: sqlite3.Row,
        filer: Filer,
        file_name: str,
        data: bytes,
        folder: str | None = None,
        content_type: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Store one material; (its JSON, True if new). The same bytes again: the same material."""
        self.check_size(len(data))
        if not data:
            raise InputError("the file is empty", field="file")
        name = _clean_file_name(file_name, self.settings.max_name_chars)
        if folder is not None and folder.strip():
            folder_code = folders.resolve(folder)
            if len(folder_code) > 64:
                raise InputError("folder: 64 characters at most", field="folder")
            refuse_personal_ids(folder_code, "folder")
        else:
            folder_code = folders.suggest(name).code
        refuse_personal_ids(content_type, "content type")
        ctype = (content_type or "application/octet-stream")[:100]
        eid = int(enterprise["id"])
        doc_hash = hashlib.sha256(data).digest()
        mid = hex32(material_asset_id(enterprise["address"], doc_hash))
        with self._locks[doc_hash[0] % len(self._locks)]:
            row = self._row(eid, mid)
            if row is not None:
                if row["file_deleted_at"] is not None:
                    self._write_file(eid, mid, data)
                    with self.store.tx() as c:
                        c.execute("UPDATE materials SET file_deleted_at=NULL WHERE id=?", (mid,))
                        self.store.event(c, eid, filer.label, "material-file-restored", id=mid)
                    row = self._row(eid, mid)
                assert row is not None
                return self._json(row), False
            self._write_file(eid, mid, data)
            with self.store.tx() as c:
                c.execute(
                    "INSERT INTO materials (id, enterprise_id, doc_hash, name, folder, size,"
                    " content_type, state, filed_by, filed_by_kind, filed_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (mid, eid, doc_hash, name, folder_code, len(data), ctype, "pending",
                     filer.label, filer.kind, time.time()),
                )  # fmt: skip
                self.store.event(c, eid, filer.label, "material-filed", id=mid, name=name,
                                 folder=folder_code, by=filer.kind)  # fmt: skip
            self.filed.set()
            row = self._row(eid, mid)
        assert row is not None
        return self._json(row), True

    # --- reads and changes ----------------------------------------------------------------------

    def _row(self, eid: int, mid: str) -> sqlite3.Row | None:
        return self.store.one("SELECT * FROM materials WHERE id=? AND enterprise_id=?", mid, eid)

    def by_asset(self, asset_id: str) -> sqlite3.Row | None:
        return self.store.one("SELECT * FROM materials WHERE id=?", asset_id.lower())

    def _visible(self, caller: Caller, material_id: str) -> sqlite3.Row:
        mid = _material_id(material_id)
        row = self._row(caller.enterprise_id, mid)
        if row is None or not caller.sees(mid):
            raise NotFoundError(f"no material {mid} in this enterprise's bank")
        return row

    def list(self, caller: Caller, folder: str | None = None) -> list[dict[str, Any]]:
        caller.require("view")
        rows = self.store.all(
            "SELECT * FROM materials WHERE enterprise_id=? ORDER BY filed_at", caller.enterprise_id
        )
        code = folders.resolve(folder) if folder else None
        return [
            self._json(r)
            for r in rows
            if caller.sees(r["id"]) and (code is None or r["folder"] == code)
        ]

    def get(self, caller: Caller, material_id: str) -> dict[str, Any]:
        row = self._visible(caller, material_id)
        caller.require("view", row["id"])
        return self._json(row)

    def receipt(self, caller: Caller, material_id: str) -> dict[str, Any]:
        row = self._visible(caller, material_id)
        caller.require("view", row["id"])
        if row["receipt"] is None:
            raise NotFoundError(f"material {row['id']} is not anchored yet (state {row['state']})")
        receipt: dict[str, Any] = json.loads(row["receipt"])
        receipt["material"] = {
            "holder": self.store.one(
                "SELECT address FROM enterprises WHERE id=?", row["enterprise_id"]
            )["address"],  # type: ignore[index]
            "documentSha256": hex32(bytes(row["doc_hash"])),
            "assetId": row["id"],
            "assetIdEncoding": ASSET_ID_ENCODING,
            "verify": f"credledger verify {row['id']} --receipt <this file> --rpc <RPC URL>",
        }
        return receipt

    def confirm(self, caller: Caller, material_id: str) -> dict[str, Any]:
        row = self._visible(caller, material_id)
        caller.require("confirm", row["id"])
        if row["state"] == "pending":
            raise ConflictError(
                f"material {row['id']} is not anchored yet; confirm it once it is (state pending)"
            )
        if row["state"] != "trusted":
            with self.store.tx() as c:
                c.execute(
                    "UPDATE materials SET state='trusted', confirmed_by=?, confirmed_at=?"
                    " WHERE id=? AND state='anchored'",
                    (caller.label, time.time(), row["id"]),
                )
                self.store.event(c, caller.enterprise_id, caller.label, "material-confirmed",
                                 id=row["id"])  # fmt: skip
        return self.get(caller, row["id"])

    def read_file(self, caller: Caller, material_id: str) -> tuple[sqlite3.Row, bytes]:
        row = self._visible(caller, material_id)
        caller.require("view", row["id"])
        return row, self.content(row)

    def content(self, row: sqlite3.Row) -> bytes:
        if row["file_deleted_at"] is not None:
            raise GoneError(f"the file of material {row['id']} was deleted; its anchor stays")
        eid = int(row["enterprise_id"])
        blob = self.path_of(eid, row["id"]).read_bytes()
        return crypto.decrypt_file(self.data_key(eid), blob, crypto.file_aad(eid, row["id"]))

    def delete_file(self, caller: Caller, material_id: str) -> dict[str, Any]:
        row = self._visible(caller, material_id)
        caller.require("delete", row["id"])
        if row["file_deleted_at"] is None:
            with self.store.tx() as c:
                c.execute(
                    "UPDATE materials SET file_deleted_at=? WHERE id=?", (time.time(), row["id"])
                )
                self.store.event(c, caller.enterprise_id, caller.label, "material-file-deleted",
                                 id=row["id"])  # fmt: skip
            self.path_of(caller.enterprise_id, row["id"]).unlink(missing_ok=True)
        return self.get(caller, row["id"])

    def _json(self, row: sqlite3.Row) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": row["id"],
            "assetId": row["id"],
            "kind": "material",
            "name": row["name"],
            "folder": folders.folder_json(row["folder"]),
            "size": row["size"],
            "contentType": row["content_type"],
            "documentSha256": hex32(bytes(row["doc_hash"])),
            "state": row["state"],
            "label": "trusted" if row["state"] == "trusted" else None,
            "filedBy": {"kind": row["filed_by_kind"], "name": row["filed_by"]},
            "filedAt": row["filed_at"],
            "fileDeleted": row["file_deleted_at"] is not None,
        }
        if row["filed_by_kind"] == "clerk" and row["state"] != "trusted":
            body["notice"] = f"filed by {row['filed_by']}, awaiting your confirmation"
        if row["anchored_at"] is not None:
            body["anchoredAt"] = row["anchored_at"]
            receipt = json.loads(row["receipt"])
            body["anchor"] = {
                "transactionHash": receipt["transactionHash"],
                "blockNumber": receipt["blockNumber"],
                "root": receipt["root"],
            }
        if row["confirmed_at"] is not None:
            body["confirmedBy"] = row["confirmed_by"]
            body["confirmedAt"] = row["confirmed_at"]
        return body

    # --- anchoring (called by the worker) -------------------------------------------------------

    def anchor_step(self) -> int:
        """Submit unsent asset ids to the node; store receipts of confirmed ones (work done)."""
        done = 0
        unsent = self.store.all(
            "SELECT id FROM materials WHERE state='pending' AND anchor_submitted=0"
            " ORDER BY filed_at LIMIT 5000"
        )
        if unsent:
            self.node.submit_anchors([parse_hash(r["id"]) for r in unsent])
            with self.store.tx() as c:
                c.executemany(
                    "UPDATE materials SET anchor_submitted=1 WHERE id=?",
                    [(r["id"],) for r in unsent],
                )
            done += len(unsent)
        waiting = self.store.all(
            "SELECT id FROM materials WHERE state='pending' AND anchor_submitted=1"
            " ORDER BY filed_at LIMIT 500"
        )
        self.in_flight = bool(waiting)
        for r in waiting:
            h = parse_hash(r["id"])
            status = self.node.anchor(h)
            if status is None:  # the node lost it (a new node?): submit again
                with self.store.tx() as c:
                    c.execute("UPDATE materials SET anchor_submitted=0 WHERE id=?", (r["id"],))
                continue
            receipt = status.get("receipt")
            if status.get("status") != "confirmed" or not isinstance(receipt, dict):
                # the node anchors in arrival order: later filings are not confirmed either
                break
            if not all(ch.ok for ch in check_receipt_offline(receipt, h)):
                log.error("the node's receipt for %s does not check; ignored", r["id"])
                continue
            with self.store.tx() as c:
                c.execute(
                    "UPDATE materials SET state='anchored', receipt=?, anchored_at=?"
                    " WHERE id=? AND state='pending'",
                    (json.dumps(receipt), int(receipt["blockTime"]), r["id"]),
                )
                ent = c.execute("SELECT enterprise_id FROM materials WHERE id=?", (r["id"],))
                tx_hash = receipt["transactionHash"]
                self.store.event(c, int(ent.fetchone()[0]), "wallet", "material-anchored",
                                 id=r["id"], transactionHash=tx_hash)  # fmt: skip
            done += 1
        return done


IDLE_WAIT = 60.0  # seconds the anchor worker sleeps with nothing to anchor, unless woken


class AnchorWorker:
    """Background thread: keeps materials moving from pending to anchored."""

    def __init__(self, service: MaterialService, interval: float) -> None:
        self.service = service
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wallet-anchor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.service.filed.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.service.filed.clear()  # before the step: a filing during it wakes the next wait
            try:
                work = self.service.anchor_step()
                self.last_error = None
            except Exception as exc:  # keep going: the node may be restarting
                work = 0
                if str(exc) != self.last_error:
                    log.warning("anchoring materials: %s", exc)
                self.last_error = str(exc)
            if work:
                self._stop.wait(self.interval / 4)
            elif self.service.in_flight or self.last_error:
                self._stop.wait(self.interval)
            else:  # nothing to anchor: sleep until a material is filed (or a minute passed)
                self.service.filed.wait(IDLE_WAIT)


def _material_id(value: str) -> str:
    return hex32(parse_hash(value)).lower()


def _clean_file_name(raw: str | None, max_chars: int) -> str:
    name = (raw or "").strip()
    # keep only the last path component, whatever the client's OS
    name = PureWindowsPath(PurePosixPath(name).name).name.strip()
    name = "".join(ch for ch in name if ch.isprintable())
    if not name:
        raise InputError("the file needs a name", field="file")
    if len(name) > max_chars:
        raise PayloadTooLargeError(
            f"the file name is over {max_chars} characters", limit=max_chars, field="file"
        )
    refuse_personal_ids(name, "file name")
    return name
