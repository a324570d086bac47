# mosaic.fleet developer entry points. `make test` runs every test; `make demo` stands up a local
# canary fleet. Everything installs what it needs into .venv and .cache (nothing global but the
# apt packages and dockerd that the molecule scenarios need).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
CACHE := $(CURDIR)/.cache
DEV_COLLECTIONS := $(CACHE)/collections
export ANSIBLE_COLLECTIONS_PATH := $(DEV_COLLECTIONS):$(CACHE)/test-collections
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# pip's download cache lives in the clone too, so a re-run installs from it.
export PIP_CACHE_DIR := $(CACHE)/pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv dev-link test test-unit test-integration lint sanity docs changelog-lint \
        molecule demo demo-down bench lock clean contract

help:
	@echo "make test       run every test (unit, integration, lint, sanity, docs, changelog, molecule)"
	@echo "make demo       stand up the local-canary fleet on this machine and show it working"
	@echo "                (as you: in ~/.mosaic-demo, tmux socket mosaic-demo; as root: for a user mosaic-demo)"
	@echo "make demo-down  remove the demo fleet and everything the demo created"
	@echo "make bench      run the benchmarks in benchmarks/ and print their figures"
	@echo "make lock       bump every pinned dependency (scripts/bump-deps.sh) and print what changed"
	@echo "make contract   regenerate framework/tools/fleet/contract.sh (from module_utils/contract.py) and"
	@echo "                module_utils/runtime_table.py (from fleet/runtimes.json); the module_utils the host"
	@echo "                tools run are added to the shipped tree by module_utils/shipped.py, not copied here"

venv: $(BIN)/.installed
# Exact versions from requirements-dev.lock (pip too); re-installed when either file changes.
$(BIN)/.installed: requirements-dev.txt requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c requirements-dev.lock pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -c requirements-dev.lock
	touch $@

# Make mosaic.fleet.* resolve to this working tree.
dev-link:
	@mkdir -p $(DEV_COLLECTIONS)/ansible_collections/mosaic
	@ln -sfn $(CURDIR) $(DEV_COLLECTIONS)/ansible_collections/mosaic/fleet

test: test-unit test-integration lint sanity docs changelog-lint molecule

test-unit: venv dev-link
	$(BIN)/pytest -q -p no:cacheprovider tests/unit

test-integration: venv dev-link
	$(BIN)/pytest -q -p no:cacheprovider tests/integration

lint: venv dev-link
	scripts/test-collections.sh
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint

sanity: venv
	scripts/sanity.sh

docs: venv
	scripts/check-docs.sh

changelog-lint: venv
	$(BIN)/antsibull-changelog lint

molecule: venv dev-link
	scripts/molecule.sh

demo: venv dev-link
	scripts/demo.sh up

demo-down: venv dev-link
	scripts/demo.sh down

# Re-resolve the Python lock, the npm lock of the test runtimes and the ansible wheel pin.
lock:
	scripts/bump-deps.sh

# The shell side of THE contract and the runtime table's copies are generated
# (tests/unit/test_contract.py and tests/unit/test_runtimes.py fail when they drift).
contract:
	$(PYTHON) scripts/gen-contract.py

bench: venv dev-link
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(CACHE) tests/output mosaic-fleet-*.tar.gz
