"""Enterprise accounts, people and roles, sessions and custodial keys.

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
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address

from credledger.node.core.errors import (
    ConflictError,
    ForbiddenError,
    InputError,
    NotFoundError,
    UnauthorizedError,
)
from credledger.node.core.identifiers import normalise_uscc
from credledger.wallet import crypto
from credledger.wallet.errors import TooManyAttemptsError
from credledger.wallet.scan import refuse_personal_ids
from credledger.wallet.settings import SecuritySettings
from credledger.wallet.store import WalletStore

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


class LoginThrottle:
    """At most ``limit`` failed logins per key (account, client address) per sliding window."""

    #: a client address may fail this many times more often than one account
    CLIENT_FACTOR = 20

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def check(self, keys: Iterable[str]) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                q = self._recent(key, now)
                limit = self.limit * (self.CLIENT_FACTOR if key.startswith("client:") else 1)
                if len(q) >= limit:
                    wait = int(q[0] + self.window - now) + 1
                    raise TooManyAttemptsError(
                        f"too many failed logins; try again in {wait} s", retry_after=wait
                    )

    def fail(self, keys: Iterable[str]) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)


def checksum(address: str, field_name: str = "address") -> str:
    if not isinstance(address, str) or not is_address(address):
        raise InputError(f"{field_name} is not an Ethereum address", field=field_name)
    return str(to_checksum_address(address))


class AccountService:
    def __init__(self, store: WalletStore, settings: SecuritySettings, master: crypto.MasterKey):
        self.store = store
        self.settings = settings
        self.master = master
        self.passwords = crypto.Passwords(
            crypto.KdfParams(
                settings.argon2_time_cost,
                settings.argon2_memory_kib,
                settings.argon2_parallelism,
                settings.keystore_scrypt_n,
            )
        )
        self.throttle = LoginThrottle(settings.login_failures, settings.login_window)
        # unlocked accounts by session token hash (opened lazily; dropped on logout)
        self._unlocked: OrderedDict[str, LocalAccount] = OrderedDict()
        self._unlocked_lock = threading.Lock()
        self._open_lock = threading.Lock()

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
        name = _clean_name(name, "name")
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
                        (crypto.wrap(kek, passphrase, _aad(pid)), pid),
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

    # --- sessions -------------------------------------------------------------------------------

    def login(
        self, uscc: str, password: str, login: str | None = None, client: str = "?"
    ) -> dict[str, Any]:
        code = normalise_uscc(uscc)
        who = (login or LEGAL_REP_LOGIN).strip().lower()
        keys = [f"account:{code}:{who}", f"client:{client}"]
        self.throttle.check(keys)
        row = self.store.one(
            "SELECT p.* FROM people p JOIN enterprises e ON e.id = p.enterprise_id"
            " WHERE e.uscc=? AND p.login=?",
            code,
            who,
        )
        if not self.passwords.verify(row["password_hash"] if row else None, password) or not row:
            self.throttle.fail(keys)
            raise UnauthorizedError("wrong USCC, login or password")
        if row["role"] == "agent" and row["until"] is not None and row["until"] <= time.time():
            raise ForbiddenError(f"agent {who}'s authorisation ended; ask an administrator")
        self.throttle.clear(keys[0])
        token = crypto.new_token()
        th = crypto.hash_token(token)
        wrapped_for_session: bytes | None = None
        if row["wrapped_passphrase"] is not None:
            kek = self.passwords.kek(password, bytes(row["kek_salt"]))
            passphrase = crypto.unwrap(kek, bytes(row["wrapped_passphrase"]), _aad(row["id"]))
            wrapped_for_session = crypto.wrap(crypto.token_key(token), passphrase, th.encode())
        now = time.time()
        expires = now + self.settings.session_ttl
        with self.store.tx() as c:
            c.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            c.execute(
                "INSERT INTO sessions (token_hash, person_id, created_at, expires_at,"
                " wrapped_passphrase) VALUES (?,?,?,?,?)",
                (th, row["id"], now, expires, wrapped_for_session),
            )
        return {
            "token": token,
            "expiresAt": int(expires),
            "role": row["role"],
            "login": row["login"],
        }

    def logout(self, caller: Caller) -> None:
        with self.store.tx() as c:
            c.execute("DELETE FROM sessions WHERE token_hash=?", (caller.token_hash,))
        with self._unlocked_lock:
            self._unlocked.pop(caller.token_hash, None)

    def authenticate(self, authorization: str | None) -> Caller:
        if authorization is None or not authorization.strip():
            raise UnauthorizedError("log in first: send 'Authorization: Bearer <session token>'")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise UnauthorizedError("send the session token as 'Authorization: Bearer <token>'")
        th = crypto.hash_token(token)
        row = self.store.one(
            "SELECT s.expires_at, s.wrapped_passphrase AS session_wrap, p.*, e.uscc,"
            " e.name AS ename, e.address, e.custody FROM sessions s"
            " JOIN people p ON p.id = s.person_id JOIN enterprises e ON e.id = p.enterprise_id"
            " WHERE s.token_hash=?",
            th,
        )
        if row is None:
            raise UnauthorizedError("this session is not known (logged out?); log in again")
        if row["expires_at"] <= time.time():
            raise UnauthorizedError("this session expired; log in again")
        passphrase = None
        if row["session_wrap"] is not None:
            passphrase = crypto.unwrap(
                crypto.token_key(token), bytes(row["session_wrap"]), th.encode()
            )
        return Caller(
            person_id=row["id"],
            enterprise_id=row["enterprise_id"],
            uscc=row["uscc"],
            enterprise_name=row["ename"],
            address=row["address"],
            custody=row["custody"],
            role=row["role"],
            login=row["login"],
            name=row["name"],
            token_hash=th,
            expires_at=row["expires_at"],
            agent_assets=frozenset(a.lower() for a in json.loads(row["assets"] or "[]")),
            agent_actions=frozenset(json.loads(row["actions"] or "[]")),
            agent_until=row["until"],
            agent_address=row["agent_address"],
            _passphrase=passphrase,
        )

    def signer(self, caller: Caller) -> LocalAccount | None:
        """The key this caller signs with: the enterprise's (legal rep, admin) or their own
        (agent); None for a non-custodial enterprise's people."""
        if caller._passphrase is None:
            return None
        with self._unlocked_lock:
            acct = self._unlocked.get(caller.token_hash)
            if acct is not None:
                self._unlocked.move_to_end(caller.token_hash)
                return acct
        # one scrypt at a time (N=2**18 takes 256 MiB): concurrent requests of a new session
        # wait for the first to open the key instead of each opening it again
        with self._open_lock:
            with self._unlocked_lock:
                acct = self._unlocked.get(caller.token_hash)
            if acct is not None:
                return acct
            return self._open(caller)

    def _open(self, caller: Caller) -> LocalAccount | None:
        assert caller._passphrase is not None
        if caller.role == "agent":
            row = self.store.one("SELECT agent_keystore FROM people WHERE id=?", caller.person_id)
            ks = row["agent_keystore"] if row else None
        else:
            row = self.store.one(
                "SELECT keystore FROM enterprises WHERE id=?", caller.enterprise_id
            )
            ks = row["keystore"] if row else None
        if ks is None:
            return None
        acct = crypto.open_keystore(json.loads(ks), caller._passphrase)
        with self._unlocked_lock:
            self._unlocked[caller.token_hash] = acct
            while len(self._unlocked) > 1024:
                self._unlocked.popitem(last=False)
        return acct

    # --- people ---------------------------------------------------------------------------------

    def people(self, caller: Caller) -> list[dict[str, Any]]:
        caller.require("view")
        rows = self.store.all(
            "SELECT * FROM people WHERE enterprise_id=? ORDER BY id", caller.enterprise_id
        )
        return [
            _person_json(r) for r in rows if caller.role != "agent" or r["id"] == caller.person_id
        ]

    def add_administrator(
        self, caller: Caller, login: str, name: str, password: str
    ) -> dict[str, Any]:
        caller.require("manage_admins")
        login = _clean_login(login)
        name = _clean_name(name, "name")
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
                    wrapped = crypto.wrap(kek, caller._passphrase, _aad(pid))
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
        login = _clean_login(login)
        name = _clean_name(name, "name")
        crypto.check_password_strength(password)
        bad = [a for a in actions if a not in AGENT_ACTIONS]
        if bad or not actions:
            raise InputError(
                f"agent actions are some of {', '.join(AGENT_ACTIONS)}", field="actions"
            )
        if until <= time.time():
            raise InputError("until must be in the future", field="until")
        clean_assets = sorted({_asset_hex(a) for a in assets})
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
                    (crypto.wrap(kek, passphrase, _aad(pid)), pid),
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
            raise NotFoundError(f"no person {login} in this enterprise")
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
            raise NotFoundError(f"no person {login} in this enterprise")
        return _person_json(row)

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
        if not self.passwords.verify(row["password_hash"] if row else None, password):
            self.throttle.fail([f"account:{caller.uscc}:{caller.login}"])
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


def _aad(person_id: int) -> bytes:
    return b"person:%d" % person_id


def _person_json(row: sqlite3.Row) -> dict[str, Any]:
    body: dict[str, Any] = {"login": row["login"], "name": row["name"], "role": row["role"]}
    if row["role"] == "agent":
        body.update(
            address=row["agent_address"],
            assets=json.loads(row["assets"] or "[]"),
            actions=json.loads(row["actions"] or "[]"),
            until=row["until"],
        )
    return body


def _clean_login(login: str) -> str:
    import re

    login = (login or "").strip().lower()
    if not re.match(LOGIN_PATTERN, login) or login == LEGAL_REP_LOGIN:
        raise InputError(
            "login: 2-40 characters a-z 0-9 . _ -, starting with a letter or digit", field="login"
        )
    return login


def _clean_name(name: str, where: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InputError(f"{where} must have 1-200 characters", field=where)
    refuse_personal_ids(name, where)
    return name


def _asset_hex(asset: str) -> str:
    from credledger.node.core.receipts import hex32, parse_hash

    return hex32(parse_hash(asset)).lower()
