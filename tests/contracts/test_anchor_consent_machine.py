"""The anchor and consent state machine (tests/contracts/machines.py: AnchorConsentMachine)
against the real AnchorRegistry, ConsentRegistry and LicenceRegistry on anvil: anchors, grants
(direct and signed), cancellations, replays, uses, revocations, the licence behind the grants
changing hands and status, and time passing, with invariants 10-14 after every step.

At least 100 examples per run from a random seed that the report header and this test's output
print; ``CREDLEDGER_FUZZ_SEED=<seed>`` replays it, ``make fuzz`` runs 2,000 examples
(``CREDLEDGER_FUZZ_EXAMPLES``)."""

from __future__ import annotations

import pytest

from tests.contracts.conftest import Env
from tests.contracts.machines import AnchorConsentMachine, run_machine
from tests.support import fuzz

# rule calls per example: a grant, its use or replay, a status change and a day passing fit
STEPS = 8


@pytest.mark.timeout(max(1500, 3 * fuzz.examples()))  # under 1 s an example on 2 cores
def test_anchor_consent_machine(session_env: Env) -> None:
    run_machine(AnchorConsentMachine, session_env, STEPS)
