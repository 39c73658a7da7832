"""The one typed HTTP client the wallet uses to talk to a credledger node.

The wallet never imports the node's services; it anchors hashes and reads licences through the
node's public API, exactly as any other client would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from credledger.node.core.errors import CredledgerError, InputError, NotFoundError
from credledger.node.core.receipts import hex32
from credledger.wallet.errors import NodeUnavailableError


class NodeApiError(CredledgerError):
    """The node answered with an error (its code and message are kept)."""

    code = "node_error"
    http_status = 502


class NodeClient:
    def __init__(self, base_url: str, timeout: float = 30.0, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise NodeUnavailableError(
                f"the node at {self.base_url} does not answer ({type(exc).__name__})"
            ) from None
        return r

    @staticmethod
    def _json(r: httpx.Response) -> dict[str, Any]:
        if r.status_code >= 400:
            try:
                body = r.json()
                code, message = body.get("error", "error"), body.get("message", r.text)
            except ValueError:
                code, message = "error", r.text[:200]
            if r.status_code == 404:
                raise NotFoundError(f"node: {message}")
            if r.status_code == 422:
                raise InputError(f"node: {message}")
            raise NodeApiError(f"node answered {r.status_code} {code}: {message}")
        data: dict[str, Any] = r.json()
        return data

    def health(self) -> dict[str, Any]:
        return self._json(self._call("GET", "/health"))

    def submit_anchors(self, hashes: Sequence[bytes]) -> list[dict[str, Any]]:
        """POST /v1/anchors: the node stores the hashes durably before it answers 202."""
        body = self._json(
            self._call("POST", "/v1/anchors", json={"hashes": [hex32(h) for h in hashes]})
        )
        anchors: list[dict[str, Any]] = body["anchors"]
        return anchors

    def anchor(self, doc_hash: bytes) -> dict[str, Any] | None:
        """GET /v1/anchors/{hash}; None if the node does not know the hash."""
        r = self._call("GET", f"/v1/anchors/{hex32(doc_hash)}")
        if r.status_code == 404:
            return None
        return self._json(r)

    def enterprise(self, uscc: str) -> dict[str, Any]:
        return self._json(self._call("GET", f"/v1/enterprises/{uscc}"))

    def licence(self, licence_id: str) -> dict[str, Any] | None:
        r = self._call("GET", f"/v1/licences/{licence_id}")
        if r.status_code == 404:
            return None
        return self._json(r)

    def credential(self, licence_id: str, fmt: str, holder_jwk: dict[str, str] | None) -> str:
        """The licence as a credential (``vc-jwt`` | ``sd-jwt``), bound to ``holder_jwk``."""
        params: dict[str, str] = {"format": fmt}
        if holder_jwk is not None:
            import json

            params["holderJwk"] = json.dumps(holder_jwk)
        r = self._call("GET", f"/v1/licences/{licence_id}/credential", params=params)
        if r.status_code >= 400:
            self._json(r)
        return r.text

    def presentation_checks(self, statement_hash: str) -> dict[str, Any]:
        """GET /v1/presentations/{hash}: the node's verification records of one statement."""
        return self._json(self._call("GET", f"/v1/presentations/{statement_hash}"))
