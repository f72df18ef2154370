# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# On machines whose pip is capped to the torch wheels on local disk this picks those;
# elsewhere pip resolves the current releases allowed by pyproject.toml.
TORCH_SPEC ?= $(shell test -f /etc/xdg/pip/constraints.txt && echo "torch==2.14.1 torchvision==0.29.1" || echo "torch torchvision")

.PHONY: run test test-fast lint bench demo-model clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) main.py resources/samples

test: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

test-fast: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m "not slow"

bench: $(STAMP)
	$(PY) -m tests.benchmarks.bench_inference

clean-venv:
	rm -rf $(VENV)
