# seglab: `make demo` sets everything up and runs the default study; `make test` runs all tests.
# Both install the exact versions in requirements/ (locked for this machine: CPython 3.11 on
# Linux x86_64), so a fresh machine gets the versions the tests passed with; `make upgrade`
# tries the newest versions pyproject.toml allows and rewrites the locks if the tests pass.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# seglab's dependencies and test tools (make install, make demo) ...
LOCK := requirements/lock.txt
# ... and the same plus pyspark (~400 MB), for the tests that hold Spark equal to DuckDB.
SPARK_LOCK := requirements/lock-spark.txt
# The lock tool, used by `make upgrade` only; pinned so that a refresh writes the same file.
UV_VERSION := 0.13.8
UPGRADE := .cache/upgrade
# Two pytest-xdist workers, one per core; each test file runs whole on one worker, only the
# data-shape matrix is spread test by test, and the notebooks (nbval) run in order on one
# worker, in a fresh scratch folder of their own (tests/conftest.py). TEST_WORKERS= runs
# serially.
TEST_WORKERS ?= -n 2 --dist loadgroup
# numba caches UMAP's compiled kernels here (the install fills it), so no notebook or test
# spends ~25 s compiling them.
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba
export MPLBACKEND ?= Agg

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# The stamp is older than a changed lock or pyproject.toml, so those reinstall. seglab
# itself goes in without dependencies (they are all in the lock) and without build
# isolation (setuptools and wheel are in the lock too); `pip check` then fails if
# pyproject.toml asks for something the lock lacks: run `make upgrade`. Then seglab's
# bytecode is written (where PYTHONDONTWRITEBYTECODE is set, no kernel would write it) and
# UMAP's numba kernels compiled into the cache, as pip compiles what it installs.
$(VENV)/.installed: $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@want=$$(sed -n 's/.*Python \([0-9.]*\).*/\1/p' $(LOCK) | head -n 1); \
	  have=$$($(BIN)/python -c 'import platform; print(platform.python_version())'); \
	  [ "$$want" = "$$have" ] || echo "warning: $(LOCK) is locked for Python $$want, $(VENV) has $$have"
	$(BIN)/pip install --quiet -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	$(BIN)/python -m compileall -q seglab
	$(BIN)/python -c 'from seglab import cluster; cluster.compile_kernels()'
	@touch $@

$(VENV)/.spark-installed: $(VENV)/.installed $(SPARK_LOCK)
	$(BIN)/pip install --quiet -r $(SPARK_LOCK)
	@touch $@

.PHONY: install
install: $(VENV)/.installed ## Create .venv with the locked versions of seglab's dependencies and test tools

.PHONY: demo
demo: install ## Run the default study on the embedded synthetic data
	$(BIN)/seglab run --out reports
	@echo "Report: reports/latest/index.html"

# One BLAS and OpenMP thread per process (kernels inherit it): the two workers already fill
# the two cores, and a second thread per process would spin waiting for work (a few percent
# of CPU time, measured in interleaved pairs). The numbers do not change: the default study
# run so equals it run with the default threads, file by file.
test: export OMP_NUM_THREADS = 1
test: export OPENBLAS_NUM_THREADS = 1
test: export MKL_NUM_THREADS = 1

.PHONY: test
test: install $(VENV)/.spark-installed ## Run the whole test suite, notebooks included (nbval)
	$(BIN)/pytest tests notebooks --nbval-lax -p no:cacheprovider $(TEST_WORKERS)

# A fresh venv under .cache/upgrade gets the newest versions pyproject.toml allows (resolved
# by uv for this Python on Linux x86_64) and runs the whole test suite; only if it passes
# do the new locks replace requirements/. Then `make install` (or demo, test) applies them.
# The whole suite by default; e.g. UPGRADE_TESTS=tests/test_engine.py for a quick look.
UPGRADE_TESTS ?= tests notebooks --nbval-lax $(TEST_WORKERS)
LOCK_PYTHON = $$($(PYTHON) -c 'import platform; print(platform.python_version())')
UV_COMPILE = $(UPGRADE)/venv/bin/uv pip compile pyproject.toml requirements/build.in \
	--extra test --upgrade --quiet --python-version $(LOCK_PYTHON) \
	--python-platform x86_64-manylinux_2_28 \
	--custom-compile-command "make upgrade (uv $(UV_VERSION), Python $(LOCK_PYTHON), Linux x86_64)"

.PHONY: upgrade
upgrade: ## Test the newest allowed versions in a fresh venv; if all tests pass, rewrite the locks
	rm -rf $(UPGRADE)
	$(PYTHON) -m venv $(UPGRADE)/venv
	$(UPGRADE)/venv/bin/pip install --quiet uv==$(UV_VERSION)
	$(UV_COMPILE) -o $(UPGRADE)/lock.txt
	$(UV_COMPILE) --extra spark -c $(UPGRADE)/lock.txt --no-annotate -o $(UPGRADE)/lock-spark.txt
	$(UPGRADE)/venv/bin/pip install --quiet -r $(UPGRADE)/lock-spark.txt
	$(UPGRADE)/venv/bin/pip install --quiet --no-deps --no-build-isolation -e .
	$(UPGRADE)/venv/bin/pip check
	$(UPGRADE)/venv/bin/pytest $(UPGRADE_TESTS) -p no:cacheprovider
	cp $(UPGRADE)/lock.txt $(LOCK)
	cp $(UPGRADE)/lock-spark.txt $(SPARK_LOCK)
	@if git diff --quiet -- requirements/ 2>/dev/null; then \
	  echo "The tests pass with the newest versions; the locks already hold them."; \
	else git diff --stat -- requirements/; \
	  echo "Locks updated: review git diff requirements/, run make install, commit."; fi

.PHONY: lint
lint: install ## Check style with ruff
	$(BIN)/ruff check seglab tests benchmarks

.PHONY: lab
lab: install ## Open the notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks

.PHONY: clean
clean: ## Remove generated reports (keeps reports/README.md)
	find reports -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
