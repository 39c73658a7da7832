"""A small HTTP client of the wallet API (used by the CLI, the grantee command and tests)."""

from __future__ import annotations

from typing import Any

import httpx

from credledger.node.core.errors import CredledgerError
from credledger.wallet.errors import WalletUnavailableError


class WalletApiError(CredledgerError):
    """The wallet refused the request; the message is the wallet's own."""

    code = "wallet_error"

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        reason = body.get("reason")
        message = f"{body.get('message', 'error')} ({status} {body.get('error', '')}"
        message += f", reason {reason})" if reason else ")"
        super().__init__(message)
        self.status = status
        self.body = body


class WalletClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, timeout=timeout, headers=headers)

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise WalletUnavailableError(
                f"the wallet at {self.url} does not answer ({type(exc).__name__}); "
                "is `credledger wallet serve` running?"
            ) from None
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = {"message": r.text[:200]}
            raise WalletApiError(r.status_code, body if isinstance(body, dict) else {})
        return r

    def json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        r = self.request(method, path, **kw)
        if r.status_code == 204:
            return {}
        data: dict[str, Any] = r.json()
        return data
