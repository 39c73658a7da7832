"""Wallet errors: subclasses of the one tree in ``credledger.node.core.errors``."""

from __future__ import annotations

from typing import Any

from credledger.node.core.errors import CredledgerError, ForbiddenError


class TooManyAttemptsError(CredledgerError):
    """Too many failed logins; wait and try again."""

    code = "too_many_attempts"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retryAfter=retry_after)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class GoneError(CredledgerError):
    """The thing existed but its content was deleted (a material's file)."""

    code = "gone"
    http_status = 410


class NodeUnavailableError(CredledgerError):
    """The credledger node's HTTP API did not answer."""

    code = "node_unavailable"
    http_status = 503
    exit_code = 2


class WalletUnavailableError(CredledgerError):
    """The wallet service did not answer (CLI side)."""

    code = "wallet_unavailable"
    exit_code = 2


class UseRefused(ForbiddenError):
    """A grantee's fetch was refused; ``reason`` is a stable code (grant_revoked, …)."""

    code = "use_refused"

    def __init__(self, reason: str, message: str, **details: Any) -> None:
        super().__init__(message, reason=reason, **details)
        self.reason = reason

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        body["reason"] = self.reason
        return body
