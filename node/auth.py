"""Bearer tokens of departments, clerks, services and the admin, stored only as SHA-256 hashes.

Tokens are long random strings (:func:`new_token`), so a plain SHA-256 is the right storage
form (no password stretching needed); settings hold ``sha256(token)`` in hex and nothing here
ever logs or returns a token. A request's ``Authorization: Bearer <token>`` resolves to one
:class:`Principal`; what a principal may do is decided by the licence service (and, for chain
writes, by the contract's roles).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from credledger.node.core.errors import ConfigError, ForbiddenError, UnauthorizedError

# service: another program acting for the operator (the wallet's service identity); it may
# anchor hashes, nothing else
PrincipalKind = Literal["department", "clerk", "admin", "service"]
TOKEN_PREFIX = "clt_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh bearer token (256 bits); give it to the holder once, store only its hash."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a department, one of its clerks, a service, or the node admin."""

    kind: PrincipalKind
    name: str
    # the department a department principal is, or a clerk belongs to
    department: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"


class TokenBook:
    """token hash -> principal, built from the settings at start-up."""

    def __init__(self) -> None:
        self._by_hash: dict[str, Principal] = {}

    def add(self, principal: Principal, hashes: Iterable[str]) -> None:
        for h in hashes:
            h = h.lower()
            other = self._by_hash.get(h)
            if other is not None and other != principal:
                raise ConfigError(
                    f"the same token hash is configured for {other.label} and {principal.label}"
                )
            self._by_hash[h] = principal

    def __len__(self) -> int:
        return len(self._by_hash)

    def authenticate(self, authorization: str | None) -> Principal | None:
        """None without credentials; :class:`UnauthorizedError` for malformed or unknown ones."""
        if authorization is None or not authorization.strip():
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("send the token as 'Authorization: Bearer <token>'")
        principal = self._by_hash.get(hash_token(token.strip()))
        if principal is None:
            raise UnauthorizedError("this token is not known to the node; ask its operator for one")
        return principal


def require(
    principal: Principal | None, *kinds: PrincipalKind, action: str = "do this"
) -> Principal:
    """The principal if it is one of ``kinds``; 401 without a token, 403 for the wrong kind."""
    if principal is None:
        raise UnauthorizedError(f"a bearer token is needed to {action}")
    if principal.kind not in kinds:
        allowed = " or ".join(kinds)
        raise ForbiddenError(f"{principal.label} cannot {action}; only a {allowed} can")
    return principal


def build_token_book(
    *,
    departments: Iterable[tuple[str, Iterable[str]]] = (),
    clerks: Iterable[tuple[str, str | None, Iterable[str]]] = (),
    services: Iterable[tuple[str, Iterable[str]]] = (),
    admin: Iterable[str] = (),
) -> TokenBook:
    """One token book from (name, token hashes) of departments, (name, department, hashes) of
    clerks, (name, hashes) of services, and the admin's hashes."""
    book = TokenBook()
    for name, hashes in departments:
        book.add(Principal("department", name, name), hashes)
    for name, department, hashes in clerks:
        book.add(Principal("clerk", name, department), hashes)
    for name, hashes in services:
        book.add(Principal("service", name), hashes)
    book.add(Principal("admin", "admin"), admin)
    return book
