"""The wallet as an OpenID4VP 1.0 holder: ``request`` reads and checks a verifier's
authorization request, ``trust`` says whom the wallet trusts, ``holder`` answers
(docs/openid4vp.md, "Holder: our wallet")."""

from credledger.wallet.openid4vp.holder import Answered, AskedView, Choice, OpenID4VPHolder
from credledger.wallet.openid4vp.request import (
    InvalidRequest,
    RequestExpired,
    VerifierConflict,
    VerifierError,
)

__all__ = [
    "Answered",
    "AskedView",
    "Choice",
    "InvalidRequest",
    "OpenID4VPHolder",
    "RequestExpired",
    "VerifierConflict",
    "VerifierError",
]
