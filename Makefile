# Developer entry points: make venv | make run | make test
PYTHON ?= $(or $(shell command -v python3.11 2>/dev/null),python3)
VENV := .venv

.PHONY: venv run test test-fast test-slow

venv: $(VENV)/.installed

# Reinstalls when pyproject.toml changes; the stamp keeps `make test` from reinstalling every time.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "rdflow needs Python >= 3.11 and $(PYTHON) is missing or older; try make PYTHON=/path/to/python3.11" >&2; exit 1; }
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -e '.[test]'
	touch $@

run: venv
	$(VENV)/bin/rdflow migrate && $(VENV)/bin/rdflow serve

# The slow suites (fuzz, outage, memory) run with `make test-slow`; CI runs both.
SLOW_SUITES := fuzz or outage or memory

test: venv
	$(VENV)/bin/python -m pytest -q -m "not ($(SLOW_SUITES))"

# Domain and unit tests: in memory, no server or database, seconds; run them on every change.
test-fast: venv
	$(VENV)/bin/python -m pytest -q tests/domain tests/unit

test-slow: venv
	$(VENV)/bin/python -m pytest -q -m "$(SLOW_SUITES)"
