"""Whom the wallet trusts as a verifier: its own node's (``GET /v1/openid4vp/verifier``), the
client_ids listed in ``openid4vp.trusted_verifiers``, and any whose ``x5c`` chain ends at a CA
certificate of ``openid4vp.trust_anchors`` (each certificate signed by the next, all within
their validity, the issuers CAs; no revocation or name-constraint checks)."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from credledger.node.core.errors import ConfigError
from credledger.wallet.node_client import NodeClient

NODE_TTL = 60.0  # seconds the node's verifier identity is cached


def load_anchors(paths: list[Path]) -> list[x509.Certificate]:
    anchors: list[x509.Certificate] = []
    for p in paths:
        try:
            anchors.extend(x509.load_pem_x509_certificates(p.read_bytes()))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"openid4vp.trust_anchors: {p} is not a readable PEM certificate file ({exc})"
            ) from None
    return anchors


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _valid_now(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def chain_to_anchor(chain: list[x509.Certificate], anchors: list[x509.Certificate]) -> str | None:
    """The subject of the anchor the chain ends at, or None."""
    if not anchors:
        return None
    now = dt.datetime.now(dt.UTC)
    if not all(_valid_now(c, now) for c in chain):
        return None
    for cert, issuer in itertools.pairwise(chain):
        if not _is_ca(issuer) or not _issued_by(cert, issuer):
            return None
    last = chain[-1]
    for anchor in anchors:
        if last == anchor and _valid_now(anchor, now):
            return anchor.subject.rfc4514_string()
        if _is_ca(anchor) and _valid_now(anchor, now) and _issued_by(last, anchor):
            return anchor.subject.rfc4514_string()
    return None


class Trust:
    def __init__(self, node: NodeClient, listed: list[str], anchor_files: list[Path]) -> None:
        self.node = node
        self.listed = set(listed)
        self.anchors = load_anchors(anchor_files)
        self._lock = threading.Lock()
        self._node_id: tuple[float, str | None] = (0.0, None)

    def node_client_id(self) -> str | None:
        """The client_id of the wallet's own node's verifier (None if it has none)."""
        with self._lock:
            at, cid = self._node_id
            if time.monotonic() - at < NODE_TTL and at:
                return cid
        cid = None
        try:
            r = self.node._call("GET", "/v1/openid4vp/verifier")
            if r.status_code == 200:
                body = r.json()
                got = body.get("clientId") if isinstance(body, dict) else None
                cid = got if isinstance(got, str) else None
        except Exception:  # the node unreachable, or an old node: unknown, not an error
            cid = None
        with self._lock:
            self._node_id = (time.monotonic(), cid)
        return cid

    def judge(self, client_id: str, chain: list[x509.Certificate]) -> tuple[bool, str]:
        """(trusted, why)."""
        if client_id == self.node_client_id():
            return True, "the verifier of this wallet's node"
        if client_id in self.listed:
            return True, "listed in the wallet's trusted verifiers"
        anchor = chain_to_anchor(chain, self.anchors)
        if anchor is not None:
            return True, f"certificate chain to trust anchor {anchor}"
        return False, "unknown verifier: its certificate is not from a trust anchor of this wallet"
