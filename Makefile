# One target per habit; people and .ci/run use the same ones.
PY ?= python3
VENV = .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
PACKAGES = dispatch routing location_fusion hospital_link aed_map simulator

.PHONY: demo test bench check clean

# (Re)install whenever pyproject.toml changes; creates the venv on a fresh machine.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

# The live city until Ctrl-C; `make demo MINUTES=2` stops by itself. The routing demo that
# was here: `jijiu rank-demo --plot demo-output/rank.png`.
demo: $(STAMP)
	$(BIN)/jijiu demo $(if $(MINUTES),--minutes $(MINUTES))

# The checks first (ruff, format, mypy --strict, import-linter), then the tests: what CI runs.
test: check
	$(BIN)/python -m pytest -q -p no:cacheprovider

# Every benchmark, report in bench-report/; exits 1 when a target in benchmarks/targets.toml
# is missed (JIJIU_BENCH_TARGETS=FILE judges against another file).
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run --report bench-report

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(addprefix -p ,$(PACKAGES))
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis bench-report
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
