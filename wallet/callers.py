"""Who calls the wallet: the roles of an enterprise's people, the :class:`Caller` a session
resolves to, and the checks of logins, names, addresses and asset ids.

Enterprise accounts, people and roles, sessions and custodial keys.

Roles, as on China's electronic business licence:

* ``legal_rep`` — the legal representative (法定代表人): registers the enterprise, owns its account,
  names up to 5 administrators.
* ``admin`` — a licence administrator (证照管理员): files and confirms materials, grants and
  revokes, authorises agents, exports the key.
* ``agent`` — an agent (办事人): acts for the enterprise on the assets and actions an administrator
  listed, until a date; has a key of their own (to present at a counter under a grant).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from eth_utils.address import is_address, to_checksum_address

from credledger.node.core.errors import ForbiddenError, InputError
from credledger.node.core.receipts import hex32, parse_hash
from credledger.wallet.scan import refuse_personal_ids

Role = Literal["legal_rep", "admin", "agent"]
LEGAL_REP_LOGIN = "legal-rep"
LOGIN_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,39}$"
#: what an administrator may let an agent do
AGENT_ACTIONS = ("view", "file", "present")
#: every action an endpoint asks for; legal_rep and admin have all but ``manage_admins``
ENTERPRISE_ACTIONS = (
    "view",
    "file",
    "present",
    "confirm",
    "delete",
    "grant",
    "revoke",
    "manage_agents",
    "export_key",
    "history",
)


@dataclass
class Caller:
    """Who is calling, resolved from a session token; ``signer`` is set while a key is unlocked."""

    person_id: int
    enterprise_id: int
    uscc: str
    enterprise_name: str
    address: str
    custody: str
    role: Role
    login: str
    name: str
    token_hash: str
    expires_at: float
    agent_assets: frozenset[str] = frozenset()
    agent_actions: frozenset[str] = frozenset()
    agent_until: int | None = None
    agent_address: str | None = None
    _passphrase: bytes | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return f"{self.role}:{self.login}"

    def may(self, action: str, asset: str | None = None) -> bool:
        if self.role == "legal_rep":
            return True
        if self.role == "admin":
            return action != "manage_admins"
        if self.agent_until is not None and self.agent_until <= time.time():
            return False
        if action not in self.agent_actions:
            return False
        return asset is None or asset.lower() in self.agent_assets

    def require(self, action: str, asset: str | None = None) -> None:
        if not self.may(action, asset):
            what = f"{action} on {asset}" if asset else action
            if self.role == "agent" and self.agent_until and self.agent_until <= time.time():
                raise ForbiddenError(
                    f"agent {self.login}'s authorisation ended; ask an administrator"
                )
            raise ForbiddenError(f"{self.label} may not {what}")

    def sees(self, asset: str) -> bool:
        """Whether the caller may see ``asset`` in lists (agents: only the assets they act on)."""
        return self.role != "agent" or self.may("view", asset)


def checksum(address: str, field_name: str = "address") -> str:
    if not isinstance(address, str) or not is_address(address):
        raise InputError(f"{field_name} is not an Ethereum address", field=field_name)
    return str(to_checksum_address(address))


def aad(person_id: int) -> bytes:
    return b"person:%d" % person_id


def person_json(row: sqlite3.Row) -> dict[str, Any]:
    body: dict[str, Any] = {"login": row["login"], "name": row["name"], "role": row["role"]}
    if row["role"] == "agent":
        body.update(
            address=row["agent_address"],
            assets=json.loads(row["assets"] or "[]"),
            actions=json.loads(row["actions"] or "[]"),
            until=row["until"],
        )
    return body


def clean_login(login: str) -> str:
    login = (login or "").strip().lower()
    refuse_personal_ids(login, "login")  # a login stays in the events after the person goes
    if not re.match(LOGIN_PATTERN, login) or login == LEGAL_REP_LOGIN:
        raise InputError(
            "login: 2-40 characters a-z 0-9 . _ -, starting with a letter or digit", field="login"
        )
    return login


def clean_name(name: str, where: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InputError(f"{where} must have 1-200 characters", field=where)
    refuse_personal_ids(name, where)
    return name


def asset_hex(asset: str) -> str:
    return hex32(parse_hash(asset)).lower()
