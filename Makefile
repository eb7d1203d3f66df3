# seglab: `make demo` sets everything up and runs the default study; `make test` runs all tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# numba (UMAP, HDBSCAN) caches compiled code here so later runs start fast.
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba
export MPLBACKEND ?= Agg

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/seglab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

# The Spark extra (pyspark, ~400 MB) only for the tests that prove Spark gives the same
# customer table as DuckDB; `make demo` does not need it.
$(VENV)/.spark-installed: $(BIN)/seglab
	$(BIN)/pip install --quiet -e '.[test,spark]'
	@touch $@

.PHONY: install
install: $(BIN)/seglab ## Create .venv and install seglab with its test extras

.PHONY: demo
demo: install ## Run the default study on the embedded synthetic data
	$(BIN)/seglab run --out reports
	@echo "Report: reports/latest/index.html"

.PHONY: test
test: install $(VENV)/.spark-installed ## Run the whole test suite, notebooks included (nbval)
	$(BIN)/pytest tests --nbval-lax notebooks -p no:cacheprovider

.PHONY: lint
lint: install ## Check style with ruff
	$(BIN)/ruff check seglab tests benchmarks

.PHONY: lab
lab: install ## Open the notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks

.PHONY: clean
clean: ## Remove generated reports (keeps reports/README.md)
	find reports -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
