"""Token checks: format, signature, validity window and audience of a presentation token.

Token validity is wall-clock time (the presenting phone's clock, with :data:`CLOCK_SKEW` of
tolerance); single use is the counter store's (``store.py``). Nothing here reads the chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from credledger.node.auth import Principal
from credledger.node.core import presentation as pr
from credledger.node.licences.inputs import iso

from .models import PresentationShown, Reason, reason

# a token refused for these reasons is not taken (single use): it was never in its window
_NOT_TAKEN = frozenset({"TOKEN_EXPIRED", "TOKEN_NOT_YET_VALID", "TOKEN_MALFORMED"})


@dataclass
class TokenCheck:
    """What the token says and what is wrong with it (``reasons`` empty: sound)."""

    presentation: pr.Presentation | None = None
    presenter: str | None = None
    statement: bytes | None = None
    reasons: list[Reason] = field(default_factory=list)
    #: the audience names this node (``verifier:<its address>``): no other node accepts the
    #: token, so this node's own store is its single use on the whole network
    verifier_bound: bool = False

    @property
    def sound(self) -> bool:
        return self.presentation is not None and self.presenter is not None and not self.reasons

    @property
    def takes_statement(self) -> bool:
        """A statement is taken (single use) once its signature is good and it is in its
        window."""
        return self.presenter is not None and not any(r.code in _NOT_TAKEN for r in self.reasons)

    @property
    def asset_ids(self) -> tuple[bytes, ...]:
        return self.presentation.asset_ids if self.presentation is not None else ()

    @property
    def expires_at(self) -> int:
        """Until when the single-use store must remember the statement."""
        p = self.presentation
        return p.expires_at + pr.CLOCK_SKEW if p is not None else 0

    def shown(self) -> PresentationShown | None:
        p = self.presentation
        if p is None:
            return None
        return PresentationShown(
            statementHash="0x" + self.statement.hex() if self.statement else None,
            presenter=self.presenter,
            keyKind=p.kind,
            issuedAt=p.issued_at,
            expiresAt=p.expires_at,
            audienceTag="0x" + p.audience_tag.hex() if p.audience_tag else None,
            assetIds=["0x" + a.hex() for a in p.asset_ids],
        )


def check_token(
    token: str, chain_id: int, who: Principal, now: int, verifier: str | None = None
) -> TokenCheck:
    """Decode ``token``, recover its presenter and check its window and audience;
    ``verifier``: this node's chain account (a token may name it as its audience)."""
    out = TokenCheck()
    try:
        p = pr.decode(token)
    except pr.TokenFormatError as exc:
        out.reasons.append(reason("TOKEN_MALFORMED", exc.message))
        return out
    out.presentation = p
    out.statement = p.statement_hash(chain_id)
    try:
        out.presenter = pr.presenter(p, chain_id)
    except pr.BadSignature:
        out.reasons.append(
            reason(
                "BAD_SIGNATURE",
                "the signature does not match the token's content: it was altered, "
                "damaged in scanning, signed for another network or forged",
            )
        )
    own = pr.audience_tag(pr.verifier_audience(verifier)) if verifier else None
    out.verifier_bound = own is not None and p.audience_tag == own
    out.reasons += window_and_audience(p, who, now, own)
    return out


def window_and_audience(
    p: pr.Presentation, who: Principal, now: int, own: bytes | None = None
) -> list[Reason]:
    """The window's and the audience's reasons; ``own``: this node's verifier audience tag."""
    out: list[Reason] = []
    if p.ttl == 0 or p.ttl > pr.MAX_TTL:
        out.append(
            reason(
                "TOKEN_MALFORMED",
                f"the token claims a validity of {p.ttl} s; at most {pr.MAX_TTL} s is allowed",
            )
        )
    if p.issued_at > now + pr.CLOCK_SKEW:
        out.append(
            reason(
                "TOKEN_NOT_YET_VALID",
                f"the token was issued at {iso(p.issued_at)}, in the future; "
                "the presenting phone's clock is wrong",
                issuedAt=p.issued_at,
            )
        )
    elif now >= p.expires_at + pr.CLOCK_SKEW:
        out.append(
            reason(
                "TOKEN_EXPIRED",
                f"the token expired at {iso(p.expires_at)} ({now - p.expires_at} s ago); "
                "ask the holder to show a fresh code",
                expiresAt=p.expires_at,
            )
        )
    if p.audience_tag is not None:
        mine = [who.department or who.name]
        if who.kind == "clerk" and who.department:
            mine.append(f"{who.department}/{who.name}")
        if p.audience_tag != own and p.audience_tag not in {pr.audience_tag(m) for m in mine}:
            out.append(
                reason(
                    "WRONG_AUDIENCE",
                    f"the token is meant for another department, counter or verifier, "
                    f"not {mine[-1]}",
                )
            )
    return out
