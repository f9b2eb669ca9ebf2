# Two commands for a fresh machine (Python 3.11, no GPU):
#   make demo   set up .venv if needed, then run the embedded demo
#   make test   set up .venv if needed, then run the test suite
# Also: make lint (flake8 + isort --check-only), make test-fast (tests not marked slow),
#   make reproduce (the protocol of docs/reproduction.md; ROWS="t1 t4" SEEDS="0 1 2" for a part).
VENV ?= .venv
PY := $(VENV)/bin/python

# Where the tracked Python files are (setup.cfg holds the flake8/isort settings).
LINT_PATHS := mmcyclic tools tests benchmarks scripts configs setup.py

.PHONY: setup demo test test-fast lint bench reproduce

setup:
	@bash scripts/setup_env.sh

demo: setup
	@PYTHON=$(PY) bash scripts/demo.sh

test: setup
	$(PY) -m pytest tests

# Skips the end-to-end training runs (marked slow).
test-fast: setup
	$(PY) -m pytest tests -m "not slow"

# Runs both checkers, then fails if either found something.
lint: setup
	@status=0; \
	$(PY) -m flake8 $(LINT_PATHS) || status=1; \
	$(PY) -m isort --check-only $(LINT_PATHS) || status=1; \
	exit $$status

# Hours on a CPU: every run resumable, finished runs skipped; the page is rewritten at the end.
reproduce: setup
	$(PY) scripts/experiments/reproduce.py
	$(PY) scripts/experiments/reproduction_page.py

bench: setup
	$(PY) benchmarks/bench_metrics.py
