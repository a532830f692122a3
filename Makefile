# The two commands of the quick start: `make demo` and `make test`.
# Each creates .venv/ at the repository root (reused while pyproject.toml is unchanged).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench demo-recording clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("stripe-shadow needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

# The shipped recording against a control candidate and a simulated API upgrade: replay,
# compare, report, gate, and a reading of the result (runs/demo/report/index.html).
demo: $(STAMP)
	$(VENV)/bin/shadow demo --out runs/demo

test: $(STAMP)
	$(PY) -m pytest -n auto -q

lint: $(STAMP)
	$(VENV)/bin/ruff check harness tests scenarios bench
	$(VENV)/bin/ruff format --check harness tests scenarios bench
	$(VENV)/bin/mypy

# Regenerates recordings/demo.jsonl: localstripe behind `shadow record`, driven by the demo driver.
demo-recording: $(STAMP)
	$(PY) -m scenarios.demo.make_recording recordings/demo.jsonl

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis runs
