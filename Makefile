# One task runner for developers and CI. Every target creates .venv by itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NOVA := $(VENV)/bin/nova
STAMP := $(VENV)/.installed

.PHONY: install run test check bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# local: llama-cpp-python compiles llama.cpp (~12 min on 2 cores the first time; pip caches
	# the wheel). The tests run a real llama.cpp server on a tiny model they generate.
	$(PY) -m pip install --quiet -e '.[dev,local,bedrock,postgres]'
	touch $(STAMP)

install: $(STAMP)

# The main job on its embedded default: a demo Sophia workspace whose llm-core profile runs
# small local models through llama.cpp (nova's tiny generated models when offline).
DEMO ?= $(CURDIR)/.nova-demo
run: $(STAMP)
	@$(NOVA) init --demo --force "$(DEMO)" > /dev/null && \
	$(NOVA) --workspace "$(DEMO)" config validate && \
	$(NOVA) --workspace "$(DEMO)" candidates list && \
	cd "$(DEMO)" && "$(CURDIR)/$(PY)" -m nova benchmarks --profile llm-core; \
	rc=$$?; echo "Demo workspace: $(DEMO) (exit code $$rc)"; exit $$rc

# The whole test suite; tests start the services they need (see tests/conftest.py).
test: $(STAMP)
	bash scripts/ensure-test-services.sh
	$(PY) -m pytest

check: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP)
	@failed=""; for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "missed a target or failed:$$failed"; exit 1; fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
