"""The licence state machine (tests/contracts/machines.py: LicenceMachine) against the real
LicenceRegistry on anvil: issue, suspend, reinstate, revoke, amend, bind, de-authorise and retire
keys as four actors, invariants 1-9 after every step.

At least 100 examples per run from a random seed that the report header and this test's output
print; ``CREDLEDGER_FUZZ_SEED=<seed>`` replays it, ``make fuzz`` runs 2,000 examples
(``CREDLEDGER_FUZZ_EXAMPLES``)."""

from __future__ import annotations

import pytest

from tests.contracts.conftest import Env
from tests.contracts.machines import LicenceMachine, run_machine
from tests.support import fuzz

# rule calls per example: enough to issue a few licences and walk them through their states
STEPS = 14


@pytest.mark.timeout(max(1500, 3 * fuzz.examples()))  # under 1 s an example on 2 cores
def test_licence_machine(session_env: Env) -> None:
    run_machine(LicenceMachine, session_env, STEPS)
