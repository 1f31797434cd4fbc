# Two entry points for a fresh machine: `make demo` (the main job) and `make test` (the tests).
# Each creates the virtual environment in .venv and installs what it needs: Python packages, the
# lab extension's npm packages and its build (when Node is present), and for the tests Debian's
# chromium and graphviz (when running as root with apt; elsewhere the browser tests skip).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LABEXT := kfp_notebook/labextension/package.json

.PHONY: demo test lint bench labextension browsers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	rm -f kfp_notebook/labextension/install.json  # left by `labextension develop`; the wheel maps install.json itself
	SKIP_JUPYTER_BUILDER=1 $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The panel's front end: built with npm when Node is available, linked into this environment's JupyterLab.
LABEXT_SOURCES := $(wildcard labextension/src/*.ts labextension/style/*) labextension/package.json labextension/package-lock.json labextension/tsconfig.json

$(LABEXT): $(STAMP) $(LABEXT_SOURCES)
	@if command -v npm >/dev/null 2>&1; then \
		(cd labextension && npm ci --no-audit --no-fund --loglevel=error && PATH="$(CURDIR)/$(BIN):$$PATH" npm run build) && \
		PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter labextension develop --overwrite . >/dev/null && touch $(LABEXT); \
	else echo "Node/npm not found: the panel's front end is not built (notebooks fall back to static SVG)"; fi

labextension: $(LABEXT)

browsers:
	@if command -v chromium >/dev/null 2>&1 && command -v dot >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium graphviz >/dev/null; \
	else echo "chromium/graphviz missing: browser and dot tests will skip (apt-get install chromium graphviz)"; fi

demo: labextension
	$(BIN)/python -m kfp_notebook.headless.notebooks notebooks/quickstart.ipynb --out out

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# A real ML Metadata store for the Kubeflow tests: ml-metadata needs protobuf < 5, so it lives apart.
MLMD_STAMP := .venv-mlmd/.installed
$(MLMD_STAMP):
	$(PYTHON) -m venv .venv-mlmd
	.venv-mlmd/bin/python -m pip install --quiet --upgrade pip
	.venv-mlmd/bin/python -m pip install --quiet 'ml-metadata==1.17.1'
	touch $(MLMD_STAMP)

test: lint labextension browsers $(MLMD_STAMP)
	$(BIN)/python -m pytest

bench: labextension
	$(BIN)/python benchmarks/bench_compile.py
	$(BIN)/python benchmarks/bench_local.py
	$(BIN)/python benchmarks/bench_widget.py
	$(BIN)/python benchmarks/bench_results.py
	$(BIN)/python benchmarks/bench_cli.py

clean:
	rm -rf $(VENV) .venv-mlmd out build dist .pytest_cache .ruff_cache .mypy_cache labextension/node_modules labextension/lib kfp_notebook/labextension
