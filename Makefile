# Two commands for a fresh machine (Python 3.11, no GPU):
#   make demo   set up .venv if needed, then run the embedded demo
#   make test   set up .venv if needed, then run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test bench

setup:
	@bash scripts/setup_env.sh

demo: setup
	@PYTHON=$(PY) bash scripts/demo.sh

test: setup
	$(PY) -m pytest tests

bench: setup
	$(PY) benchmarks/bench_metrics.py
