"""The served lists: W3C ``BitstringStatusListCredential`` as ``vc+jwt`` (VC-JOSE-COSE) and the
IETF Status List Token (``statuslist+jwt``), signed ES256 by the issuing department's P-256
credential key, cached per indexed block.

Each document states the chain state it was built from: ``validFrom`` is the time of the indexed
block, ``chainState`` (credential) / ``chain_state`` (token) names the chain and the block number,
and the HTTP answer carries ``Credledger-Block``. The encoded list is rebuilt only when a bit of
that list changed; the signature is made once per (list, block) and again when the signed copy is
older than ``refresh`` seconds (so a quiet chain never serves an expired list). ``ETag`` =
``"<block>.<list version>.<signed at>"`` (the version changes with every bit, also when a reorg
rebuilds the lists at the same height).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from credledger.node.core.errors import ConfigError, CredledgerError, InputError
from credledger.node.status.encoding import (
    INVALID,
    SUSPENDED,
    b64url,
    bitstring,
    encode_bitstring,
    encode_token_list,
    token_list,
)
from credledger.node.status.entries import PURPOSES, REVOCATION, list_path
from credledger.node.status.lists import ListState, StatusLists

VC_V2 = "https://www.w3.org/ns/credentials/v2"
TOKEN = "token"
KINDS = (*PURPOSES, TOKEN)
MEDIA = {"vc+jwt": "application/vc+jwt", "statuslist+jwt": "application/statuslist+jwt"}


class ListSigner(Protocol):
    """What signing a list needs of a department's credential key
    (``credledger.node.credentials.keys.CredentialKey`` is one)."""

    @property
    def department(self) -> str: ...

    def kid(self) -> str: ...

    def issuer(self) -> str: ...

    def sign_es256(self, signing_input: bytes) -> bytes: ...


KeyLookup = Callable[[str], ListSigner | None]  # department address -> its key, or None


class NoCredentialKey(CredledgerError):
    """This node holds no credential key of that department, so it cannot sign its lists."""

    code = "no_credential_key"
    http_status = 404


@dataclass(frozen=True)
class Served:
    body: str  # the compact JWS
    media_type: str
    etag: str  # quoted, strong
    block: int
    max_age: int


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def jws(header: dict[str, Any], payload: dict[str, Any], signer: ListSigner) -> str:
    """A compact JWS (RFC 7515) with ES256."""
    h = b64url(json.dumps(header, separators=(",", ":")).encode("utf-8"))
    p = b64url(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    signature = signer.sign_es256(f"{h}.{p}".encode("ascii"))
    if len(signature) != 64:
        raise CredledgerError("an ES256 signature is 64 bytes r || s")
    return f"{h}.{p}.{b64url(signature)}"


def _header(signer: ListSigner, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with the signer's ``kid`` and, when its key has a certificate chain, ``x5c``
    (HAIP 1.0 §6.1.1; ``CredentialKey.x5c``), as its credentials carry them."""
    x5c = getattr(signer, "x5c", ())
    return {**base, "kid": signer.kid(), **({"x5c": list(x5c)} if x5c else {})}


def encoded(state: ListState, kind: str) -> str:
    """The list's encoding: ``encodedList`` for a purpose, ``lst`` (2 bits) for the token."""
    if kind == TOKEN:
        statuses = dict.fromkeys(state.suspended, SUSPENDED)
        statuses.update(dict.fromkeys(state.revoked, INVALID))
        return encode_token_list(token_list(state.capacity, statuses, bits=2))
    bits = state.revoked if kind == REVOCATION else state.suspended
    return encode_bitstring(bitstring(state.capacity, bits))


