"""Presentations: the QR code an enterprise shows at a counter, and the device keys that sign them.

A presentation is the core library's token (:mod:`credledger.node.core.presentation`, format frozen
in docs/presentation.md): the presenter's signature over asset ids, an optional audience, a nonce
and a short validity. The wallet makes one with the key the caller signs with — the enterprise's
custodial holder key (legal representative, administrators) or an agent's own key (then the node
also needs the agent's on-chain COUNTER-PRESENTATION grant for each asset). The node verifies it
from the token and the chain alone; the wallet keeps the statement hash of every token it made, so
the holder's history can show each check at a counter (the node's record, with its receipt).

A phone's P-256 key signs presentations without the wallet:
:meth:`PresentationService.register_device` delegates the chosen assets to the device's address with
COUNTER-PRESENTATION grants (relayed like any grant); revoking those grants retires a lost phone.
"""

from __future__ import annotations

import builtins
import io
import json
import time
from typing import Any

import segno
from ecdsa import NIST256p, VerifyingKey
from ecdsa.keys import MalformedPointError

from credledger.node.core import presentation as pr
from credledger.node.core.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from credledger.node.core.receipts import hex32, parse_hash
from credledger.wallet.accounts import AccountService, Caller
from credledger.wallet.grants import GrantInput, GrantService
from credledger.wallet.node_client import NodeClient
from credledger.wallet.scan import refuse_personal_ids
from credledger.wallet.store import WalletStore

PURPOSE = "COUNTER-PRESENTATION"


def qr_svg(token: str) -> str:
    """The token as an SVG QR code: alphanumeric mode, error correction M (version ≤ 10 for up
    to three assets with an audience)."""
    qr = segno.make(token, error="m", boost_error=False)
    buf = io.BytesIO()
    qr.save(buf, kind="svg", scale=4, border=4, xmldecl=False, svgns=True)
    return buf.getvalue().decode("utf-8")


def parse_device_key(public_key: str) -> VerifyingKey:
    """A P-256 public key as PEM, or hex of the 64-byte raw, 65-byte uncompressed (04…) or
    33-byte compressed point."""
    text = public_key.strip()
    try:
        if text.startswith("-----BEGIN"):
            vk = VerifyingKey.from_pem(text)
        else:
            raw = bytes.fromhex(text.removeprefix("0x"))
            if len(raw) not in (33, 64, 65):
                raise ValueError("length")
            vk = VerifyingKey.from_string(raw, curve=NIST256p)
    except (ValueError, MalformedPointError, TypeError):
        raise InputError(
            "publicKey: expected a P-256 public key (PEM, or hex of a 65-byte 04… point)",
            field="publicKey",
        ) from None
    if vk.curve != NIST256p:
        raise InputError("publicKey: the key is not on P-256 (NIST256p)", field="publicKey")
    return vk


