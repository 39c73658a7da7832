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
import logging
import math
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator
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

log = logging.getLogger("credledger.wallet.sessions")
#: seconds a sign-in waits for a hashing slot before it is answered 429
HASH_QUEUE_SECONDS = 10.0


def hashing_slots() -> int:
    """Password hashes run at once: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class BoundedPasswords(crypto.Passwords):
    """:class:`~credledger.wallet.crypto.Passwords` whose argon2 runs (hash, verify, key
    derivation: 64 MiB each by default) take one of :func:`hashing_slots` slots: a burst of
    sign-ins, registrations or password changes queues instead of hashing in parallel, bounding
    memory. A caller that waits :data:`HASH_QUEUE_SECONDS` for a slot gets
    :class:`TooManyAttemptsError` (429, retry in 1 s)."""

    def __init__(self, params: crypto.KdfParams, slots: int | None = None) -> None:
        super().__init__(params)
        self._slots = threading.BoundedSemaphore(slots or hashing_slots())

    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=HASH_QUEUE_SECONDS):
            raise TooManyAttemptsError("too many sign-ins at once; try again in 1 s", retry_after=1)
        try:
            yield
        finally:
            self._slots.release()

    def hash(self, password: str) -> str:
        with self._slot():
            return super().hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        with self._slot():
            return super().verify(stored, password)

    def kek(self, password: str, salt: bytes) -> bytes:
        with self._slot():
            return super().kek(password, salt)


class LoginThrottle:
    """Who may try a password now: failed sign-ins counted per (account, client), per client and
    per account, each in any ``window`` seconds, exactly (the shared :class:`RateLimiter`'s
    moving window). What it promises (docs/wallet.md, "Signing in"):

    - one client (address) gets at most ``limit`` evaluated wrong passwords for one account in
      any window, and at most ``limit * CLIENT_FACTOR`` over all accounts — under any
      concurrency: an attempt is admitted, under one lock, only while its failures *plus the
      attempts of the same key still being checked* are under the limit;
    - another client's failures never refuse the rightful user: a client with no failure on the
      account in the window is always admitted (only the hashing queue may make it wait);
    - once an account has ``limit * ACCOUNT_FACTOR`` failures in the window (many addresses
      guessing), each client that has failed on it once is refused for the rest of the window:
      every further address gets one guess, not ``limit``;
    - a success clears the (account, client) count; it spends nothing.
    """

    #: a client may fail this many times more often over all accounts than on one
    CLIENT_FACTOR = 20
    #: failures on one account from all clients before each client gets one guess
    ACCOUNT_FACTOR = 20

    def __init__(self, limit: int, window: float) -> None:
        seconds = max(1, math.ceil(window))
        what = "failed logins"
        self.limit = limit
        self._pairs = RateLimiter(f"{limit}/{seconds} seconds", what=what, exact=True)
        self._clients = RateLimiter(
            f"{limit * self.CLIENT_FACTOR}/{seconds} seconds", what=what, exact=True
        )
        self._accounts = RateLimiter(
            f"{limit * self.ACCOUNT_FACTOR}/{seconds} seconds", what=what, exact=True
        )
        self._lock = threading.Lock()
        self._checking: Counter[str] = Counter()  # attempts admitted and not yet decided

    def admit(self, account: str, client: str) -> tuple[str, str, str]:
        """Admit one attempt of ``client`` on ``account`` (its keys; pass them to :meth:`done`)
        or raise :class:`TooManyAttemptsError` (429 + Retry-After) without evaluating it."""
        pair, who, acct = f"pair:{account}|{client}", f"client:{client}", f"account:{account}"
        with self._lock:
            waits = [
                self._pairs.wait_time(pair, 1 + self._checking[pair]),
                self._clients.wait_time(who, 1 + self._checking[who]),
            ]
            tried = self._checking[pair] > 0 or self._pairs.wait_time(pair, self.limit) > 0
            if tried:
                waits.append(self._accounts.wait_time(acct))
            if max(waits) > 0:
                # (over only because of attempts still being checked: ask again in a second)
                retry = max(1, math.ceil(self._wait_spent(pair, who, acct, tried)))
                raise TooManyAttemptsError(
                    f"too many failed logins; try again in {retry} s", retry_after=retry
                )
            self._checking[pair] += 1
            self._checking[who] += 1
        return pair, who, acct

    def _wait_spent(self, pair: str, who: str, acct: str, tried: bool) -> float:
        waits = [self._pairs.wait_time(pair), self._clients.wait_time(who)]
        if tried:  # until the account is under its ceiling or this client's failures expire
            acct_wait = self._accounts.wait_time(acct)
            waits.append(
                min(acct_wait, self._pairs.wait_time(pair, self.limit)) if acct_wait else 0
            )
        return max(waits)

    def done(self, keys: tuple[str, str, str], *, failed: bool | None) -> None:
        """The attempt was decided: ``failed`` (counted), a success (the pair's count cleared) or
        ``None`` (not evaluated: nothing counted)."""
        pair, who, acct = keys
        with self._lock:
            for key in (pair, who):
                self._checking[key] -= 1
                if self._checking[key] <= 0:
                    del self._checking[key]
            if failed:
                for limiter, key in ((self._pairs, pair), (self._clients, who),
                                     (self._accounts, acct)):  # fmt: skip
                    with contextlib.suppress(RateLimitedError):  # over: the next admit refuses
                        limiter.take(key)
            elif failed is False:
                self._pairs.clear(pair)


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
        self._count_lock = threading.Lock()
        #: passwords evaluated since start (the wallet's /health shows it)
        self.password_checks = 0

    def login(
        self, uscc: str, password: str, login: str | None = None, client: str = "?"
    ) -> dict[str, Any]:
        code = normalise_uscc(uscc)
        who = (login or LEGAL_REP_LOGIN).strip().lower()
        keys = self.throttle.admit(f"{code}:{who}", client)
        failed: bool | None = None  # not evaluated (no hashing slot: BoundedPasswords)
        try:
            row = self.store.one(
                "SELECT p.* FROM people p JOIN enterprises e ON e.id = p.enterprise_id"
                " WHERE e.uscc=? AND p.login=?",
                code,
                who,
            )
            ok = self.passwords.verify(row["password_hash"] if row else None, password)
            with self._count_lock:
                self.password_checks += 1
            failed = not ok or row is None
            if failed or row is None:
                log.warning(
                    "failed sign-in (account %s, client %s)",
                    crypto.hash_token(f"{code}:{who}")[:12],
                    client,
                )
                raise UnauthorizedError("wrong USCC, login or password")
            if row["wrapped_passphrase"] is not None:
                kek = self.passwords.kek(password, bytes(row["kek_salt"]))
        finally:
            self.throttle.done(keys, failed=failed)
        if row["role"] == "agent" and row["until"] is not None and row["until"] <= time.time():
            raise ForbiddenError(f"agent {who}'s authorisation ended; ask an administrator")
        token = crypto.new_token()
        th = crypto.hash_token(token)
        wrapped_for_session: bytes | None = None
        if row["wrapped_passphrase"] is not None:
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
