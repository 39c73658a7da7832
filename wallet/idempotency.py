"""Idempotent grant requests: ``Idempotency-Key`` on ``POST /v1/grants``.

The key and the hash of the request are committed *before* anything is relayed; the signed request
(nonce, deadline, signature) is committed before it is relayed; the answer when the grant is
recorded. A retry with the same key

* answers the stored answer (the first request finished),
* waits for the first (it is still running in this process; up to :data:`WAIT` seconds, then 409),
* or resumes it (the wallet died in between): if the slot holds an active grant with the
  request's terms, that grant is the answer; otherwise the stored signed request is relayed again
  while its nonce is current — the chain takes a signed request once, so it never makes a second
  grant — or, with no signed request stored, nothing was relayed and the request runs anew.

The same key with a different request answers 409 ``idempotency_key_reused``. A request the chain
or the wallet refused (4xx) is forgotten, so it can be corrected and sent again with its key.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import astuple
from typing import Any

from credledger.node.core.errors import ConflictError, CredledgerError, InputError
from credledger.wallet.accounts import Caller
from credledger.wallet.scan import refuse_personal_ids
from credledger.wallet.store import WalletStore

#: ``GrantService.relay(caller, item, on_signed, signed)``
Relay = Callable[
    [Caller, Any, Callable[[int, int, bytes], None], tuple[int, int, bytes] | None],
    dict[str, Any],
]

KEY_MAX = 200  # characters of an Idempotency-Key
WAIT = 30.0  # seconds a retry waits for the first request still running here


class IdempotencyKeyReused(ConflictError):
    code = "idempotency_key_reused"


class RequestInProgress(ConflictError):
    code = "request_in_progress"


def check_key(value: str) -> str:
    key = value.strip()
    if not 1 <= len(key) <= KEY_MAX or not all(33 <= ord(ch) < 127 for ch in key):
        raise InputError(
            f"Idempotency-Key: 1 to {KEY_MAX} visible ASCII characters", field="Idempotency-Key"
        )
    refuse_personal_ids(key, "Idempotency-Key")
    return key


def request_hash(item: Any) -> str:
    """SHA-256 of a ``GrantInput`` (a dataclass) as the client sent it."""
    return hashlib.sha256(json.dumps(astuple(item), default=str).encode()).hexdigest()


class GrantRequests:
    """The ``grant_requests`` table and the retries it answers."""

    def __init__(self, store: WalletStore, relay: Relay) -> None:
        self.store = store
        self.relay = relay
        self._running: set[tuple[int, str]] = set()
        self._lock = threading.Lock()

    def once(self, caller: Caller, item: Any, raw_key: str) -> dict[str, Any]:
        key = check_key(raw_key)
        ident = (caller.enterprise_id, key)
        until = time.monotonic() + WAIT
        while True:
            with self._lock:
                if ident not in self._running:
                    self._running.add(ident)
                    break
            if time.monotonic() > until:
                raise RequestInProgress(
                    "a request with this Idempotency-Key is still running; retry later"
                )
            time.sleep(0.05)
        try:
            return self._once(caller, item, key)
        finally:
            with self._lock:
                self._running.discard(ident)

    def _once(self, caller: Caller, item: Any, key: str) -> dict[str, Any]:
        h = request_hash(item)
        ent = caller.enterprise_id
        row = self.store.one(
            "SELECT * FROM grant_requests WHERE enterprise_id=? AND idem_key=?", ent, key
        )
        signed: tuple[int, int, bytes] | None = None
        if row is None:
            with self.store.tx() as c:
                c.execute(
                    "INSERT INTO grant_requests (enterprise_id, idem_key, request_hash,"
                    " created_at) VALUES (?,?,?,?)",
                    (ent, key, h, time.time()),
                )
        elif row["request_hash"] != h:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with a different request; use a new key"
            )
        elif row["answer"] is not None:
            first: dict[str, Any] = json.loads(row["answer"])
            return first
        elif row["signature"]:
            signed = (int(row["nonce"]), int(row["deadline"]), bytes.fromhex(row["signature"]))

        def on_signed(nonce: int, deadline: int, signature: bytes) -> None:
            with self.store.tx() as c:
                c.execute(
                    "UPDATE grant_requests SET nonce=?, deadline=?, signature=?"
                    " WHERE enterprise_id=? AND idem_key=?",
                    (str(nonce), deadline, signature.hex(), ent, key),
                )

        try:
            out = self.relay(caller, item, on_signed, signed)
        except CredledgerError as exc:
            if 400 <= exc.http_status < 500:  # refused: nothing on chain, may be sent again
                with self.store.tx() as c:
                    c.execute(
                        "DELETE FROM grant_requests WHERE enterprise_id=? AND idem_key=?",
                        (ent, key),
                    )
            raise
        with self.store.tx() as c:
            c.execute(
                "UPDATE grant_requests SET grant_id=?, status=201, answer=?, done_at=?"
                " WHERE enterprise_id=? AND idem_key=?",
                (out["grantId"], json.dumps(out), time.time(), ent, key),
            )
        return out
