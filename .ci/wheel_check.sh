#!/usr/bin/env bash
# `make wheel-check`: build the wheel, install it into a fresh venv with its runtime dependencies pinned by the lock,
# then `rdflow migrate` and `rdflow serve` on a throw-away SQLite database must work and /health must answer.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "wheel-check: building the wheel"
"$VENV/bin/python" -m pip wheel --no-deps --no-build-isolation -q -w "$work/dist" .

# Only what [project] dependencies pull in, at the lock's versions: a dependency used but not declared fails here.
"$VENV/bin/uv" pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 \
  --constraint requirements.lock --no-header -o "$work/runtime.txt"
"$PYTHON" -m venv "$work/venv"
echo "wheel-check: installing $(grep -c '==' "$work/runtime.txt") pinned runtime dependencies"
"$work/venv/bin/pip" install -q --require-hashes -r "$work/runtime.txt"
"$work/venv/bin/pip" install -q --no-deps "$work"/dist/rdflow-*.whl

# Run from an empty directory so that nothing can be imported from the checkout.
mkdir "$work/run"
cd "$work/run"
export DATABASE_URL="sqlite:///$work/run/rdflow.db" RDFLOW_DATA_DIR="$work/run/var"
port=$("$work/venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export RDFLOW_PORT=$port

"$work/venv/bin/rdflow" migrate
"$work/venv/bin/rdflow" serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 240); do
  if body=$(curl -fsS "http://127.0.0.1:$port/health" 2>/dev/null); then
    echo "wheel-check: /health answered $body"
    exit 0
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    break
  fi
  sleep 0.5
done
echo "wheel-check: the installed rdflow did not answer /health within 120 s; its log:" >&2
cat "$work/serve.log" >&2
exit 1
