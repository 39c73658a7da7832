#!/usr/bin/env bash
# What a new developer meets: the README's two commands, `make run` and `make test`, in a fresh
# clone of this repository. `make run` must answer /health with the demo and stop cleanly on
# Ctrl-C (nothing left running or listening); `make test` must pass.
#
# Usage: scripts/fresh-clone-check.sh [options]        (from anywhere inside the checkout)
#   --working-tree   clone HEAD, then lay the uncommitted changes and new files on top
#   --reuse          reuse this checkout's .venv and node_modules instead of installing anew
#                    (the clone's code still runs: a PYTHONPATH shim maps the packages onto it)
#   --run-only | --test-only
#   --default-ports  use 8545/8600/8700 as a new developer would (default: free ports, so a
#                    running node is not disturbed)
#   --keep           keep the temporary folder even when everything passed
# Environment: PYTEST_ARGS is passed to `make test` (e.g. PYTEST_ARGS="-x tests/foundation").
set -u
root=$(git rev-parse --show-toplevel) || exit 2
working_tree=0 reuse=0 do_run=1 do_test=1 default_ports=0 keep=0
for arg in "$@"; do
  case "$arg" in
    --working-tree) working_tree=1 ;;
    --reuse) reuse=1 ;;
    --run-only) do_test=0 ;;
    --test-only) do_run=0 ;;
    --default-ports) default_ports=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option $arg (see --help)"; exit 2 ;;
  esac
done

work=$(mktemp -d /tmp/credledger-fresh.XXXX)
project="$work/project"
git clone -q "$root" "$project" || exit 2
if [ $working_tree -eq 1 ]; then
  (cd "$root" && git ls-files -z --cached --others --exclude-standard \
    | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$project"
  (cd "$root" && git ls-files -z --deleted) | (cd "$project" && xargs -0 -r rm -f)
fi
echo "fresh clone of $(git -C "$root" rev-parse --short HEAD)$([ $working_tree -eq 1 ] && echo ' + working tree') in $project"
for leftover in .credledger deployments/31337.json .venv hardhat-free-devnet/node_modules; do
  [ -e "$project/$leftover" ] && { echo "the clone already has $leftover: is it committed?"; exit 1; }
done

make_opts=()
if [ $reuse -eq 1 ]; then
  ln -s "$(cd "$root/.venv" && pwd -P)" "$project/.venv"
  ln -s "$(cd "$root/hardhat-free-devnet/node_modules" && pwd -P)" "$project/hardhat-free-devnet/node_modules"
  cp "$root"/node/_merkle_native*.so "$project/node/" 2>/dev/null
  mkdir -p "$work/shim/credledger"
  ln -s "$project/node" "$work/shim/credledger/node"
  ln -s "$project/wallet" "$work/shim/credledger/wallet"
  ln -s "$project/contracts/artifacts" "$work/shim/credledger/artifacts"
  export PYTHONPATH="$work/shim"
  make_opts=(-o .venv/.installed -o hardhat-free-devnet/node_modules/.installed)
fi
# what the caller's shell may carry must not steer the clone
for v in $(env | sed -n 's/^\(CREDLEDGER_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
cd "$project" || exit 2

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
failed=0

if [ $do_run -eq 1 ]; then
  if [ $default_ports -eq 1 ]; then port=8600 chain_port=8545 wallet_port=8700; up_args=""
  else port=$(free_port) chain_port=$(free_port) wallet_port=$(free_port)
       up_args="--port $port --chain-port $chain_port --wallet-port $wallet_port"; fi
  echo "make run (ports $port, $chain_port, $wallet_port); log in $work/run.log"
  ( setsid make "${make_opts[@]}" run UP_ARGS="$up_args" >"$work/run.log" 2>&1 ) & pid=$!
  sleep 1
  pgid=$(ps -o pgid= -p $pid 2>/dev/null | tr -d ' ')
  [ -n "$pgid" ] || pgid=$(pgrep -P $pid | head -1)
  ok=0 start=$(date +%s)
  while [ $(( $(date +%s) - start )) -lt 900 ]; do
    if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 \
       && curl -sf "http://127.0.0.1:$port/v1/enterprises/91310000MA1FL1234Q" 2>/dev/null | grep -q FOOD-OPERATION; then
      ok=1; break
    fi
    kill -0 $pid 2>/dev/null || break
    sleep 2
  done
  if [ $ok -ne 1 ]; then
    echo "✗ make run: /health with the demo never answered. Last lines:"; tail -20 "$work/run.log"
    failed=1
  else
    echo "✓ make run: /health and the demo answered after $(( $(date +%s) - start ))s"
    curl -sf "http://127.0.0.1:$wallet_port/health" >/dev/null 2>&1 && echo "✓ a wallet answers on $wallet_port"
  fi
  # Ctrl-C: SIGINT to the whole foreground process group
  [ -n "$pgid" ] && kill -INT -- "-$pgid" 2>/dev/null
  for _ in $(seq 1 60); do kill -0 $pid 2>/dev/null || break; sleep 1; done
  sleep 1
  left=$(ss -ltn 2>/dev/null | grep -E ":($port|$chain_port|$wallet_port)\b")
  procs=$(pgrep -af "$project" | grep -v "pgrep" || true)
  if [ -n "$left" ] || [ -n "$procs" ]; then
    echo "✗ still there after Ctrl-C:"; echo "$left"; echo "$procs"; failed=1
    [ -n "$pgid" ] && kill -KILL -- "-$pgid" 2>/dev/null
  elif [ $ok -eq 1 ]; then
    grep -q "stopped anvil" "$work/run.log" && echo "✓ Ctrl-C stopped everything it started" \
      || { echo "✗ no 'stopped anvil' in the log"; failed=1; }
  fi
fi

if [ $do_test -eq 1 ]; then
  echo "make test; log in $work/test.log"
  start=$(date +%s)
  if make "${make_opts[@]}" test PYTEST_ARGS="${PYTEST_ARGS:-}" >"$work/test.log" 2>&1 </dev/null; then
    echo "✓ make test passed in $(( $(date +%s) - start ))s: $(grep -E '[0-9]+ passed' "$work/test.log" | tail -1)"
  else
    echo "✗ make test failed after $(( $(date +%s) - start ))s. Last lines:"; tail -25 "$work/test.log"
    failed=1
  fi
fi

if [ $failed -eq 0 ] && [ $keep -eq 0 ]; then rm -rf "$work"; else echo "kept $work"; fi
exit $failed
