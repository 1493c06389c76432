# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv in the
# repo root and install exactly what uv.lock pins (hashes checked), nothing else.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HERMES_VENV  := .venv-hermes
HERMES_STAMP := $(HERMES_VENV)/.installed

# Nothing may download at run time.
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RAY_USAGE_STATS_ENABLED := 0
export DO_NOT_TRACK := 1

.PHONY: install demo test lint typecheck unit bench fuzz clean

$(STAMP): pyproject.toml uv.lock requirements-bootstrap.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		--no-deps -r requirements-bootstrap.txt
	$(BIN)/uv sync --frozen --extra proxy --extra ray --extra bench --python $(BIN)/python
	@touch $@

# hermes-agent pins versions litellm[proxy] cannot share: the Hermes plugin and its
# end-to-end tests get an environment of their own, from the same lock.
$(HERMES_STAMP): $(STAMP)
	@test -x $(HERMES_VENV)/bin/python || $(PYTHON) -m venv $(HERMES_VENV)
	UV_PROJECT_ENVIRONMENT=$(HERMES_VENV) $(BIN)/uv sync --frozen --extra hermes \
		--python $(HERMES_VENV)/bin/python
	@touch $@

install: $(STAMP) $(HERMES_STAMP)

demo: $(STAMP)
	$(BIN)/sanitizer demo

lint: install
	$(BIN)/ruff check sanitizer tests benchmarks

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

test: lint typecheck unit

bench: install
	$(BIN)/sanitizer bench --out benchmarks/results/bench

# Longer hardening runs, on demand (not in `make test`): thousands of Hypothesis examples per
# fuzz target, 50,000 injected faults, 64 sessions x 1,000 requests per vault backend, and the
# evasion corpus at full size. Override e.g. SANITIZER_FUZZ_EXAMPLES=20000 make fuzz.
FUZZ_EXAMPLES ?= 5000
FAULT_ITERATIONS ?= 50000
fuzz: install
	SANITIZER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) SANITIZER_FAULT_ITERATIONS=$(FAULT_ITERATIONS) \
		$(BIN)/pytest -p no:cacheprovider tests/test_fuzz.py tests/test_faults.py
	$(BIN)/python -m benchmarks.bench_concurrency --sessions 64 --requests 1000
	$(BIN)/python -m benchmarks.bench_evasion --per-kind 25

clean:
	rm -rf $(VENV) $(HERMES_VENV) .mypy_cache .ruff_cache .pytest_cache dist build
