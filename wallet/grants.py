"""Grants: the holder's consent, signed with EIP-712 and relayed to ConsentRegistry.

:class:`GrantService` holds the rules: which assets a caller may grant, the purpose catalogue, the
local record, live state. What it asks of the chain goes through :class:`ConsentChain`
(:mod:`credledger.wallet.consent`), the wallet's one user of the ConsentRegistry binding.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from credledger.node.core.contracts.consent_registry import grant_key
from credledger.node.core.errors import (
    ConflictError,
    ContractRevert,
    ForbiddenError,
    InputError,
    NotFoundError,
)
from credledger.node.core.receipts import hex32, parse_hash
from credledger.wallet import purposes
from credledger.wallet.accounts import AccountService, Caller, checksum
from credledger.wallet.consent import ConsentChain, Slot
from credledger.wallet.idempotency import GrantRequests
from credledger.wallet.materials import MaterialService
from credledger.wallet.node_client import NodeClient
from credledger.wallet.store import WalletStore

if TYPE_CHECKING:
    from credledger.wallet.reconcile import Reconciler

__all__ = ["ConsentChain", "GrantInput", "GrantService", "grant_key", "parse_expiry"]

SIGNATURE_TTL = 600  # seconds a prepared typed-data payload stays signable


def parse_expiry(value: int | str, field_name: str = "expiresAt") -> int:
    """Unix seconds, or an ISO 8601 date/time (a date alone: its end, China time)."""
    if isinstance(value, bool):
        raise InputError(f"{field_name}: unix seconds or ISO 8601", field=field_name)
    if isinstance(value, int):
        return value
    s = str(value).strip()
    if s.isdigit():
        return int(s)
    try:
        if len(s) == 10:
            d = dt.date.fromisoformat(s)
            china = dt.timezone(dt.timedelta(hours=8))
            return int(dt.datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=china).timestamp())
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
        return int(t.timestamp())
    except ValueError:
        raise InputError(
            f"{field_name} is not a date (expected unix seconds or ISO 8601, YYYY-MM-DD)",
            field=field_name,
        ) from None


@dataclass(frozen=True)
class GrantInput:
    asset_id: str
    grantee: str
    purpose: str
    expires_at: int | str
    max_uses: int = 0
    deadline: int | None = None
    signature: str | None = None


class GrantService:
    def __init__(
        self,
        store: WalletStore,
        consent: ConsentChain,
        accounts: AccountService,
        materials: MaterialService,
        node: NodeClient,
    ) -> None:
        self.store = store
        self.consent = consent
        self.accounts = accounts
        self.materials = materials
        self.node = node
        self.reconciler: Reconciler | None = None  # set by the runtime
        self.requests = GrantRequests(store, self.relay)

    def purposes(self) -> list[dict[str, str]]:
        return [p.to_json() for p in purposes.CATALOGUE]

    # --- checks ---------------------------------------------------------------------------------

    def asset_kind(self, caller: Caller, asset_id: str) -> tuple[bytes, str, bytes | None]:
        """(asset id, "material" | "licence", the material's SHA-256) if the enterprise holds it."""
        aid = parse_hash(asset_id)
        mid = hex32(aid)
        row = self.materials.by_asset(mid)
        if row is not None:
            if row["enterprise_id"] != caller.enterprise_id:
                raise NotFoundError(f"no asset {mid} in this enterprise's wallet")
            return aid, "material", bytes(row["doc_hash"])
        licence = self.node.licence(mid)
        if licence is None:
            raise NotFoundError(f"no asset {mid}: not a material here, not a licence on chain")
        bound = licence.get("holderAddress")
        if not bound or str(bound).lower() != caller.address.lower():
            raise ForbiddenError(
                f"licence {mid} is not bound to this enterprise's address {caller.address}; "
                "ask its issuing department to bind it first"
            )
        return aid, "licence", None

    def _request(self, caller: Caller, item: GrantInput) -> tuple[Slot, str]:
        caller.require("grant", hex32(parse_hash(item.asset_id)))
        aid, kind, doc_hash = self.asset_kind(caller, item.asset_id)
        grantee = checksum(item.grantee, "grantee")
        if grantee.lower() == caller.address.lower():
            raise InputError("the grantee must not be the enterprise itself", field="grantee")
        p = purposes.purpose(item.purpose)
        expires = parse_expiry(item.expires_at)
        if expires <= self.consent.now():
            raise InputError("expiresAt must be in the future", field="expiresAt")
        if expires >= 2**64:
            raise InputError("expiresAt is too far in the future", field="expiresAt")
        if not 0 <= item.max_uses < 2**32:
            raise InputError("maxUses: 0 (no limit) to 4294967295", field="maxUses")
        slot = Slot(caller.address, kind, aid, grantee, p.hash, expires, item.max_uses, doc_hash)
        return slot, p.code

    # --- grant ----------------------------------------------------------------------------------

    def typed_data(self, caller: Caller, item: GrantInput) -> dict[str, Any]:
        """The EIP-712 payload an external signer signs (``eth_signTypedData_v4``)."""
        slot, _ = self._request(caller, item)
        deadline = item.deadline or self.consent.now() + SIGNATURE_TTL
        return {"typedData": self.consent.grant_payload(slot, deadline), "deadline": deadline}

    def grant(
        self, caller: Caller, item: GrantInput, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Grant; with ``idempotency_key`` a retry answers the first request's grant."""
        if idempotency_key is not None:
            return self.requests.once(caller, item, idempotency_key)
        return self.relay(caller, item)

    def relay(
        self,
        caller: Caller,
        item: GrantInput,
        on_signed: Callable[[int, int, bytes], None] | None = None,
        signed: tuple[int, int, bytes] | None = None,
    ) -> dict[str, Any]:
        """Grant unless the slot already holds an active grant with these very terms (a retry:
        that grant is the answer). ``on_signed(nonce, deadline, signature)`` runs before the
        relay; ``signed`` is a request signed before (relayed again while its nonce is current:
        the chain takes a signed request once)."""
        req, code = self._request(caller, item)
        gid = hex32(grant_key(req.holder, req.asset_id, req.grantee, req.purpose))
        busy = self.reconciler.relaying(gid) if self.reconciler else contextlib.nullcontext()
        with busy:
            return self._relay(caller, item, req, code, on_signed, signed)

    def _relay(
        self,
        caller: Caller,
        item: GrantInput,
        req: Slot,
        code: str,
        on_signed: Callable[[int, int, bytes], None] | None,
        signed: tuple[int, int, bytes] | None,
    ) -> dict[str, Any]:
        with self.consent.lock(req):
            same = self._identical(caller, req)
            if same is not None:
                return same
            try:
                if signed is not None and self.consent.slot_nonce(req) > signed[0]:
                    # the request signed before the crash was spent on chain (then revoked,
                    # used up or expired since): answer that grant, never make a second one
                    return self._spent(caller, req)
                if item.signature:
                    if item.deadline is None:
                        raise InputError("a signed grant needs the deadline it was signed with")
                    sig = _signature(item.signature)
                    if on_signed is not None:
                        on_signed(self.consent.slot_nonce(req), item.deadline, sig)
                    receipt = self.consent.relay_grant(req, item.deadline, sig)
                elif signed is not None and signed[1] > self.consent.now() + 5:
                    receipt = self.consent.relay_grant(req, signed[1], signed[2])
                else:
                    signer = self.accounts.signer(caller) if caller.role != "agent" else None
                    if signer is None or signer.address.lower() != caller.address.lower():
                        raise ConflictError(
                            "this enterprise signs its own requests: POST /v1/grants/typed-data,"
                            " sign it with eth_signTypedData_v4, then send deadline and signature"
                        )
                    deadline = self.consent.now() + SIGNATURE_TTL
                    receipt = self.consent.grant_and_sign(signer, req, deadline, on_signed)
            except ContractRevert as exc:
                raise _as_refusal(exc) from None
            # recorded before the slot's lock is released: the next request sees the row
            gid = hex32(grant_key(req.holder, req.asset_id, req.grantee, req.purpose))
            tx = hex32(bytes(receipt["transactionHash"]))
            block = int(receipt["blockNumber"])
            now = time.time()
            with self.store.tx() as c:
                c.execute(
                    "INSERT INTO grants (id, enterprise_id, asset_id, asset_kind, grantee, purpose,"
                    " expires_at, max_uses, tx_hash, created_by, created_at, source, block_number)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,'wallet',?) ON CONFLICT(id) DO UPDATE SET"
                    " expires_at=excluded.expires_at, max_uses=excluded.max_uses,"
                    " tx_hash=excluded.tx_hash, created_by=excluded.created_by,"
                    " created_at=excluded.created_at, source='wallet',"
                    " block_number=excluded.block_number, revoked_tx=NULL, revoked_at=NULL,"
                    " revoked_by=NULL",
                    (gid, caller.enterprise_id, hex32(req.asset_id), req.kind, req.grantee, code,
                     req.expires_at, req.max_uses, tx, caller.label, now, block),
                )  # fmt: skip
                self.store.event(c, caller.enterprise_id, caller.label, "granted", grantId=gid,
                                 assetId=hex32(req.asset_id), grantee=req.grantee, purpose=code,
                                 expiresAt=req.expires_at, maxUses=req.max_uses,
                                 transactionHash=tx)  # fmt: skip
        p = purposes.purpose(code)
        # just granted in this block: the state is known without asking the chain again
        out: dict[str, Any] = {
            "grantId": gid, "assetId": hex32(req.asset_id), "assetKind": req.kind,
            "holder": caller.address, "grantee": req.grantee, "purpose": p.to_json(),
            "expiresAt": req.expires_at, "maxUses": req.max_uses, "uses": 0, "state": "active",
            "grantedBy": caller.label, "grantedAt": now,
        }  # fmt: skip
        out["transactionHash"] = tx
        out["blockNumber"] = block
        return out

    def _spent(self, caller: Caller, req: Slot) -> dict[str, Any]:
        gid = hex32(grant_key(req.holder, req.asset_id, req.grantee, req.purpose))
        if self.reconciler is not None:
            self.reconciler.sync(force=True, adopt=gid)
        row = self.store.one("SELECT * FROM grants WHERE id=?", gid)
        if row is None or row["enterprise_id"] != caller.enterprise_id:
            raise ConflictError(
                f"this request was already signed and used on chain for grant {gid}; "
                "send a new request with a new Idempotency-Key"
            )
        out = self._json(caller, row, self.consent.now())
        out["existing"] = True
        return out

    def _identical(self, caller: Caller, req: Slot) -> dict[str, Any] | None:
        """The slot's grant if it is active with ``req``'s terms (expiry and maximum uses)."""
        live = self.consent.state(req.holder, req.asset_id, req.grantee, req.purpose)
        now = self.consent.now()
        if live.state(now) != "active" or (live.expires_at, live.max_uses) != (
            req.expires_at,
            req.max_uses,
        ):
            return None
        gid = hex32(grant_key(req.holder, req.asset_id, req.grantee, req.purpose))
        row = self.store.one("SELECT * FROM grants WHERE id=?", gid)
        if row is None and self.reconciler is not None:
            self.reconciler.sync(force=True, adopt=gid)  # on chain, not recorded: adopt it
            row = self.store.one("SELECT * FROM grants WHERE id=?", gid)
        if row is None or row["enterprise_id"] != caller.enterprise_id:
            return None
        out = self._json(caller, row, now)
        out["existing"] = True
        if row["block_number"] is not None:
            out["blockNumber"] = int(row["block_number"])
        return out

    # --- reads ----------------------------------------------------------------------------------

    def _row(self, caller: Caller, grant_id: str) -> sqlite3.Row:
        gid = hex32(parse_hash(grant_id))
        row = self.store.one(
            "SELECT * FROM grants WHERE id=? AND enterprise_id=?", gid, caller.enterprise_id
        )
        if row is None or not caller.sees(row["asset_id"]):
            raise NotFoundError(f"no grant {gid} in this enterprise's wallet")
        return row

    def _json(self, caller: Caller, row: sqlite3.Row, now: int) -> dict[str, Any]:
        p = purposes.BY_CODE.get(row["purpose"])
        live = self.consent.state(
            caller.address, parse_hash(row["asset_id"]), row["grantee"],
            p.hash if p else parse_hash(row["purpose"]),
        )  # fmt: skip
        body: dict[str, Any] = {
            "grantId": row["id"],
            "assetId": row["asset_id"],
            "assetKind": row["asset_kind"],
            "holder": caller.address,
            "grantee": row["grantee"],
            "purpose": p.to_json() if p else {"code": row["purpose"]},
            "expiresAt": live.expires_at or row["expires_at"],
            "maxUses": live.max_uses if live.expires_at else row["max_uses"],
            "uses": live.uses,
            "state": live.state(now),
            "transactionHash": row["tx_hash"],
            "grantedBy": row["created_by"],
            "grantedAt": row["created_at"],
        }
        if row["source"] == "chain":  # adopted by the reconciler: the wallet had no row
            body["recoveredFromChain"] = True
        if row["revoked_tx"]:
            body["revokedTransaction"] = row["revoked_tx"]
            body["revokedBy"] = row["revoked_by"]
        return body

    def get(self, caller: Caller, grant_id: str) -> dict[str, Any]:
        caller.require("view")
        return self._json(caller, self._row(caller, grant_id), self.consent.now())

    def list(self, caller: Caller) -> list[dict[str, Any]]:
        caller.require("view")
        now = self.consent.now()
        rows = self.store.all(
            "SELECT * FROM grants WHERE enterprise_id=? ORDER BY created_at", caller.enterprise_id
        )
        return [self._json(caller, r, now) for r in rows if caller.sees(r["asset_id"])]

    # --- revoke ---------------------------------------------------------------------------------

    def _revoke_args(self, caller: Caller, grant_id: str) -> tuple[sqlite3.Row, Slot]:
        row = self._row(caller, grant_id)
        caller.require("revoke", row["asset_id"])
        slot = Slot(caller.address, row["asset_kind"], parse_hash(row["asset_id"]),
                    row["grantee"], purposes.purpose(row["purpose"]).hash)  # fmt: skip
        return row, slot

    def revoke_typed_data(self, caller: Caller, grant_id: str) -> dict[str, Any]:
        _, slot = self._revoke_args(caller, grant_id)
        deadline = self.consent.now() + SIGNATURE_TTL
        return {"typedData": self.consent.revoke_payload(slot, deadline), "deadline": deadline}

    def revoke(
        self,
        caller: Caller,
        grant_id: str,
        deadline: int | None = None,
        signature: str | None = None,
    ) -> dict[str, Any]:
        row, slot = self._revoke_args(caller, grant_id)
        busy = self.reconciler.relaying(row["id"]) if self.reconciler else contextlib.nullcontext()
        with busy:
            return self._revoke(caller, row, slot, deadline, signature)

    def _revoke(
        self,
        caller: Caller,
        row: sqlite3.Row,
        slot: Slot,
        deadline: int | None,
        signature: str | None,
    ) -> dict[str, Any]:
        live = self.consent.state(slot.holder, slot.asset_id, slot.grantee, slot.purpose)
        if live.expires_at == 0:
            raise ConflictError(f"grant {row['id']} is already revoked")
        try:
            if signature:
                if deadline is None:
                    raise InputError("a signed revocation needs the deadline it was signed with")
                with self.consent.lock(slot):
                    receipt = self.consent.relay_revoke(slot, deadline, _signature(signature))
            else:
                signer = self.accounts.signer(caller) if caller.role != "agent" else None
                if signer is None or signer.address.lower() != caller.address.lower():
                    raise ConflictError(
                        "this enterprise signs its own requests: POST "
                        "/v1/grants/{id}/revoke/typed-data, sign it, send deadline and signature"
                    )
                receipt = self.consent.revoke_and_sign(
                    signer, slot, self.consent.now() + SIGNATURE_TTL
                )
        except ContractRevert as exc:
            raise _as_refusal(exc) from None
        tx = hex32(bytes(receipt["transactionHash"]))
        with self.store.tx() as c:
            c.execute(
                "UPDATE grants SET revoked_tx=?, revoked_at=?, revoked_by=? WHERE id=?",
                (tx, time.time(), caller.label, row["id"]),
            )
            self.store.event(c, caller.enterprise_id, caller.label, "revoked", grantId=row["id"],
                             transactionHash=tx)  # fmt: skip
        out = self.get(caller, row["id"])
        out["revokeTransactionHash"] = tx
        return out


def _signature(value: str) -> bytes:
    s = value.strip().removeprefix("0x")
    try:
        sig = bytes.fromhex(s)
    except ValueError:
        raise InputError("signature: 0x + hex", field="signature") from None
    if len(sig) != 65:
        raise InputError("signature: 65 bytes (r || s || v)", field="signature")
    return sig


def _as_refusal(exc: ContractRevert) -> ContractRevert:
    """Contract reverts keep their class (403/404/409/400) and message."""
    return exc
