"""Presenter authority: may the presenter show this asset?

The holder itself may; anyone else needs an active on-chain COUNTER-PRESENTATION grant from the
holder (``ConsentRegistry.isAuthorized``). A grant that exists and is live but that the contract
refuses is paused by the licence's status (Contracts II pauses the grants of suspended or
expired licences): the status reason says why. Revoked grants and the grantors of a material
are found in the indexed ``ConsentRegistry`` events.
"""

from __future__ import annotations

import time

from eth_utils.address import to_checksum_address

from credledger.node.core.contracts import licence_events as ev
from credledger.node.core.contracts.consent_registry import ConsentRegistry, purpose_of

from .models import AssetCheck, reason

COUNTER_PURPOSE = purpose_of("COUNTER-PRESENTATION")


class PresenterAuthority:
    """``consent``: the ConsentRegistry binding (None: not deployed, only holders may present);
    ``events``: the node's event index (grants and revocations)."""

    def __init__(self, consent: ConsentRegistry | None, events: ev.EventSource | None) -> None:
        self.consent = consent
        self.events = events

    def judge(self, check: AssetCheck, holder: str | None, presenter: str, what: str) -> None:
        """Record on ``check`` who presented it, or why the presenter may not."""
        aid = check.assetId
        if holder is None:
            check.add(
                reason(
                    "NOT_HOLDER",
                    f"{what} {aid} is not bound to a holder address on chain, so nobody can "
                    "present it; ask the issuing department to bind it",
                )
            )
            return
        check.holder = holder
        if holder.lower() == presenter.lower():
            check.presentedBy = "holder"
            return
        check.presentedBy = "agent"
        asset = check.asset_id
        consent = self.consent
        if consent is not None and consent.is_authorized(holder, asset, presenter, COUNTER_PURPOSE):
            return
        grant = (
            consent.get_grant(holder, asset, presenter, COUNTER_PURPOSE)
            if consent is not None
            else None
        )
        now = int(time.time())
        if (
            grant is not None
            and grant.expires_at > now
            and (grant.max_uses == 0 or grant.uses < grant.max_uses)
        ):
            check.grant = "paused"
            return
        if grant is not None or self._revoked(holder, asset, presenter, catch_up=True):
            why = (
                "was revoked"
                if grant is None
                else ("has expired" if grant.expires_at <= now else "is used up")
            )
            check.add(
                reason(
                    "AGENT_NOT_AUTHORISED",
                    f"{presenter}'s COUNTER-PRESENTATION grant from holder {holder} for {what} "
                    f"{aid} {why}",
                    presenter=presenter,
                )
            )
        else:
            check.add(
                reason(
                    "NOT_HOLDER",
                    f"{presenter} is not the holder of {what} {aid} (the holder is {holder}) "
                    "and holds no COUNTER-PRESENTATION grant from it",
                    presenter=presenter,
                )
            )

    def _revoked(self, holder: str, asset: bytes, grantee: str, *, catch_up: bool = False) -> bool:
        """Whether the grant was revoked. ``catch_up``: the index may lag the chain by the
        revocation just mined; wait briefly for the head first (only on this refusal path), so a
        revoked device grant answers AGENT_NOT_AUTHORISED, not NOT_HOLDER."""
        if self.events is None or self.consent is None:
            return False
        if catch_up and not self._revoked(holder, asset, grantee):
            try:
                head = self.consent.chain.block_number()
            except Exception:  # the chain unreachable: answer from what is indexed
                return False
            if self.events.indexed_height < head:
                self.events.wait_until(head, timeout=5.0)
        purpose = "0x" + COUNTER_PURPOSE.hex()
        for e in self.events.events(
            "ConsentRegistry", "ConsentRevoked", {"assetId": "0x" + asset.hex()}
        ):
            a = e.args
            if (
                str(a.get("holder", "")).lower() == holder.lower()
                and str(a.get("grantee", "")).lower() == grantee.lower()
                and str(a.get("purpose", "")).lower() == purpose
            ):
                return True
        return False

    def grantors(self, asset: bytes, grantee: str) -> list[str]:
        """Holders who ever granted ``grantee`` a use of ``asset`` (a material's candidates)."""
        if self.events is None:
            return []
        found = [
            to_checksum_address(e.args["holder"])
            for e in self.events.events(
                "ConsentRegistry", "ConsentGranted", {"assetId": "0x" + asset.hex()}
            )
            if str(e.args.get("grantee", "")).lower() == grantee.lower()
        ]
        return list(dict.fromkeys(found))
