"""Stateful property tests (hypothesis RuleBasedStateMachine) against the real contracts on anvil.

The machines run from test_licence_machine.py and test_anchor_consent_machine.py (two files, so
the two pytest workers run them side by side): at least 100 examples each in every run (more with
``CREDLEDGER_FUZZ_EXAMPLES``; ``make fuzz`` runs 2,000), from a random seed the report header and
the test's output print; ``CREDLEDGER_FUZZ_SEED=<seed>`` replays a run (tests/support/fuzz.py).

Each example starts from an anvil snapshot of the deployed, configured contracts and is reverted
afterwards (``evm_snapshot`` / ``evm_revert``). The rules call the contracts as different actors,
a plain Python model predicts the outcome of every call (success or the exact custom error), and
the invariants compare the chain with the model after every step:

LicenceMachine
  1. every licence's status on chain is the model's (NotFound for ids never issued);
  2. revoked is final: a licence once revoked is revoked forever;
  3. the version is 1 + the number of amendments;
  4. of the documents a licence ever had, exactly the latest is current;
  5. the stored issuer is the key that issued it;
  6. only authorised keys changed a licence (every lifecycle event's `by` was allowed then);
  7. a type's issuer never touched another type's licences;
  8. a retired key changes nothing: it has no roles left, and no change ever succeeded after its
     retirement (every attempt reverted `KeyIsRetired`, checked in the rules);
  9. `holderOf` is the last bound address.
  15. department keys are the model's (owner, public key, retirement), listed per department in
      order, a public key registered once ever, at most five SM2 keys in service per department;
  16. every `LicenceSealed` on chain is the model's: made at issuance by the issuing department's
      own SM2 key while in service (`issueSealed` by anyone else, or with another department's,
      a retired or unknown key, reverted with the exact error, checked in the rules).
AnchorConsentMachine
  10. an anchored root's time never changes, and a non-anchorer's root never counts;
  11. uses never exceed the maximum;
  12. a grant is usable exactly when granted, not revoked, not expired, not exhausted and, for the
      licence, its grantor is the bound holder and the licence is Active;
  13. no authorized grant whose grantor does not hold the asset (read from the chain alone: the
      licence's `holderOf` and status, or the material id's commitment to the grantor);
  14. every slot's keyed nonce counts the requests used or cancelled on it, and a cancelled or used
      nonce never verifies again (the latest ones are re-submitted as calls after every step).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from eth_hash.auto import keccak
from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from web3.exceptions import ContractCustomError, ContractLogicError

from credledger.node.core.contracts.anchor_registry import ANCHORER_ROLE, RootAlreadyAnchored
from credledger.node.core.contracts.consent_registry import (
    GrantExhausted,
    GrantExpired,
    GrantNotFound,
    InvalidSignature,
    LicenceNotUsable,
    NotHolder,
    SignatureExpired,
    purpose_of,
)
from credledger.node.core.contracts.department_keys import (
    DepartmentKeyExists,
    DepartmentKeyIsRetired,
    InvalidSealKey,
    NotKeyManager,
    TooManySealKeys,
    UnknownDepartment,
    UnknownDepartmentKey,
)
from credledger.node.core.contracts.eip712 import AssetKind, GrantRequest, material_asset_id
from credledger.node.core.contracts.licence_registry import (
    KEY_KIND_SM2,
    IssueRequest,
    KeyIsRetired,
    LicenceExists,
    LicenceIsRevoked,
    LicenceNotActive,
    LicenceNotFound,
    LicenceNotSuspended,
    LicenceStatus,
    NotAuthorised,
    NotIssuer,
    Seal,
    licence_id_of,
)
from credledger.node.core.contracts.openzeppelin import AccessControlUnauthorizedAccount
from credledger.node.core.errors import ContractRevert
from credledger.node.core.tx import revert_from
from tests.contracts.conftest import BL, FOOD, Env, now, warp
from tests.contracts.helpers import _norm
from tests.contracts.sealing import sm2_point
from tests.support import fuzz


def machine_settings(steps: int) -> settings:
    """Hypothesis settings of a machine: ``steps`` rule calls per example (each is a transaction
    or a call on anvil, followed by every invariant's reads), the session's example count."""
    return settings(
        # NO_SHRINK=1 reports the first failing run at once (shrinking a chain run takes minutes)
        phases=[p for p in Phase if p is not Phase.shrink or not os.environ.get("NO_SHRINK")],
        max_examples=fuzz.examples(),
        stateful_step_count=fuzz.steps(steps),
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def run_machine(machine: type[RuleBasedStateMachine], env: Env, steps: int) -> None:
    """Run ``machine`` against ``env`` with the session's seed, which it prints (shown with
    ``-rA``, and on a failure with the way to replay it)."""
    machine.env = env  # type: ignore[attr-defined]
    chosen = machine_settings(steps)
    print(
        f"{machine.__name__}: seed {fuzz.seed()}, {chosen.max_examples} examples of up to "
        f"{chosen.stateful_step_count} steps; replay: {fuzz.replay_hint()}"
    )
    try:
        run_state_machine_as_test(hypothesis_seed(fuzz.seed())(machine), settings=chosen)
    except BaseException as exc:
        exc.add_note(f"replay this run: {fuzz.replay_hint()} pytest -k {machine.__name__}")
        raise


ACTORS = ["issuer", "issuer2", "supervisor", "outsider"]
RETIRABLE = ["issuer", "issuer2", "supervisor"]
HOLDERS = ["holder", "grantee"]
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


def call_outcome(call: Any) -> tuple[str, tuple[Any, ...]] | None:
    """Like `outcome`, for an eth_call (no transaction, no state change)."""
    try:
        call()
    except (ContractCustomError, ContractLogicError) as exc:
        err = revert_from(exc)
        assert err is not None
        return err.error_name, _norm(tuple(err.error_args))
    return None


@dataclass
class ModelLicence:
    type_name: str
    issuer: str
    status: LicenceStatus = LicenceStatus.ACTIVE
    version: int = 1
    doc: bytes = DOCS[0]
    docs_seen: set[bytes] = field(default_factory=set)
    ever_revoked: bool = False
    holder: str | None = None  # actor name of the bound holder address


@dataclass
class ModelKey:
    owner: str  # actor name
    point: int  # public key sm2_point(point)
    retired_at: int = 0


ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
SEAL_R, SEAL_S = keccak(b"machine seal r"), keccak(b"machine seal s")


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
        self.retired: dict[str, int] = {}  # actor -> retiredAt
        self.keys: dict[int, ModelKey] = {}  # department keys by id (1, 2, …)
        self.seals: dict[bytes, list[tuple[int, int]]] = {}  # licence -> [(version, keyId)]

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
        if actor in self.retired:
            assert got == error(KeyIsRetired, self.addr(actor), self.retired[actor])
        elif actor not in self.issuers[type_name]:
            assert got == error(NotIssuer, type_id, self.addr(actor))
        elif lid in self.licences:
            assert got == error(LicenceExists, lid)
        else:
            assert got is None
            self.licences[lid] = ModelLicence(type_name, actor, docs_seen={DOCS[0]})

    def _may(self, actor: str, lic: ModelLicence, supervisors_too: bool) -> bool:
        if actor in self.retired:
            return False
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
        if actor in self.retired:
            assert got == error(KeyIsRetired, self.addr(actor), self.retired[actor])
            return
        if not self._may(actor, lic, supervisors_too):
            assert got == error(NotAuthorised, lid, self.addr(actor))
            return
        err = expected_error(lid, lic)
        assert got == err, (got, err)
        if err is None:
            apply(lic)
            self.changes.append((actor, lid, actor not in self.retired))

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

    @rule(actor=st.sampled_from(ACTORS), index=st.integers(0, 7), to=st.sampled_from(HOLDERS))
    def bind_holder(self, actor: str, index: int, to: str) -> None:
        def expected(lid: bytes, lic: ModelLicence) -> Any:
            if lic.status is LicenceStatus.REVOKED:
                return error(LicenceIsRevoked, lid, lic.status)
            return None

        def apply(lic: ModelLicence) -> None:
            lic.holder = to

        self._change(
            actor,
            index,
            False,
            lambda c, lid: c.bind_holder(lid, self.addr(to)),
            expected,
            apply,
        )

    @precondition(lambda self: "issuer2" in self.issuers["FOOD"])
    @rule()
    def deauthorise_issuer2(self) -> None:
        self.env.licences().set_authorisation(FOOD, self.addr("issuer2"), 0)
        self.issuers["FOOD"].discard("issuer2")

    @rule(actor=st.sampled_from(RETIRABLE))
    def retire(self, actor: str) -> None:
        lic = self.env.licences()
        got = outcome(lambda: lic.retire_key(self.addr(actor)))
        if actor in self.retired:
            assert got == error(KeyIsRetired, self.addr(actor), self.retired[actor])
            return
        assert got is None
        self.retired[actor] = lic.retired_at(self.addr(actor))
        assert self.retired[actor] > 0
        for names in (*self.issuers.values(), *self.supervisors.values()):
            names.discard(actor)

    def _key_id(self, index: int) -> int:
        """One of the registered key ids, or the next (unknown) one."""
        return index % (len(self.keys) + 1) + 1

    @rule(actor=st.sampled_from(ACTORS), point=st.integers(1, 8))
    def register_seal_key(self, actor: str, point: int) -> None:
        xy = sm2_point(point)
        got = outcome(
            lambda: self.env.licences(actor).register_department_key(
                self.addr(actor), KEY_KIND_SM2, xy
            )
        )
        same = [i for i, k in self.keys.items() if k.point == point]
        in_service = [k for k in self.keys.values() if k.owner == actor and not k.retired_at]
        if actor == "outsider":
            assert got == error(UnknownDepartment, self.addr(actor))
        elif actor in self.retired:
            assert got == error(KeyIsRetired, self.addr(actor), self.retired[actor])
        elif same:
            assert got == error(DepartmentKeyExists, same[0])
        elif len(in_service) >= 5:
            assert got == error(TooManySealKeys, self.addr(actor), 5)
        else:
            assert got is None
            self.keys[len(self.keys) + 1] = ModelKey(actor, point)

    @rule(actor=st.sampled_from(ACTORS), index=st.integers(0, 7))
    def retire_seal_key(self, actor: str, index: int) -> None:
        key_id = self._key_id(index)
        got = outcome(lambda: self.env.licences(actor).retire_department_key(key_id))
        k = self.keys.get(key_id)
        if k is None:
            assert got == error(UnknownDepartmentKey, key_id)
        elif actor != k.owner:
            assert got == error(NotKeyManager, self.addr(k.owner), self.addr(actor))
        elif actor in self.retired:
            assert got == error(KeyIsRetired, self.addr(actor), self.retired[actor])
        elif k.retired_at:
            assert got == error(DepartmentKeyIsRetired, key_id, k.retired_at)
        else:
            assert got is None
            record = self.env.licences().department_key(key_id)
            assert record is not None and record.retired_at > 0
            k.retired_at = record.retired_at

    @rule(
        actor=st.sampled_from(ACTORS),
        type_name=st.sampled_from(list(TYPES)),
        serial=st.integers(0, 3),
        index=st.integers(0, 7),
    )
    def issue_sealed(self, actor: str, type_name: str, serial: int, index: int) -> None:
        type_id = TYPES[type_name]
        sn = serial.to_bytes(32, "big")
        lid = licence_id_of(type_id, sn)
        self.tried.add(lid)
        key_id = self._key_id(index)
        req = IssueRequest(type_id, sn, HOLDER, DOCS[0], now(self.env.chain) - 1, 0)
        seal = Seal(key_id, SEAL_R, SEAL_S)
        got = outcome(lambda: self.env.licences(actor).issue_sealed(req, seal))
        k = self.keys.get(key_id)
        if actor in self.retired:
            assert got == error(KeyIsRetired, self.addr(actor), self.retired[actor])
        elif actor not in self.issuers[type_name]:
            assert got == error(NotIssuer, type_id, self.addr(actor))
        elif k is None:
            assert got == error(InvalidSealKey, key_id, ZERO_ADDRESS, 0)
        elif k.owner != actor:
            assert got == error(InvalidSealKey, key_id, self.addr(k.owner), KEY_KIND_SM2)
        elif k.retired_at:
            assert got == error(DepartmentKeyIsRetired, key_id, k.retired_at)
        elif lid in self.licences:
            assert got == error(LicenceExists, lid)
        else:
            assert got is None
            self.licences[lid] = ModelLicence(type_name, actor, docs_seen={DOCS[0]})
            self.seals[lid] = [(1, key_id)]

    # --- invariants ---

    @invariant()
    def department_keys_are_the_models(self) -> None:
        lic = self.env.licences()
        for key_id, k in self.keys.items():
            got = lic.department_key(key_id)
            assert got is not None
            assert (got.department, got.kind, got.retired_at, got.public_key) == (
                self.addr(k.owner),
                KEY_KIND_SM2,
                k.retired_at,
                sm2_point(k.point),
            )
        assert lic.department_key(len(self.keys) + 1) is None
        for actor in ACTORS:
            mine = [i for i, k in self.keys.items() if k.owner == actor]
            assert lic.department_key_ids(self.addr(actor)) == mine
            assert sum(1 for i in mine if not self.keys[i].retired_at) <= 5

    @invariant()
    def every_seal_on_chain_is_the_models(self) -> None:
        lic = self.env.licences()
        for lid in self.tried:
            got = [(e.version, e.key_id) for e in lic.seals_of(lid)]
            assert got == self.seals.get(lid, [])

    @invariant()
    def statuses_match_the_model_and_revoked_is_final(self) -> None:
        lic = self.env.licences()
        for lid in self.tried:
            m = self.licences.get(lid)
            status = lic.status_of(lid)
            assert status is (m.status if m is not None else LicenceStatus.NOT_FOUND)
            if m is not None and m.ever_revoked:
                assert status is LicenceStatus.REVOKED

    @invariant()
    def versions_docs_and_issuer_are_the_models(self) -> None:
        """The version counts amendments, only the latest of the documents a licence ever had
        is current, and the stored issuer (and type) is the key that issued it."""
        lic = self.env.licences()
        for lid, m in self.licences.items():
            got = lic.get_licence(lid)
            assert got is not None
            assert got.version == m.version
            assert got.doc_hash == m.doc
            for doc in m.docs_seen | {m.doc}:
                assert lic.is_current_document(lid, doc) == (doc == m.doc)
            assert got.issuer == self.addr(m.issuer)
            assert got.type_id == TYPES[m.type_name]

    @invariant()
    def only_authorised_keys_changed_licences(self) -> None:
        assert all(allowed for _, _, allowed in self.changes)
        assert not any(by == "outsider" for by, _, _ in self.changes)

    @invariant()
    def a_retired_key_changes_nothing(self) -> None:
        assert all(allowed_unretired for _, _, allowed_unretired in self.changes)
        lic = self.env.licences()
        for actor, at in self.retired.items():
            assert lic.retired_at(self.addr(actor)) == at
            assert lic.authorisation_of(FOOD, self.addr(actor)) == 0
            assert lic.authorisation_of(BL, self.addr(actor)) == 0
            assert not lic.has_supervisor_role(self.addr(actor))

    @invariant()
    def holder_of_is_the_last_bound_address(self) -> None:
        lic = self.env.licences()
        for lid, m in self.licences.items():
            assert lic.holder_of(lid) == (self.addr(m.holder) if m.holder else None)

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
    kind: AssetKind
    uses: int = 0


PURPOSE = purpose_of("LOAN-APPLICATION")
ROOTS = [keccak(f"root {i}".encode()) for i in range(3)]
DAY = 86400
MATERIAL = keccak(b"material: audited accounts")
GRANTORS = ["holder", "outsider"]  # the licence's first holder, and a stranger
KINDS = [AssetKind.LICENCE, AssetKind.MATERIAL]


class AnchorConsentMachine(RuleBasedStateMachine):
    env: Env

    def __init__(self) -> None:
        super().__init__()
        self.snap = self.env.snapshot()
        self.anchored: dict[bytes, int] = {}  # root -> time, anchored by an anchorer
        self.squatted: set[bytes] = set()  # roots written by a non-anchorer
        t = now(self.env.chain)
        req = IssueRequest(
            FOOD, b"\x5a" * 32, HOLDER, DOCS[0], t - 1, 0, holder_address=self.addr("holder")
        )
        self.lid, _ = self.env.licences("issuer").issue(req)
        self.licence_holder = "holder"
        self.licence_status = LicenceStatus.ACTIVE
        self.grants: dict[tuple[str, bytes], ModelGrant] = {}  # (grantor, assetId) -> grant
        self.slot_uses: dict[tuple[str, int], int] = {}  # (grantor, nonce key) -> used or cancelled
        self.used_sigs: list[
            tuple[GrantRequest, int, bytes]
        ] = []  # accepted, cancelled, pre-empted

    def teardown(self) -> None:
        self.env.revert(self.snap)

    def addr(self, actor: str) -> str:
        return self.env.addr(actor)

    @property
    def grantee(self) -> str:
        return self.env.addr("grantee")

    def t(self) -> int:
        return now(self.env.chain)

    def request(self, grantor: str, kind: AssetKind, max_uses: int, days: int) -> GrantRequest:
        asset = self.lid if kind is AssetKind.LICENCE else MATERIAL
        expires = self.t() + days * DAY
        return GrantRequest(
            self.addr(grantor), kind, asset, self.grantee, PURPOSE, expires, max_uses
        )

    def holding_error(self, grantor: str, kind: AssetKind) -> tuple[str, tuple[Any, ...]] | None:
        """The error a licence grant or use by `grantor` meets now, per the model (None: holds)."""
        if kind is AssetKind.MATERIAL:
            return None
        if self.licence_holder != grantor:
            return error(NotHolder, self.addr(grantor), self.lid)
        if self.licence_status is not LicenceStatus.ACTIVE:
            return error(LicenceNotUsable, self.lid, self.licence_status)
        return None

    def usable(self, grantor: str, asset_id: bytes, t: int) -> bool:
        """Per the model: may the grantee use ``grantor``'s grant of ``asset_id`` at time ``t``."""
        g = self.grants.get((grantor, asset_id))
        if g is None or t >= g.expires_at or (g.max_uses and g.uses >= g.max_uses):
            return False
        return self.holding_error(grantor, g.kind) is None

    def asset_ids(self) -> list[bytes]:
        return [self.lid] + [material_asset_id(self.addr(g), MATERIAL) for g in GRANTORS]

    def used_nonce(self, req: GrantRequest) -> None:
        slot = (req.holder, req.nonce_key)
        self.slot_uses[slot] = self.slot_uses.get(slot, 0) + 1

    # --- anchors ---

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

    # --- the licence behind the grants ---

    @rule(to=st.sampled_from(GRANTORS))
    def rebind(self, to: str) -> None:
        got = outcome(lambda: self.env.licences("issuer").bind_holder(self.lid, self.addr(to)))
        if self.licence_status is LicenceStatus.REVOKED:
            assert got == error(LicenceIsRevoked, self.lid, LicenceStatus.REVOKED)
        else:
            assert got is None
            self.licence_holder = to

    @rule(action=st.sampled_from(["suspend", "reinstate", "suspend", "reinstate", "revoke"]))
    def licence_status_change(self, action: str) -> None:
        lic = self.env.licences("issuer")
        s = self.licence_status
        if action == "suspend":
            got = outcome(lambda: lic.suspend(self.lid, 1))
            want = None if s is LicenceStatus.ACTIVE else error(LicenceNotActive, self.lid, s)
            new = LicenceStatus.SUSPENDED
        elif action == "reinstate":
            got = outcome(lambda: lic.reinstate(self.lid))
            want = None if s is LicenceStatus.SUSPENDED else error(LicenceNotSuspended, self.lid, s)
            new = LicenceStatus.ACTIVE
        else:
            got = outcome(lambda: lic.revoke(self.lid, 1))
            want = None if s is not LicenceStatus.REVOKED else error(LicenceIsRevoked, self.lid, s)
            new = LicenceStatus.REVOKED
        assert got == want
        if want is None:
            self.licence_status = new

    # --- grants ---

    @rule(
        grantor=st.sampled_from(GRANTORS),
        kind=st.sampled_from(KINDS),
        max_uses=st.integers(0, 2),
        days=st.sampled_from([1, 30]),
    )
    def grant(self, grantor: str, kind: AssetKind, max_uses: int, days: int) -> None:
        req = self.request(grantor, kind, max_uses, days)
        got = outcome(lambda: self.env.consents(grantor).grant(req))
        assert got == self.holding_error(grantor, kind)
        if got is None:
            self.grants[(grantor, req.asset_id)] = ModelGrant(req.expires_at, max_uses, kind)

    @rule(
        grantor=st.sampled_from(GRANTORS), kind=st.sampled_from(KINDS), max_uses=st.integers(0, 2)
    )
    def grant_by_sig(self, grantor: str, kind: AssetKind, max_uses: int) -> None:
        c = self.env.consents("relayer")
        req = self.request(grantor, kind, max_uses, 30)
        deadline = self.t() + 3600
        sig = c.sign_grant(self.env.accounts[grantor], req, deadline)
        got = outcome(lambda: c.grant_by_sig(req, deadline, sig))
        assert got == self.holding_error(grantor, kind)
        if got is None:
            self.used_nonce(req)
            self.used_sigs.append((req, deadline, sig))
            self.grants[(grantor, req.asset_id)] = ModelGrant(req.expires_at, max_uses, kind)

    @rule(kind=st.sampled_from(KINDS), how=st.sampled_from(["cancelNonce", "revokeBySig"]))
    def sign_then_cancel(self, kind: AssetKind, how: str) -> None:
        """The holder signs a grant a relayer sits on, then cancels it one way or the other."""
        c = self.env.consents("relayer")
        holder = self.env.accounts["holder"]
        req = self.request("holder", kind, 1, 30)
        deadline = self.t() + 3600
        pending = c.sign_grant(holder, req, deadline)
        if how == "cancelNonce":
            nonce = c.nonce(holder.address, req.nonce_key)
            assert outcome(lambda: self.env.consents("holder").cancel_nonce(nonce)) is None
        else:
            sig = c.sign_revoke(holder, req.asset_id, self.grantee, PURPOSE, deadline)
            got = outcome(
                lambda: c.revoke_by_sig(
                    holder.address, req.asset_id, self.grantee, PURPOSE, deadline, sig
                )
            )
            assert got is None  # whether or not a grant exists
            self.grants.pop(("holder", req.asset_id), None)
        self.used_nonce(req)
        self.used_sigs.append((req, deadline, pending))

    @precondition(lambda self: bool(self.used_sigs))
    @rule(which=st.integers(0, 5))
    def replay_signature(self, which: int) -> None:
        req, deadline, sig = self.used_sigs[which % len(self.used_sigs)]
        got = outcome(lambda: self.env.consents("relayer").grant_by_sig(req, deadline, sig))
        assert got is not None and got[0] in {InvalidSignature.__name__, SignatureExpired.__name__}

    @rule(kind=st.sampled_from(KINDS))
    def revoke(self, kind: AssetKind) -> None:
        slot = self.request("holder", kind, 0, 1)
        asset_id = slot.asset_id
        got = outcome(lambda: self.env.consents("holder").revoke(asset_id, self.grantee, PURPOSE))
        if ("holder", asset_id) in self.grants:
            assert got is None
            del self.grants[("holder", asset_id)]
            self.used_nonce(slot)  # a direct revocation uses the slot's nonce too
        else:
            assert got == error(GrantNotFound, self.addr("holder"), asset_id, self.grantee, PURPOSE)

    @rule(grantor=st.sampled_from(GRANTORS), kind=st.sampled_from(KINDS))
    def consume(self, grantor: str, kind: AssetKind) -> None:
        asset_id = self.request(grantor, kind, 0, 1).asset_id
        h = self.addr(grantor)
        got = outcome(lambda: self.env.consents("grantee").consume(h, asset_id, PURPOSE))
        g = self.grants.get((grantor, asset_id))
        key = (h, asset_id, self.grantee, PURPOSE)
        if g is None:
            assert got == error(GrantNotFound, *key)
        elif self.t() >= g.expires_at:
            assert got == error(GrantExpired, *key, g.expires_at)
        elif g.max_uses and g.uses >= g.max_uses:
            assert got == error(GrantExhausted, *key, g.max_uses)
        else:
            assert got == self.holding_error(grantor, g.kind)
            if got is None:
                g.uses += 1

    @rule()
    def two_days_pass(self) -> None:
        warp(self.env.chain, 2 * DAY)

    # --- invariants ---

    @invariant()
    def anchored_roots_never_change(self) -> None:
        a = self.env.anchors()
        for root in ROOTS:
            assert a.anchored_at(root) == self.anchored.get(root, 0)

    @invariant()
    def uses_never_exceed_the_maximum(self) -> None:
        c = self.env.consents()
        for grantor in GRANTORS:
            for a in self.asset_ids():
                g = c.get_grant(self.addr(grantor), a, self.grantee, PURPOSE)
                m = self.grants.get((grantor, a))
                assert (g is None) == (m is None)
                if g is not None and m is not None:
                    assert (g.uses, g.kind) == (m.uses, m.kind)
                    assert g.max_uses == 0 or g.uses <= g.max_uses

    @invariant()
    def usable_exactly_as_the_model_says_and_only_for_the_holder(self) -> None:
        """12: ``isAuthorized`` is the model's answer; 13: an authorized grant's grantor holds
        the asset, read from the chain alone (one ``isAuthorized`` read serves both)."""
        c = self.env.consents()
        lic = self.env.licences()
        t = self.t()
        for grantor in GRANTORS:
            h = self.addr(grantor)
            for a in self.asset_ids():
                got = c.is_authorized(h, a, self.grantee, PURPOSE)
                assert got == self.usable(grantor, a, t)
                if not got:
                    continue
                if a == self.lid:
                    assert lic.holder_and_status(a) == (h, LicenceStatus.ACTIVE)
                else:
                    assert a == material_asset_id(h, MATERIAL)

    @invariant()
    def nonces_count_used_requests_and_used_ones_never_verify_again(self) -> None:
        c = self.env.consents("relayer")
        for (holder, key), uses in self.slot_uses.items():
            assert c.nonce(holder, key) == (key << 64) + uses
        relayer = self.addr("relayer")
        for req, deadline, sig in self.used_sigs[-2:]:
            fn = c.contract.functions.grantBySig(req.as_tuple(), deadline, sig)
            got = call_outcome(lambda fn=fn: fn.call({"from": relayer}))  # type: ignore[misc]
            assert got is not None and got[0] in {"InvalidSignature", "SignatureExpired"}