class PresentationService:
    def __init__(
        self,
        store: WalletStore,
        accounts: AccountService,
        grants: GrantService,
        node: NodeClient,
        chain_id: int,
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.grants = grants
        self.node = node
        self.chain_id = chain_id

    # --- tokens ----------------------------------------------------------------------------------

    def create(
        self,
        caller: Caller,
        asset_ids: list[str],
        audience: str | None = None,
        ttl: int | None = None,
    ) -> dict[str, Any]:
        """A signed token for the caller's assets, its QR code, and its statement hash."""
        if not asset_ids:
            raise InputError("assetIds: name at least one asset", field="assetIds")
        if len(asset_ids) > pr.MAX_ASSETS:
            raise InputError(
                f"assetIds: at most {pr.MAX_ASSETS} assets in one presentation", field="assetIds"
            )
        ids = [parse_hash(a, "assetIds") for a in asset_ids]
        if len(set(ids)) != len(ids):
            raise InputError("assetIds: an asset is named twice", field="assetIds")
        for a in ids:
            caller.require("present", hex32(a))
            self._check_holds(caller, hex32(a))
        ttl = pr.DEFAULT_TTL if ttl is None else ttl
        if not 10 <= ttl <= pr.MAX_TTL:
            raise InputError(f"ttl: between 10 and {pr.MAX_TTL} seconds", field="ttl")
        if audience is not None:
            audience = audience.strip()
            if not audience or len(audience) > 64:
                raise InputError("audience: 1 to 64 characters", field="audience")
            refuse_personal_ids(audience, "audience")
        account = self.accounts.signer(caller)
        if account is None:
            raise ConflictError(
                "this enterprise keeps its own key: sign presentations on the device that holds "
                "it (`credledger wallet present --device-key`), after registering the device"
            )
        p = pr.create(pr.ChainKeySigner(bytes(account.key)), ids, self.chain_id, audience, ttl)
        token = p.encode()
        statement = hex32(p.statement_hash(self.chain_id))
        hexes = [hex32(a) for a in ids]
        with self.store.tx() as c:
            c.execute(
                "INSERT INTO presentations (statement_hash, enterprise_id, presenter, asset_ids,"
                " audience, issued_at, expires_at, created_by, created_at)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (statement, caller.enterprise_id, account.address, json.dumps(hexes), audience,
                 p.issued_at, p.expires_at, caller.label, time.time()),
            )  # fmt: skip
            self.store.event(c, caller.enterprise_id, caller.label, "presented",
                             statementHash=statement, assetIds=[hex32(a) for a in ids],
                             audience=audience, expiresAt=p.expires_at)  # fmt: skip
        return {
            "token": token,
            "expiresAt": p.expires_at,
            "issuedAt": p.issued_at,
            "ttl": ttl,
            "qrSvg": qr_svg(token),
            "statementHash": statement,
            "assetIds": [hex32(a) for a in ids],
            "audience": audience,
            "presenter": account.address,
        }

    def _check_holds(self, caller: Caller, asset: str) -> None:
        """The enterprise holds the asset: its material here, or a licence bound to its address
        (the node would refuse anything else as NOT_HOLDER; say so before signing)."""
        if self.store.one(
            "SELECT 1 FROM materials WHERE id=? AND enterprise_id=?", asset, caller.enterprise_id
        ):
            return
        lic = self.node.licence(asset)
        if lic is None:
            raise NotFoundError(f"{asset} is neither a material of this wallet nor a known licence")
        holder = str(lic.get("holderAddress") or "")
        if holder.lower() != caller.address.lower():
            raise ForbiddenError(
                f"licence {asset} is not bound to {caller.address}; ask its issuer to bind it"
            )

    def list(self, caller: Caller, *, checks: bool = True, limit: int = 50) -> list[dict[str, Any]]:
        """The caller's recent presentations, each with the node's checks of it (verifications at
        counters; the node's record ids name their receipts)."""
        caller.require("history")
        rows = self.store.all(
            "SELECT * FROM presentations WHERE enterprise_id=? ORDER BY created_at DESC LIMIT ?",
            caller.enterprise_id,
            limit,
        )
        out = []
        for r in rows:
            assets = json.loads(r["asset_ids"])
            if caller.role == "agent" and not all(caller.sees(a) for a in assets):
                continue
            item: dict[str, Any] = {
                "statementHash": r["statement_hash"],
                "assetIds": assets,
                "audience": r["audience"],
                "presenter": r["presenter"],
                "issuedAt": r["issued_at"],
                "expiresAt": r["expires_at"],
                "createdBy": r["created_by"],
                "createdAt": r["created_at"],
            }
            if checks:
                item["checks"] = self.checks(r["statement_hash"])
            out.append(item)
        return out

    def checks(self, statement_hash: str) -> builtins.list[dict[str, Any]] | None:
        """The node's verification records of one statement; None while the node is unreachable."""
        try:
            found = self.node.presentation_checks(statement_hash)
        except Exception:  # the history still shows the presentation itself
            return None
        verifications: builtins.list[dict[str, Any]] = found.get("verifications", [])
        return verifications

    # --- device keys -----------------------------------------------------------------------------

    def register_device(
        self,
        caller: Caller,
        public_key: str,
        asset_ids: builtins.list[str],
        expires_at: int | str,
        label: str | None = None,
    ) -> dict[str, Any]:
        """Delegate the assets to a phone's P-256 key: one COUNTER-PRESENTATION grant per asset,
        signed by the enterprise's key and relayed; the phone then signs tokens by itself."""
        if label is not None:
            label = label.strip() or None
            if label is not None and len(label) > 64:
                raise InputError("label: at most 64 characters", field="label")
            refuse_personal_ids(label, "label")
        vk = parse_device_key(public_key)
        address = pr.p256_address(vk)
        if not asset_ids:
            raise InputError("assetIds: name at least one asset", field="assetIds")
        granted = [
            self.grants.grant(caller, GrantInput(asset, address, PURPOSE, expires_at))
            for asset in asset_ids
        ]
        with self.store.tx() as c:
            self.store.event(c, caller.enterprise_id, caller.label, "device.registered",
                             device=address, label=label, assetIds=asset_ids,
                             grants=[g["grantId"] for g in granted])  # fmt: skip
        return {"device": address, "label": label, "grants": granted}
