"""Sign-in and sessions: the throttle of failed sign-ins, session tokens, and the custodial keys
an open session unlocks.

A session token is stored only as its SHA-256; the keystore passphrase of the enterprise (or of
an agent's own key) is wrapped for the session with a key derived from the token, so the wallet
can sign only while the session is open. Opened keys are cached per session (at most 1,024) and
dropped on logout.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from eth_account.signers.local import LocalAccount

from credledger.node.core.errors import ForbiddenError, UnauthorizedError
from credledger.node.core.http.ratelimit import RateLimitedError, RateLimiter
from credledger.node.core.identifiers import normalise_uscc
from credledger.wallet import crypto
from credledger.wallet.callers import LEGAL_REP_LOGIN, Caller, aad
from credledger.wallet.errors import TooManyAttemptsError
from credledger.wallet.settings import SecuritySettings
from credledger.wallet.store import WalletStore


class LoginThrottle:
    """At most ``limit`` failed sign-ins per key (``account:…``, ``client:…``) in any ``window``
    seconds, counted exactly (the shared :class:`RateLimiter`'s moving window); a success
    spends nothing and clears the account's count."""

    #: a client address may fail this many times more often than one account
    CLIENT_FACTOR = 20

    def __init__(self, limit: int, window: float) -> None:
        seconds = max(1, math.ceil(window))
        what = "failed logins"
        self._accounts = RateLimiter(f"{limit}/{seconds} seconds", what=what, exact=True)
        self._clients = RateLimiter(
            f"{limit * self.CLIENT_FACTOR}/{seconds} seconds", what=what, exact=True
        )

    def _of(self, key: str) -> RateLimiter:
        return self._clients if key.startswith("client:") else self._accounts

    def check(self, keys: Iterable[str]) -> None:
        """Raise :class:`TooManyAttemptsError` (429 + Retry-After) while any key is over."""
        for key in keys:
            wait = self._of(key).wait_time(key)
            if wait > 0:
                retry = max(1, math.ceil(wait))
                raise TooManyAttemptsError(
                    f"too many failed logins; try again in {retry} s", retry_after=retry
                )

    def fail(self, keys: Iterable[str]) -> None:
        for key in keys:
            with contextlib.suppress(RateLimitedError):  # already over: the next check refuses
                self._of(key).take(key)

    def clear(self, key: str) -> None:
        self._of(key).clear(key)


class Sessions:
    """Sign-in, session tokens and the keys they unlock."""

    def __init__(
        self,
        store: WalletStore,
        settings: SecuritySettings,
        passwords: crypto.Passwords,
        throttle: LoginThrottle,
    ) -> None:
        self.store = store
        self.settings = settings
        self.passwords = passwords
        self.throttle = throttle
        # unlocked accounts by session token hash (opened lazily; dropped on logout)
        self._unlocked: OrderedDict[str, LocalAccount] = OrderedDict()
        self._unlocked_lock = threading.Lock()
        self._open_lock = threading.Lock()

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
            passphrase = crypto.unwrap(kek, bytes(row["wrapped_passphrase"]), aad(row["id"]))
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
