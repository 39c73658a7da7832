"""Enterprise accounts: registration, people and roles, and the custodial enterprise key.

Roles, as on China's electronic business licence:

* ``legal_rep`` — the legal representative (法定代表人): registers the enterprise, owns its account,
  names up to 5 administrators.
* ``admin`` — a licence administrator (证照管理员): files and confirms materials, grants and
  revokes, authorises agents, exports the key.
* ``agent`` — an agent (办事人): acts for the enterprise on the assets and actions an administrator
  listed, until a date; has a key of their own (to present at a counter under a grant).

A custodial enterprise's key is a keystore v3 file whose passphrase is wrapped for the legal
representative and each administrator with a key derived from that person's password, so the
wallet can sign for the enterprise only while one of them has a session open (see
``wallet.crypto``). A non-custodial enterprise registers an external address and signs EIP-712
requests itself; the wallet only relays.

Who may do what is in ``wallet/callers.py`` (roles, :class:`Caller`); sign-in, sessions and the
throttle of failed sign-ins in ``wallet/sessions.py``.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from typing import Any

from eth_account.signers.local import LocalAccount

from credledger.node.core.errors import (
    ConflictError,
    ForbiddenError,
    InputError,
    NotFoundError,
    UnauthorizedError,
)
from credledger.node.core.identifiers import normalise_uscc
from credledger.wallet import crypto
from credledger.wallet.callers import (
    AGENT_ACTIONS,
    ENTERPRISE_ACTIONS,
    LEGAL_REP_LOGIN,
    LOGIN_PATTERN,
    Caller,
    Role,
    aad,
    asset_hex,
    checksum,
    clean_login,
    clean_name,
    person_json,
)
from credledger.wallet.scan import refuse_personal_ids
from credledger.wallet.sessions import BoundedPasswords, LoginThrottle, Sessions
from credledger.wallet.settings import SecuritySettings
from credledger.wallet.store import WalletStore

__all__ = [
    "AGENT_ACTIONS",
    "ENTERPRISE_ACTIONS",
    "LEGAL_REP_LOGIN",
    "LOGIN_PATTERN",
    "AccountService",
    "Caller",
    "LoginThrottle",
    "Role",
    "checksum",
]


class AccountService:
    def __init__(self, store: WalletStore, settings: SecuritySettings, master: crypto.MasterKey):
        self.store = store
        self.settings = settings
        self.master = master
        self.passwords = BoundedPasswords(  # argon2 at most one per core (sessions.py)
            crypto.KdfParams(
                settings.argon2_time_cost,
                settings.argon2_memory_kib,
                settings.argon2_parallelism,
                settings.keystore_scrypt_n,
            )
        )
        self.throttle = LoginThrottle(settings.login_failures, settings.login_window)
        self.sessions = Sessions(store, settings, self.passwords, self.throttle)

    # --- registration ---------------------------------------------------------------------------

    def register(
        self,
        uscc: str,
        name: str,
        password: str,
        *,
        address: str | None = None,
        keystore: dict[str, Any] | None = None,
        keystore_passphrase: str | None = None,
    ) -> dict[str, Any]:
        """A new enterprise and its legal representative (custodial unless ``address``)."""
        code = normalise_uscc(uscc)
        name = clean_name(name, "name")
        crypto.check_password_strength(password)
        passphrase: bytes | None = None
        if address is not None and keystore is not None:
            raise InputError("give an external address or a keystore to import, not both")
        if address is not None:
            holder = checksum(address)
            custody, ks_json = "external", None
        elif keystore is not None:
            if not keystore_passphrase:
                raise InputError("keystorePassphrase is needed to import the keystore")
            acct = crypto.open_keystore(crypto.parse_keystore(keystore), keystore_passphrase)
            passphrase = crypto.new_passphrase()
            holder = str(acct.address)
            ks = crypto.encrypt_key(bytes(acct.key), passphrase, self.settings.keystore_scrypt_n)
            custody, ks_json = "custodial", json.dumps(ks)
        else:
            passphrase = crypto.new_passphrase()
            holder, ks = crypto.new_keystore(passphrase, self.settings.keystore_scrypt_n)
            custody, ks_json = "custodial", json.dumps(ks)
        salt = secrets.token_bytes(16)
        pw_hash = self.passwords.hash(password)
        kek = self.passwords.kek(password, salt)
        data_key = secrets.token_bytes(crypto.KEY_BYTES)
        try:
            with self.store.tx() as c:
                cur = c.execute(
                    "INSERT INTO enterprises (uscc, name, address, custody, keystore, data_key,"
                    " created_at) VALUES (?,?,?,?,?,?,?)",
                    (code, name, holder, custody, ks_json, b"", time.time()),
                )
                eid = int(cur.lastrowid or 0)
                c.execute(
                    "UPDATE enterprises SET data_key=? WHERE id=?",
                    (self.master.wrap_data_key(data_key, eid), eid),
                )
                pid = self._insert_person(
                    c, eid, LEGAL_REP_LOGIN, name, "legal_rep", pw_hash, salt, None
                )
                if passphrase is not None:
                    c.execute(
                        "UPDATE people SET wrapped_passphrase=? WHERE id=?",
                        (crypto.wrap(kek, passphrase, aad(pid)), pid),
                    )
                self.store.event(c, eid, LEGAL_REP_LOGIN, "registered", custody=custody)
        except sqlite3.IntegrityError:
            raise ConflictError(
                f"enterprise {code} (or address {holder}) is already registered in this wallet"
            ) from None
        return {
            "uscc": code,
            "name": name,
            "address": holder,
            "custody": custody,
            "login": LEGAL_REP_LOGIN,
            "role": "legal_rep",
        }

    def _insert_person(
        self,
        c: sqlite3.Connection,
        eid: int,
        login: str,
        name: str,
        role: Role,
        pw_hash: str,
        salt: bytes,
        created_by: int | None,
        **extra: Any,
    ) -> int:
        cur = c.execute(
            "INSERT INTO people (enterprise_id, login, name, role, password_hash, kek_salt,"
            " agent_address, agent_keystore, assets, actions, until, created_by, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                eid,
                login,
                name,
                role,
                pw_hash,
                salt,
                extra.get("agent_address"),
                extra.get("agent_keystore"),
                extra.get("assets"),
                extra.get("actions"),
                extra.get("until"),
                created_by,
                time.time(),
            ),
        )
        return int(cur.lastrowid or 0)

    # --- sessions (wallet/sessions.py) ---------------------------------------------------------

    def login(
        self, uscc: str, password: str, login: str | None = None, client: str = "?"
    ) -> dict[str, Any]:
        # an ID typed as a login (API or page) never reaches a throttle key, a log or an event
        refuse_personal_ids(login, "login")
        return self.sessions.login(uscc, password, login, client)

    def logout(self, caller: Caller) -> None:
        self.sessions.logout(caller)

    def authenticate(self, authorization: str | None) -> Caller:
        return self.sessions.authenticate(authorization)

    def signer(self, caller: Caller) -> LocalAccount | None:
        """The key this caller signs with (see :meth:`Sessions.signer`)."""
        return self.sessions.signer(caller)

    # --- people ---------------------------------------------------------------------------------

    def people(self, caller: Caller) -> list[dict[str, Any]]:
        caller.require("view")
        rows = self.store.all(
            "SELECT * FROM people WHERE enterprise_id=? ORDER BY id", caller.enterprise_id
        )
        return [
            person_json(r) for r in rows if caller.role != "agent" or r["id"] == caller.person_id
        ]

    def add_administrator(
        self, caller: Caller, login: str, name: str, password: str
    ) -> dict[str, Any]:
        caller.require("manage_admins")
        login = clean_login(login)
        name = clean_name(name, "name")
        crypto.check_password_strength(password)
        count = self.store.one(
            "SELECT COUNT(*) AS n FROM people WHERE enterprise_id=? AND role='admin'",
            caller.enterprise_id,
        )
        if count is not None and count["n"] >= self.settings.max_administrators:
            raise ConflictError(
                f"an enterprise has at most {self.settings.max_administrators} licence "
                "administrators; remove one first"
            )
        salt = secrets.token_bytes(16)
        pw_hash = self.passwords.hash(password)
        wrapped = None
        if caller.custody == "custodial":
            if caller._passphrase is None:
                raise ForbiddenError("the enterprise key is not open in this session; log in again")
            kek = self.passwords.kek(password, salt)
        try:
            with self.store.tx() as c:
                pid = self._insert_person(
                    c, caller.enterprise_id, login, name, "admin", pw_hash, salt, caller.person_id
                )
                if caller.custody == "custodial" and caller._passphrase is not None:
                    wrapped = crypto.wrap(kek, caller._passphrase, aad(pid))
                    c.execute("UPDATE people SET wrapped_passphrase=? WHERE id=?", (wrapped, pid))
                self.store.event(c, caller.enterprise_id, caller.login, "administrator-added",
                                 login=login)  # fmt: skip
        except sqlite3.IntegrityError:
            raise ConflictError(f"login {login} is already taken in this enterprise") from None
        return self.person(caller, login)

    def add_agent(
        self,
        caller: Caller,
        login: str,
        name: str,
        password: str,
        assets: list[str],
        actions: list[str],
        until: int,
    ) -> dict[str, Any]:
        caller.require("manage_agents")
        login = clean_login(login)
        name = clean_name(name, "name")
        crypto.check_password_strength(password)
        bad = [a for a in actions if a not in AGENT_ACTIONS]
        if bad or not actions:
            raise InputError(
                f"agent actions are some of {', '.join(AGENT_ACTIONS)}", field="actions"
            )
        if until <= time.time():
            raise InputError("until must be in the future", field="until")
        clean_assets = sorted({asset_hex(a) for a in assets})
        if not clean_assets:
            raise InputError("name at least one asset the agent acts on", field="assets")
        for a in clean_assets:
            row = self.store.one("SELECT enterprise_id FROM materials WHERE id=?", a)
            if row is not None and row["enterprise_id"] != caller.enterprise_id:
                raise NotFoundError(f"no asset {a} in this enterprise's wallet")
        salt = secrets.token_bytes(16)
        pw_hash = self.passwords.hash(password)
        kek = self.passwords.kek(password, salt)
        passphrase = crypto.new_passphrase()
        agent_addr, ks = crypto.new_keystore(passphrase, self.settings.keystore_scrypt_n)
        try:
            with self.store.tx() as c:
                pid = self._insert_person(
                    c, caller.enterprise_id, login, name, "agent", pw_hash, salt, caller.person_id,
                    agent_address=agent_addr, agent_keystore=json.dumps(ks),
                    assets=json.dumps(clean_assets), actions=json.dumps(sorted(set(actions))),
                    until=int(until),
                )  # fmt: skip
                c.execute(
                    "UPDATE people SET wrapped_passphrase=? WHERE id=?",
                    (crypto.wrap(kek, passphrase, aad(pid)), pid),
                )
                self.store.event(c, caller.enterprise_id, caller.login, "agent-authorised",
                                 login=login, assets=clean_assets, actions=sorted(set(actions)),
                                 until=int(until))  # fmt: skip
        except sqlite3.IntegrityError:
            raise ConflictError(f"login {login} is already taken in this enterprise") from None
        return self.person(caller, login)

    def remove_person(self, caller: Caller, login: str) -> None:
        row = self.store.one(
            "SELECT * FROM people WHERE enterprise_id=? AND login=?", caller.enterprise_id, login
        )
        if row is None:
            raise NotFoundError("no such person in this enterprise")
        if row["role"] == "legal_rep":
            raise ForbiddenError("the legal representative cannot be removed")
        caller.require("manage_admins" if row["role"] == "admin" else "manage_agents")
        with self.store.tx() as c:
            c.execute("DELETE FROM sessions WHERE person_id=?", (row["id"],))
            c.execute("DELETE FROM people WHERE id=?", (row["id"],))
            self.store.event(c, caller.enterprise_id, caller.login, f"{row['role']}-removed",
                             login=login)  # fmt: skip

    def person(self, caller: Caller, login: str) -> dict[str, Any]:
        row = self.store.one(
            "SELECT * FROM people WHERE enterprise_id=? AND login=?", caller.enterprise_id, login
        )
        if row is None or (caller.role == "agent" and row["id"] != caller.person_id):
            raise NotFoundError("no such person in this enterprise")
        return person_json(row)

    def me(self, caller: Caller) -> dict[str, Any]:
        return {
            "uscc": caller.uscc,
            "enterprise": caller.enterprise_name,
            "address": caller.address,
            "custody": caller.custody,
            "role": caller.role,
            "login": caller.login,
            "name": caller.name,
            "expiresAt": int(caller.expires_at),
            "keyUnlocked": caller._passphrase is not None,
            **({"agentAddress": caller.agent_address} if caller.agent_address else {}),
        }

    # --- keys -----------------------------------------------------------------------------------

    def export_key(self, caller: Caller, password: str, new_passphrase: str) -> dict[str, Any]:
        """The enterprise key as a keystore v3 under a new passphrase (re-checks the password)."""
        caller.require("export_key")
        if caller.custody != "custodial":
            raise ConflictError("this enterprise's key is external; the wallet holds no key")
        row = self.store.one("SELECT password_hash FROM people WHERE id=?", caller.person_id)
        # a session's wrong passwords count as a client's failures on the account
        keys = self.throttle.admit(f"{caller.uscc}:{caller.login}", caller.token_hash[:16])
        ok = self.passwords.verify(row["password_hash"] if row else None, password)
        self.throttle.done(keys, failed=not ok)
        if not ok:
            raise UnauthorizedError("wrong password")
        crypto.check_password_strength(new_passphrase)
        acct = self.signer(caller)
        if acct is None:
            raise ForbiddenError("the enterprise key is not open in this session; log in again")
        ks = crypto.encrypt_key(bytes(acct.key), new_passphrase, self.settings.keystore_scrypt_n)
        with self.store.tx() as c:
            self.store.event(c, caller.enterprise_id, caller.login, "key-exported")
        return {"address": caller.address, "keystore": ks}

    def enterprise_row(self, enterprise_id: int) -> sqlite3.Row:
        row = self.store.one("SELECT * FROM enterprises WHERE id=?", enterprise_id)
        if row is None:
            raise NotFoundError("no such enterprise")
        return row

    def enterprise_by_uscc(self, uscc: str) -> sqlite3.Row:
        code = normalise_uscc(uscc)
        row = self.store.one("SELECT * FROM enterprises WHERE uscc=?", code)
        if row is None:
            raise NotFoundError(f"enterprise {code} has no account in this wallet")
        return row

    def enterprise_by_address(self, address: str) -> sqlite3.Row | None:
        return self.store.one("SELECT * FROM enterprises WHERE address=?", checksum(address))
