# Set-up, demo and tests. `make demo` and `make test` are the README's quick start.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTHON ?= python3
LINT_PATHS := src tests benchmarks

.PHONY: install demo test test-fast test-unit test-e2e lint format benchmark clean serve screenshots

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,onnx]'
	bash scripts/install-system-deps.sh
	bash scripts/install-tesserocr.sh $(PY)
	touch $@

demo: install
	$(BIN)/thermal-anomaly experiment --out runs/demo

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

format: install
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

test-unit: install
	$(PY) -m pytest -q tests/unit

test-e2e: install
	$(PY) -m pytest -q tests/e2e

test: lint
	$(PY) -m pytest -q tests

# everything but the tests marked slow (training, the CLI, whole-data-set sweeps): under a minute on 2 cores
test-fast: install
	$(PY) -m pytest -q -m "not slow" tests

benchmark: install
	$(PY) benchmarks/benchmark.py

# the service on http://127.0.0.1:8000 (prints the sign-in link); the demo data are its first asset
serve: install
	$(BIN)/thermal-anomaly serve --data-dir runs/service --demo

# the browser test (Debian's chromium) saves its screenshots under docs/screenshots/
screenshots: install
	SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest -q -p no:cacheprovider tests/service/test_browser.py

clean:
	rm -rf runs models .pytest_cache .ruff_cache
