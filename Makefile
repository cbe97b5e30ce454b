# One target per habit; people and .ci/run use the same ones.
PY ?= python3
VENV = .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
PACKAGES = dispatch routing location_fusion hospital_link aed_map simulator

.PHONY: demo test bench fuzz soak check clean

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

# The long schemathesis run: every operation against `jijiu serve` on loopback with the role
# tokens, FUZZ_CASES cases in all, seeded by FUZZ_SEED; report in bench-report/fuzz/ (exit 1 on
# any 5xx or answer off its documented schema). The bounded pass is part of `make test`.
FUZZ_CASES ?= 50000
FUZZ_SEED ?= 22
fuzz: $(STAMP)
	FUZZ_CASES=$(FUZZ_CASES) FUZZ_SEED=$(FUZZ_SEED) FUZZ_REPORT=bench-report/fuzz \
		$(BIN)/python -m pytest -q -p no:cacheprovider -s tests/dispatch/http/fuzz_long.py

# The soak (not part of `make test`): serve + calls at SOAK_RATE calls/s for DURATION seconds,
# every incident driven through its life; a sample a minute into bench-report/soak/ (CSV, plot,
# report); exit 1 when a [soak] target in benchmarks/targets.toml is missed.
DURATION ?= 7200
SOAK_RATE ?= 5
soak: $(STAMP)
	$(BIN)/python -m benchmarks.bench_soak --duration $(DURATION) --rate $(SOAK_RATE) \
		--report bench-report/soak

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(addprefix -p ,$(PACKAGES))
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis bench-report
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
