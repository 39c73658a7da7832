"""Stateful property tests (hypothesis RuleBasedStateMachine) against the real contracts on anvil.

Each example starts from an anvil snapshot of the deployed, configured contracts and is reverted
afterwards. The rules call the contracts as different actors, a plain Python model predicts the
outcome of every call (success or the exact custom error), and the invariants compare the chain with
the model after every step:

LicenceMachine
  1. every licence's status on chain is the model's (NotFound for ids never issued);
  2. revoked is final: a licence once revoked is revoked forever;
  3. the version is 1 + the number of amendments;
  4. exactly the latest document hash is current;
  5. the stored issuer is the key that issued it;
  6. only authorised keys changed a licence (every lifecycle event's `by` was allowed then);
  7. a type's issuer never touched another type's licences.
AnchorConsentMachine
  8. an anchored root's time never changes, and a non-anchorer's root never counts;
  9. uses never exceed the maximum;
  10. a grant is usable exactly when granted, not revoked, not expired and not exhausted;
  11. a holder's nonce counts its accepted signatures, and no signature is accepted twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_hash.auto import keccak
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from credledger.node.contracts.anchor_registry import ANCHORER_ROLE, RootAlreadyAnchored
from credledger.node.contracts.consent_registry import (
    GrantExhausted,
    GrantExpired,
    GrantNotFound,
    InvalidSignature,
    purpose_of,
)
from credledger.node.contracts.eip712 import GrantRequest
from credledger.node.contracts.licence_registry import (
    IssueRequest,
    LicenceExists,
    LicenceIsRevoked,
    LicenceNotActive,
    LicenceNotFound,
    LicenceNotSuspended,
    LicenceStatus,
    NotAuthorised,
    NotIssuer,
    licence_id_of,
)
from credledger.node.contracts.openzeppelin import AccessControlUnauthorizedAccount
from credledger.node.errors import ContractRevert
from tests.contracts.conftest import BL, FOOD, Env, now, warp
from tests.contracts.helpers import _norm

SETTINGS = settings(
    # NO_SHRINK=1 reports the first failing run at once (shrinking a chain run takes minutes)
    phases=[p for p in Phase if p is not Phase.shrink or not os.environ.get("NO_SHRINK")],
    max_examples=10,
    stateful_step_count=14,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

ACTORS = ["issuer", "issuer2", "supervisor", "outsider"]
TYPES = {"FOOD": FOOD, "BL": BL}
DOCS = [keccak(f"doc {i}".encode()) for i in range(4)]
HOLDER = keccak(b"subject:stateful")


def outcome(call: Any) -> tuple[str, tuple[Any, ...]] | None:
    """None if the call succeeded, else (error name, args)."""
    try:
        call()
    except ContractRevert as err:
        return err.error_name, _norm(tuple(err.error_args))
    return None


def error(cls: type[ContractRevert], *args: Any) -> tuple[str, tuple[Any, ...]]:
    return cls.__name__, _norm(args)


@dataclass
class ModelLicence:
    type_name: str
    issuer: str
    status: LicenceStatus = LicenceStatus.ACTIVE
    version: int = 1
    doc: bytes = DOCS[0]
    docs_seen: set[bytes] = field(default_factory=set)
    ever_revoked: bool = False


class LicenceMachine(RuleBasedStateMachine):
    env: Env  # set by the test function

    def __init__(self) -> None:
        super().__init__()
        self.snap = self.env.snapshot()
        # roles per type, as configured by build_env: issuer2 may lose FOOD during a run
        self.issuers: dict[str, set[str]] = {"FOOD": {"issuer", "issuer2"}, "BL": {"issuer"}}
        self.supervisors: dict[str, set[str]] = {"FOOD": {"supervisor"}, "BL": set()}
        self.licences: dict[bytes, ModelLicence] = {}
        self.tried: set[bytes] = set()
        self.changes: list[tuple[str, bytes, bool]] = []  # (by, licence, allowed then)

    def teardown(self) -> None:
        self.env.revert(self.snap)

    def addr(self, actor: str) -> str:
        return self.env.addr(actor)

    # --- rules ---

    @rule(
        actor=st.sampled_from(ACTORS),
        type_name=st.sampled_from(list(TYPES)),
        serial=st.integers(0, 3),
    )
    def issue(self, actor: str, type_name: str, serial: int) -> None:
        type_id = TYPES[type_name]
        sn = serial.to_bytes(32, "big")
        lid = licence_id_of(type_id, sn)
        self.tried.add(lid)
        t = now(self.env.chain)
        req = IssueRequest(type_id, sn, HOLDER, DOCS[0], t - 1, 0)
        got = outcome(lambda: self.env.licences(actor).issue(req))
        if actor not in self.issuers[type_name]:
            assert got == error(NotIssuer, type_id, self.addr(actor))
        elif lid in self.licences:
            assert got == error(LicenceExists, lid)
        else:
            assert got is None
            self.licences[lid] = ModelLicence(type_name, actor, docs_seen={DOCS[0]})

    def _may(self, actor: str, lic: ModelLicence, supervisors_too: bool) -> bool:
        if actor == lic.issuer or actor in self.issuers[lic.type_name]:
            return True
        return supervisors_too and actor in self.supervisors[lic.type_name]

    def _change(
        self,
        actor: str,
        index: int,
        supervisors_too: bool,
        call: Any,
        expected_error: Any,
        apply: Any,
    ) -> None:
        ids = sorted(self.tried) or [licence_id_of(FOOD, b"\xff" * 32)]
        lid = ids[index % len(ids)]
        lic = self.licences.get(lid)
        got = outcome(lambda: call(self.env.licences(actor), lid))
        if lic is None:
            assert got == error(LicenceNotFound, lid)
            return
        if not self._may(actor, lic, supervisors_too):
            assert got == error(NotAuthorised, lid, self.addr(actor))
            return
        err = expected_error(lid, lic)
        assert got == err, (got, err)
        if err is None:
            apply(lic)
            self.changes.append((actor, lid, True))

    @rule(actor=st.sampled_from(ACTORS), index=st.integers(0, 7))
    def suspend(self, actor: str, index: int) -> None:
        def expected(lid: bytes, lic: ModelLicence) -> Any:
            if lic.status is not LicenceStatus.ACTIVE:
                return error(LicenceNotActive, lid, lic.status)
            return None

        def apply(lic: ModelLicence) -> None:
            lic.status = LicenceStatus.SUSPENDED

        self._change(actor, index, True, lambda c, lid: c.suspend(lid, 1), expected, apply)

    @rule(actor=st.sampled_from(ACTORS), index=st.integers(0, 7))
    def reinstate(self, actor: str, index: int) -> None:
        def expected(lid: bytes, lic: ModelLicence) -> Any:
            if lic.status is not LicenceStatus.SUSPENDED:
                return error(LicenceNotSuspended, lid, lic.status)
            return None

        def apply(lic: ModelLicence) -> None:
            lic.status = LicenceStatus.ACTIVE

        self._change(actor, index, True, lambda c, lid: c.reinstate(lid), expected, apply)

    @rule(actor=st.sampled_from(ACTORS), index=st.integers(0, 7))
    def revoke(self, actor: str, index: int) -> None:
        def expected(lid: bytes, lic: ModelLicence) -> Any:
            if lic.status is LicenceStatus.REVOKED:
                return error(LicenceIsRevoked, lid, lic.status)
            return None

        def apply(lic: ModelLicence) -> None:
            lic.status = LicenceStatus.REVOKED
            lic.ever_revoked = True

        self._change(actor, index, False, lambda c, lid: c.revoke(lid, 2), expected, apply)

    @rule(actor=st.sampled_from(ACTORS), index=st.integers(0, 7), doc=st.integers(0, 3))
    def amend(self, actor: str, index: int, doc: int) -> None:
        def expected(lid: bytes, lic: ModelLicence) -> Any:
            if lic.status is LicenceStatus.REVOKED:
                return error(LicenceIsRevoked, lid, lic.status)
            return None

        def apply(lic: ModelLicence) -> None:
            lic.version += 1
            lic.doc = DOCS[doc]
            lic.docs_seen.add(DOCS[doc])

        self._change(
            actor, index, False, lambda c, lid: c.amend(lid, DOCS[doc], 0), expected, apply
        )

    @precondition(lambda self: "issuer2" in self.issuers["FOOD"])
    @rule()
    def deauthorise_issuer2(self) -> None:
        self.env.licences().set_authorisation(FOOD, self.addr("issuer2"), 0)
        self.issuers["FOOD"].discard("issuer2")

    # --- invariants ---

    @invariant()
    def statuses_match_the_model(self) -> None:
        lic = self.env.licences()
        for lid in self.tried:
            expected = (
                self.licences[lid].status if lid in self.licences else LicenceStatus.NOT_FOUND
            )
            assert lic.status_of(lid) is expected

    @invariant()
    def revoked_is_final(self) -> None:
        lic = self.env.licences()
        for lid, m in self.licences.items():
            if m.ever_revoked:
                assert lic.status_of(lid) is LicenceStatus.REVOKED

    @invariant()
    def versions_count_amendments_and_only_the_latest_doc_is_current(self) -> None:
        lic = self.env.licences()
        for lid, m in self.licences.items():
            got = lic.get_licence(lid)
            assert got is not None
            assert got.version == m.version
            assert got.doc_hash == m.doc
            for doc in DOCS:
                assert lic.is_current_document(lid, doc) == (doc == m.doc)

    @invariant()
    def stored_issuer_is_the_issuing_key(self) -> None:
        lic = self.env.licences()
        for lid, m in self.licences.items():
            got = lic.get_licence(lid)
            assert got is not None and got.issuer == self.addr(m.issuer)
            assert got.type_id == TYPES[m.type_name]

    @invariant()
    def only_authorised_keys_changed_licences(self) -> None:
        assert all(allowed for _, _, allowed in self.changes)
        assert not any(by == "outsider" for by, _, _ in self.changes)

    @invariant()
    def a_types_issuer_never_touches_another_types_licences(self) -> None:
        for by, lid, _ in self.changes:
            m = self.licences[lid]
            if m.type_name == "BL":
                assert by == "issuer"  # the only BL issuer; issuer2 and the supervisor are FOOD


@dataclass
class ModelGrant:
    expires_at: int
    max_uses: int
    uses: int = 0


GRANT_ASSETS = [keccak(f"asset {i}".encode()) for i in range(2)]
PURPOSE = purpose_of("LOAN-APPLICATION")
ROOTS = [keccak(f"root {i}".encode()) for i in range(3)]
DAY = 86400


class AnchorConsentMachine(RuleBasedStateMachine):
    env: Env

    def __init__(self) -> None:
        super().__init__()
        self.snap = self.env.snapshot()
        self.anchored: dict[bytes, int] = {}  # root -> time, anchored by an anchorer
        self.squatted: set[bytes] = set()  # roots written by a non-anchorer
        self.grants: dict[bytes, ModelGrant] = {}  # asset -> grant (holder -> grantee)
        self.accepted_sigs: list[tuple[GrantRequest, int, bytes]] = []
        self.nonce = 0

    def teardown(self) -> None:
        self.env.revert(self.snap)

    @property
    def holder(self) -> str:
        return self.env.addr("holder")

    @property
    def grantee(self) -> str:
        return self.env.addr("grantee")

    def t(self) -> int:
        return now(self.env.chain)

    def usable(self, g: ModelGrant) -> bool:
        return self.t() < g.expires_at and (g.max_uses == 0 or g.uses < g.max_uses)

    @rule(actor=st.sampled_from(["admin", "outsider"]), root=st.sampled_from(ROOTS))
    def anchor(self, actor: str, root: bytes) -> None:
        got = outcome(lambda: self.env.anchors(actor).anchor(root, 4))
        if root in self.anchored:
            assert got == error(RootAlreadyAnchored, root, self.anchored[root])
        elif actor == "admin":
            assert got is None  # also takes over a root an outsider wrote
            self.anchored[root] = self.env.anchors().anchored_at(root)
            self.squatted.discard(root)
        elif root in self.squatted:
            assert got == error(
                AccessControlUnauthorizedAccount, self.env.addr(actor), ANCHORER_ROLE
            )
        else:
            assert got is None  # recorded, but it does not count (invariant below)
            self.squatted.add(root)

    @rule(asset=st.integers(0, 1), max_uses=st.integers(0, 2), days=st.sampled_from([1, 30]))
    def grant(self, asset: int, max_uses: int, days: int) -> None:
        expires = self.t() + days * DAY
        req = GrantRequest(
            self.holder, GRANT_ASSETS[asset], self.grantee, PURPOSE, expires, max_uses
        )
        self.env.consents("holder").grant(req)
        self.grants[GRANT_ASSETS[asset]] = ModelGrant(expires, max_uses)

    @rule(asset=st.integers(0, 1), max_uses=st.integers(0, 2))
    def grant_by_sig(self, asset: int, max_uses: int) -> None:
        c = self.env.consents("relayer")
        req = GrantRequest(
            self.holder, GRANT_ASSETS[asset], self.grantee, PURPOSE, self.t() + 30 * DAY, max_uses
        )
        deadline = self.t() + 3600
        sig = c.sign_grant(self.env.accounts["holder"], req, deadline)
        c.grant_by_sig(req, deadline, sig)
        self.nonce += 1
        self.accepted_sigs.append((req, deadline, sig))
        self.grants[req.asset_id] = ModelGrant(req.expires_at, max_uses)

    @precondition(lambda self: bool(self.accepted_sigs))
    @rule(which=st.integers(0, 5))
    def replay_signature(self, which: int) -> None:
        req, deadline, sig = self.accepted_sigs[which % len(self.accepted_sigs)]
        got = outcome(lambda: self.env.consents("relayer").grant_by_sig(req, deadline, sig))
        assert got is not None and got[0] in {InvalidSignature.__name__, "SignatureExpired"}

    @rule(asset=st.integers(0, 1))
    def revoke(self, asset: int) -> None:
        a = GRANT_ASSETS[asset]
        got = outcome(lambda: self.env.consents("holder").revoke(a, self.grantee, PURPOSE))
        if a in self.grants:
            assert got is None
            del self.grants[a]
        else:
            assert got == error(GrantNotFound, self.holder, a, self.grantee, PURPOSE)

    @rule(asset=st.integers(0, 1))
    def consume(self, asset: int) -> None:
        a = GRANT_ASSETS[asset]
        got = outcome(lambda: self.env.consents("grantee").consume(self.holder, a, PURPOSE))
        g = self.grants.get(a)
        key = (self.holder, a, self.grantee, PURPOSE)
        if g is None:
            assert got == error(GrantNotFound, *key)
        elif self.t() >= g.expires_at:
            assert got == error(GrantExpired, *key, g.expires_at)
        elif g.max_uses and g.uses >= g.max_uses:
            assert got == error(GrantExhausted, *key, g.max_uses)
        else:
            assert got is None
            g.uses += 1

    @rule()
    def two_days_pass(self) -> None:
        warp(self.env.chain, 2 * DAY)

    @invariant()
    def anchored_roots_never_change(self) -> None:
        a = self.env.anchors()
        for root in ROOTS:
            assert a.anchored_at(root) == self.anchored.get(root, 0)

    @invariant()
    def uses_never_exceed_the_maximum(self) -> None:
        c = self.env.consents()
        for a in GRANT_ASSETS:
            g = c.get_grant(self.holder, a, self.grantee, PURPOSE)
            m = self.grants.get(a)
            assert (g is None) == (m is None)
            if g is not None and m is not None:
                assert g.uses == m.uses
                assert g.max_uses == 0 or g.uses <= g.max_uses

    @invariant()
    def usable_exactly_when_granted_unexpired_unexhausted(self) -> None:
        c = self.env.consents()
        for a in GRANT_ASSETS:
            m = self.grants.get(a)
            expected = m is not None and self.usable(m)
            assert c.is_authorized(self.holder, a, self.grantee, PURPOSE) == expected

    @invariant()
    def nonce_counts_accepted_signatures(self) -> None:
        assert self.env.consents().nonce(self.holder) == self.nonce


@pytest.mark.parametrize(
    "machine", [LicenceMachine, AnchorConsentMachine], ids=lambda m: m.__name__
)
def test_state_machine(session_env: Env, machine: type[RuleBasedStateMachine]) -> None:
    machine.env = session_env  # type: ignore[attr-defined]
    run_state_machine_as_test(machine, settings=SETTINGS)
