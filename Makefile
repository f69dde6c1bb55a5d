# istiolab: `make up` starts the local lab, `make test` runs the whole suite.
# Both create .venv and install what they need from PyPI on first use: `make up` only what
# the local lab runs (istiolab itself), `make test` also the test extras (Pulumi providers,
# Ansible, Molecule, pytest, ruff, helm-python-sdk).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LAB_STAMP := $(VENV)/.installed-lab
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: up down test lint format render clean help
.DEFAULT_GOAL := help

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(LAB_STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "istiolab needs Python >= 3.11")'
	@$(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: install it (Debian/Ubuntu: apt-get install python3-venv)"; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e .
	@touch $@

$(STAMP): $(LAB_STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	@touch $@

up: $(LAB_STAMP) ## Start the local lab (Bookinfo on real Envoy sidecars, no cluster needed).
	$(BIN)/istiolab up $(UP_ARGS)

down: $(LAB_STAMP) ## Stop the local lab.
	$(BIN)/istiolab down

test: $(STAMP) ## Run the whole test suite.
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP) ## Lint and check formatting with ruff.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## Format the code with ruff.
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

render: $(LAB_STAMP) ## Render the default lab as Kubernetes YAML into ./out.
	$(BIN)/istiolab render --out out

clean: ## Remove the virtual environment and generated files.
	rm -rf $(VENV) out .pytest_cache .ruff_cache
