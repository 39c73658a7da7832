"""The departments a node acts for: each with its own signing key, tokens and licence types.

A department's chain writes are signed with *its* key (so the chain records which department
issued or suspended what) through a :class:`~node.tx.TxSender`. Senders are shared per address:
if a department uses the node's own signer account, it uses the node's sender too, so there is
exactly one nonce sequence per account in the process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount

from credledger.node.auth import Principal, TokenBook
from credledger.node.core.chain import Chain
from credledger.node.core.contracts.licence_registry import LicenceRegistry
from credledger.node.core.errors import ConfigError, ForbiddenError, NotFoundError
from credledger.node.core.signer import resolve_account
from credledger.node.core.tx import TxSender
from credledger.node.settings import ClerkSettings, DepartmentSettings


@dataclass
class Department:
    name: str
    display_name: str
    sender: TxSender
    issues: frozenset[str] = field(default_factory=frozenset)
    supervises: frozenset[str] = field(default_factory=frozenset)
    display_name_en: str = ""
    #: unified social credit code (validated by the settings); None if not configured
    uscc: str | None = None

    def display_names(self) -> dict[str, str]:
        """``{"zh": …, "en": …}``: what pages show instead of the code (each falls back to the
        other, then to the code)."""
        zh = self.display_name if self.display_name != self.name else ""
        en = self.display_name_en
        return {"zh": zh or en or self.name, "en": en or zh or self.name}

    def json(self) -> dict[str, object]:
        """The department in API answers: address, code and display names."""
        return {
            "address": self.address,
            "name": self.name,
            "displayName": self.display_names(),
            "uscc": self.uscc,
        }

    @property
    def address(self) -> str:
        return self.sender.address

    def may_issue(self, type_code: str) -> bool:
        return type_code in self.issues

    def may_supervise(self, type_code: str) -> bool:
        return type_code in self.supervises


class SenderPool:
    """One :class:`TxSender` per account address in this process."""

    def __init__(self, chain: Chain, *existing: TxSender) -> None:
        self.chain = chain
        self._by_address: dict[str, TxSender] = {s.address: s for s in existing}

    def for_account(self, account: LocalAccount) -> TxSender:
        sender = self._by_address.get(account.address)
        if sender is None:
            sender = TxSender(self.chain, account)
            self._by_address[account.address] = sender
        return sender


class Departments:
    """The configured departments and the token book that maps callers to them."""

    def __init__(
        self,
        departments: list[Department],
        tokens: TokenBook,
        codes: dict[str, str] | None = None,
    ) -> None:
        self._by_name = {d.name: d for d in departments}
        if len(self._by_name) != len(departments):
            raise ConfigError("two departments share a name")
        self.tokens = tokens
        # unified social credit codes of departments other nodes act for, by address
        self.codes = dict(codes or {})

    def __iter__(self) -> Iterator[Department]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str) -> Department:
        dept = self._by_name.get(name)
        if dept is None:
            raise NotFoundError(f"this node does not act for a department named {name!r}")
        return dept

    def of(self, principal: Principal) -> Department:
        """The department a principal acts for (a clerk acts for its department, if any)."""
        if principal.department is None:
            raise ForbiddenError(f"{principal.label} does not belong to a department")
        return self.get(principal.department)

    def by_address(self, address: str) -> Department | None:
        return next((d for d in self._by_name.values() if d.address == address), None)

    def uscc_of(self, address: str | None) -> str | None:
        """A department's unified social credit code: its setting if this node acts for it,
        else ``licences.department_codes``; None if unknown."""
        if not address:
            return None
        d = self.by_address(address)
        if d is not None and d.uscc:
            return d.uscc
        return self.codes.get(address)


def build_departments(
    departments: list[DepartmentSettings],
    clerks: list[ClerkSettings],
    admin_token_hashes: list[str],
    pool: SenderPool,
    codes: dict[str, str] | None = None,
) -> Departments:
    tokens = TokenBook()
    built: list[Department] = []
    for d in departments:
        account = resolve_account(d.keystore, d.password_file, d.dev_account)
        built.append(
            Department(
                d.name,
                d.display_name or d.name,
                pool.for_account(account),
                frozenset(d.issues),
                frozenset(d.supervises),
                d.display_name_en,
                d.uscc,
            )
        )
        tokens.add(Principal("department", d.name, d.name), d.token_sha256)
    names = {d.name for d in built}
    for c in clerks:
        if c.department is not None and c.department not in names:
            raise ConfigError(f"clerk {c.name} names unknown department {c.department!r}")
        tokens.add(Principal("clerk", c.name, c.department), c.token_sha256)
    tokens.add(Principal("admin", "admin"), admin_token_hashes)
    return Departments(built, tokens, codes)


# --- a department's keys beyond its transaction key (SM2 seal, P-256 credential) ------------


def keystore_passphrase(name: str, secret: Any, env_name: str, what: str) -> str:
    """The passphrase of department ``name``'s ``what`` keystore: ``secret`` (a SecretStr from
    the settings) if set, else the environment variable ``env_name``; ConfigError if neither."""
    if secret is not None:
        return str(secret.get_secret_value())
    value = os.environ.get(env_name)
    if not value:
        raise ConfigError(
            f"department {name}: the {what} keystore's passphrase is not set "
            f"(environment variable {env_name})"
        )
    return value


def key_id_on_chain(
    name: str,
    address: str,
    raw: bytes,
    registry: LicenceRegistry,
    kind: int,
    what: str,
    kind_text: str,
) -> int | None:
    """The on-chain key id of public key ``raw`` among department ``address``'s keys (None if
    not registered); ConfigError if it is registered as another kind than ``kind`` or retired.
    ``what`` names the key in messages ("seal", "credential"), ``kind_text`` its kind."""
    for key_id in registry.department_key_ids(address):
        k = registry.department_key(key_id)
        if k is None or bytes(k.public_key) != raw:
            continue
        if k.kind != kind:
            raise ConfigError(f"department {name}: key {key_id} is not {kind_text} on chain")
        if k.retired_at:
            raise ConfigError(
                f"department {name}: its {what} key (key {key_id}) was retired on chain at "
                f"{k.retired_at}; configure a new {what} key"
            )
        return int(key_id)
    return None


def registered_key_id(
    dept: Department,
    raw: bytes,
    registry: LicenceRegistry,
    kind: int,
    what: str,
    kind_text: str,
) -> int:
    """The key id of ``raw`` for ``dept``, registering it on chain (signed by the department's
    own key) if the chain does not have it yet — the devnet demo's keys."""
    key_id = key_id_on_chain(dept.name, dept.address, raw, registry, kind, what, kind_text)
    if key_id is None:
        key_id, _ = registry.with_sender(dept.sender).register_department_key(
            dept.address, kind, raw
        )
    return int(key_id)