class StatusDocuments:
    """Builds, signs and caches the lists a node serves (see the module docstring)."""

    def __init__(
        self,
        lists: StatusLists,
        keys: KeyLookup | None,
        chain_id: int,
        *,
        max_age: int = 10,
        validity: int = 86_400,
        refresh: int = 3_600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lists = lists
        self.keys = keys
        # the base of the list URLs (``id`` / ``sub``): the one the exported credentials point
        # at; None: the node's public_url, else the URL a request came to
        self.base_url: str | None = None
        self.chain_id = chain_id
        self.max_age, self.validity, self.refresh = max_age, validity, refresh
        self.clock = clock
        self._lock = threading.Lock()
        # (issuer lower, list, kind) -> (list version, encoded)
        self._encoded: dict[tuple[str, int, str], tuple[int, str]] = {}
        # (issuer lower, list, kind, base) -> (Served, signed at, (height, version))
        self._served: dict[tuple[str, int, str, str], tuple[Served, int, tuple[int, int]]] = {}

    def serve(self, base: str, issuer: str, list_id: int, kind: str) -> Served:
        """The signed list ``kind`` (revocation | suspension | token) of ``issuer``'s list
        ``list_id`` as of the indexed block; NotFoundError for a list that does not exist,
        NoCredentialKey when this node cannot sign for ``issuer``."""
        if kind not in KINDS:
            raise InputError(f"a status list is one of {', '.join(KINDS)}", kind=kind)
        signer = self.keys(issuer) if self.keys is not None else None
        if signer is None:
            raise NoCredentialKey(
                "this node holds no credential key of that department; ask a node that acts for it",
                issuer=issuer,
            )
        try:
            signer.kid()
        except ConfigError as e:  # loaded but not registered on chain yet (the devnet demo)
            raise NoCredentialKey(str(e), issuer=issuer) from None
        key = (issuer.lower(), list_id, kind)
        served_key = (*key, base)
        now = int(self.clock())
        at = self.lists.version(issuer, list_id)
        with self._lock:  # the answer of this block, unless it is due for a new signature
            cached = self._served.get(served_key)
            if cached is not None and now - cached[1] < self.refresh and cached[2] == at:
                return cached[0]
        state = self.lists.state(issuer, list_id)  # NotFoundError for an unknown list
        with self._lock:
            known = self._encoded.get(key)
        # the encoded list is rebuilt only when one of its bits changed
        reuse = known is not None and known[0] == state.version
        text = known[1] if known is not None and reuse else encoded(state, kind)
        url = f"{base.rstrip('/')}{list_path(state.issuer, list_id)}/{kind}"
        if kind == TOKEN:
            body = self._token(state, signer, url, text, now)
            media = MEDIA["statuslist+jwt"]
        else:
            body = self._credential(state, signer, url, kind, text, now)
            media = MEDIA["vc+jwt"]
        etag = f'"{state.height}.{state.version}.{now}"'
        served = Served(body, media, etag, state.height, self.max_age)
        with self._lock:
            self._encoded[key] = (state.version, text)
            self._served[served_key] = (served, now, (state.height, state.version))
        return served

    def _chain_state(self, state: ListState) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "blockNumber": state.height,
            "blockTime": iso(state.block_time),
        }

    def _credential(
        self, state: ListState, signer: ListSigner, url: str, purpose: str, text: str, now: int
    ) -> str:
        credential = {
            "@context": [VC_V2],
            "id": url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": signer.issuer(),
            "validFrom": iso(state.block_time),
            "validUntil": iso(max(now, state.block_time) + self.validity),
            "credentialSubject": {
                "id": f"{url}#list",
                "type": "BitstringStatusList",
                "statusPurpose": purpose,
                "encodedList": text,
                "ttl": self.max_age * 1000,
            },
            "chainState": self._chain_state(state),
        }
        header = _header(signer, {"alg": "ES256", "typ": "vc+jwt", "cty": "vc"})
        return jws(header, credential, signer)

    def _token(self, state: ListState, signer: ListSigner, url: str, text: str, now: int) -> str:
        payload = {
            "sub": url,
            "iss": signer.issuer(),
            "iat": now,
            "exp": now + self.validity,
            "ttl": self.max_age,
            "status_list": {"bits": 2, "lst": text},
            "chain_state": {
                "chain_id": self.chain_id,
                "block_number": state.height,
                "block_time": state.block_time,
            },
        }
        header = _header(signer, {"alg": "ES256", "typ": "statuslist+jwt"})
        return jws(header, payload, signer)


__all__ = ["KINDS", "NoCredentialKey", "Served", "StatusDocuments"]
