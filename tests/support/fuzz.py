"""How hard the contract state machines fuzz, and with which seed.

``CREDLEDGER_FUZZ_EXAMPLES`` (default 100; ``make fuzz`` sets 2000) is the number of examples
per machine. ``CREDLEDGER_FUZZ_SEED`` replays a run: without it every test session draws a fresh
seed, puts it in the environment before pytest-xdist starts its workers (so all of them use the
same one), and prints it in the report header and in every state machine's output and failure.
"""

from __future__ import annotations

import os
import random

EXAMPLES_ENV = "CREDLEDGER_FUZZ_EXAMPLES"
STEPS_ENV = "CREDLEDGER_FUZZ_STEPS"
SEED_ENV = "CREDLEDGER_FUZZ_SEED"


def examples() -> int:
    return int(os.environ.get(EXAMPLES_ENV, "100"))


def steps(default: int) -> int:
    """Rule calls per example (``CREDLEDGER_FUZZ_STEPS`` overrides the machine's default)."""
    return int(os.environ.get(STEPS_ENV, str(default)))


def seed() -> int:
    """This session's seed: the environment's, or a new random one recorded there."""
    value = os.environ.get(SEED_ENV)
    if not value:
        value = str(random.SystemRandom().randrange(2**32))
        os.environ[SEED_ENV] = value
    return int(value)


def replay_hint() -> str:
    return f"{SEED_ENV}={seed()} {EXAMPLES_ENV}={examples()}"


def header() -> str:
    return (
        f"contract state machines: seed {seed()}, {examples()} examples each "
        f"(replay: {replay_hint()} pytest tests/contracts -k machine)"
    )
