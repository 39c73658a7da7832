"""The enterprise's digital assets (licences from the node, materials here) and its history."""

from __future__ import annotations

import json
from typing import Any

from credledger.node.core.receipts import hex32
from credledger.wallet import purposes
from credledger.wallet.accounts import Caller
from credledger.wallet.grants import ConsentChain
from credledger.wallet.materials import MaterialService
from credledger.wallet.node_client import NodeClient
from credledger.wallet.store import WalletStore


class AssetService:
    def __init__(
        self,
        store: WalletStore,
        node: NodeClient,
        materials: MaterialService,
        consent: ConsentChain,
        from_block: int = 0,
    ) -> None:
        self.store = store
        self.node = node
        self.materials = materials
        self.consent = consent
        self.from_block = from_block

    def assets(self, caller: Caller) -> dict[str, Any]:
        """Licences bound to the holder address, those issued to its USCC but unbound, materials."""
        caller.require("view")
        view = self.node.enterprise(caller.uscc)
        licences: list[dict[str, Any]] = []
        for lic in view.get("licences", []):
            lid = str(lic["licenceId"]).lower()
            if not caller.sees(lid):
                continue
            bound_to = lic.get("holderAddress")
            item = dict(lic)
            detail = self.node.licence(lid) if len(view.get("licences", [])) <= 50 else None
            if detail is not None:
                item["history"] = detail.get("history", [])
            item["kind"] = "licence"
            item["assetId"] = lid
            if bound_to and str(bound_to).lower() == caller.address.lower():
                item["binding"] = "bound"
            else:
                item["binding"] = "unbound" if not bound_to else "bound-elsewhere"
                issuer = (lic.get("issuer") or {}).get("name") or "the issuing department"
                item["howToBind"] = (
                    f"ask {issuer} to bind licence {lid} to {caller.address} "
                    f"(node: POST /v1/licences/{lid}/bind-holder); it can be granted once bound"
                )
            licences.append(item)
        return {
            "holder": caller.address,
            "uscc": caller.uscc,
            "licences": licences,
            "materials": self.materials.list(caller),
        }

    def history(self, caller: Caller) -> dict[str, Any]:
        """What happened to the enterprise's assets: wallet events and every use on chain."""
        caller.require("history")
        rows = self.store.all(
            "SELECT * FROM events WHERE enterprise_id=? ORDER BY id", caller.enterprise_id
        )
        events = [
            {"at": r["at"], "actor": r["actor"], "action": r["action"], **json.loads(r["details"])}
            for r in rows
        ]
        redeemed = {
            (r["tx_hash"], r["log_index"]): r["redeemed_at"]
            for r in self.store.all(
                "SELECT tx_hash, log_index, redeemed_at FROM uses WHERE enterprise_id=?",
                caller.enterprise_id,
            )
        }
        times: dict[int, int] = {}
        uses = []
        for u in self.consent.holder_uses(caller.address, self.from_block):
            if u.block_number not in times:
                times[u.block_number] = self.consent.block_time(u.block_number)
            uses.append(
                {
                    "grantee": u.grantee,
                    "assetId": hex32(u.asset_id),
                    "purpose": purposes.name_of(u.purpose),
                    "uses": u.uses,
                    "transactionHash": u.tx_hash,
                    "blockNumber": u.block_number,
                    "time": times[u.block_number],
                    "redeemedAt": redeemed.get((u.tx_hash, u.log_index)),
                }
            )
        if caller.role == "agent":
            events = [e for e in events if caller.sees(str(e.get("id") or e.get("assetId") or ""))]
            uses = [u for u in uses if caller.sees(str(u["assetId"]))]
        return {"holder": caller.address, "events": events, "uses": uses}
