# Developer entry points: make venv | make run | make test | make lint | make lock
PYTHON ?= $(or $(shell command -v python3.11 2>/dev/null),python3)
VENV := .venv

.PHONY: venv run test test-fast test-slow lint lock lock-upgrade lock-check wheel-check dashboard

venv: $(VENV)/.installed

# Installs exactly the lock (then the project itself, editable); reinstalls when the lock or pyproject.toml changes.
$(VENV)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "rdflow needs Python >= 3.11 and $(PYTHON) is missing or older; try make PYTHON=/path/to/python3.11" >&2; exit 1; }
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --require-hashes -r requirements.lock
	$(VENV)/bin/pip install --no-deps -e .
	touch $@

run: venv
	$(VENV)/bin/rdflow migrate && $(VENV)/bin/rdflow serve

# The slow suites (fuzz, outage, memory, browser) run with `make test-slow`; CI runs both.
SLOW_SUITES := fuzz or outage or memory or browser

test: venv
	$(VENV)/bin/python -m pytest -q -m "not ($(SLOW_SUITES))"

# Domain and unit tests: in memory, no server or database, seconds; run them on every change.
test-fast: venv
	$(VENV)/bin/python -m pytest -q tests/domain tests/unit

test-slow: venv
	$(VENV)/bin/python -m pytest -q -m "$(SLOW_SUITES)"

# The lock pins every dependency (and the test and runner extras) with hashes. `make lock` adds what pyproject.toml added and
# keeps every other pin; `make lock-upgrade` is the deliberate upgrade of everything; lock-check fails when
# pyproject.toml and the lock disagree.
UV_COMPILE := $(VENV)/bin/uv pip compile pyproject.toml --extra test --extra runner --generate-hashes --universal \
	--python-version 3.11 --custom-compile-command "make lock" --quiet

lock: venv
	$(UV_COMPILE) -o requirements.lock

lock-upgrade: venv
	$(UV_COMPILE) --upgrade -o requirements.lock

lock-check: venv
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp requirements.lock "$$tmp/requirements.lock" && \
		$(UV_COMPILE) -o "$$tmp/requirements.lock" && \
		diff -u requirements.lock "$$tmp/requirements.lock" || \
		{ echo "requirements.lock does not match pyproject.toml: run make lock" >&2; exit 1; }

# Static checks, each failing the target: the lock, the import contracts, ruff (lint and format) and mypy.
lint: lock-check
	$(VENV)/bin/lint-imports --no-logo
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Rebuild the dashboard (web/dashboard, Node.js and npm) into server/static/dashboard/; commit the result: `make run`
# and the wheel serve the committed build and need no Node.js.
dashboard:
	cd web/dashboard && npm ci && npm run build

# Build the wheel, install it into a fresh venv from the lock, migrate and serve it on SQLite, curl /health.
wheel-check: venv
	VENV=$(VENV) PYTHON=$(PYTHON) bash .ci/wheel_check.sh
