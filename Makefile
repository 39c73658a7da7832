# credledger — the two commands a new developer types are `make run` and `make test`.
# Each sets everything up first (venv + pip, npm ci), so either works first on a fresh clone.

PYTHON ?= python3
VENV   ?= .venv
# extra arguments, e.g. make run UP_ARGS="--port 18600 --chain-port 18545"; make test PYTEST_ARGS=-x
UP_ARGS ?=
PYTEST_ARGS ?=
CHAOS_ARGS ?=
BIN     = $(VENV)/bin
DEVNET  = hardhat-free-devnet
FORGE   = $(DEVNET)/node_modules/.bin/forge

.PHONY: setup chromium openssl run test fuzz chaos lint slither fmt compile bench clean fresh-clone-check

setup: $(VENV)/.installed $(DEVNET)/node_modules/.installed chromium openssl

# the browser tests drive Debian's Chromium (never a downloaded browser); CJK fonts for the pages
chromium:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
	  && apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; } \
	  || echo "chromium not installed: the browser tests will skip (apt-get install chromium)"

# SM2 seals use the system OpenSSL 3 (libcrypto.so.3, node/core/sm2.py); its `openssl` command
# is what docs/standards.md tells a verifier to run, and what tests/node/core/test_sm2.py checks
openssl:
	@command -v openssl >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
	  && apt-get update -qq && apt-get install -y -qq openssl >/dev/null; } \
	  || echo "openssl not installed: SM2 needs it (apt-get install openssl)"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(DEVNET)/node_modules/.installed: $(DEVNET)/package.json $(DEVNET)/package-lock.json
	cd $(DEVNET) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## run: local chain + deployed contracts + node API (Ctrl-C stops everything); files in .credledger/
run: setup
	$(BIN)/credledger up $(UP_ARGS)

## test: lint, reproducible-build check, then every test against real local chains
test: lint
	$(BIN)/credledger compile --check
	$(BIN)/pytest $(PYTEST_ARGS)

## fuzz: the contract state machines with 2,000 examples each (make test runs 100 from a random
## seed it prints; CREDLEDGER_FUZZ_SEED=<seed> replays a run, FUZZ_EXAMPLES=n changes the count)
FUZZ_EXAMPLES ?= 2000
fuzz: setup
	CREDLEDGER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -rA \
	  tests/contracts/test_licence_machine.py tests/contracts/test_anchor_consent_machine.py $(PYTEST_ARGS)

## chaos: the fault suite (scripts/chaos.py, a few minutes): kill -9 of the wallet and the node,
## a chain outage, two nodes; prints lost/duplicated/orphaned/double-accepted/record-less (all 0)
chaos: setup
	$(BIN)/python scripts/chaos.py $(CHAOS_ARGS)

lint: setup
	$(BIN)/ruff check node wallet tests scripts bench
	$(BIN)/ruff format --check node wallet tests scripts bench
	@mkdir -p build/typecheck/credledger && ln -sfn ../../../node build/typecheck/credledger/node && ln -sfn ../../../wallet build/typecheck/credledger/wallet
	$(BIN)/mypy
	$(FORGE) fmt --check contracts/src contracts/test
	scripts/slither.sh

## slither: static analysis of the contracts (own venv, slither pins web3<8); fails on high/medium
slither: setup
	scripts/slither.sh

fmt: setup
	$(BIN)/ruff format node wallet tests scripts bench
	$(BIN)/ruff check --fix node wallet tests scripts bench
	$(FORGE) fmt contracts/src contracts/test

## bench: every benchmark in bench/, one after the other, then the results table (QUICK=1: small, < 5 min)
bench: setup
	@command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)
	$(BIN)/python bench/run.py $(if $(QUICK),--quick)

compile: setup
	$(BIN)/credledger compile

## fresh-clone-check: `make run` and `make test` in a fresh clone, as a new developer would
fresh-clone-check:
	scripts/fresh-clone-check.sh

clean:
	rm -rf $(VENV) $(DEVNET)/node_modules .credledger .pytest_cache .mypy_cache .ruff_cache
