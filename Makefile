# Two entry points for a fresh machine: `make demo` (the main job) and `make test` (the tests).
# Each creates the virtual environment in .venv and installs what it needs: Python packages, the
# panel's front end rebuilt when its sources changed and Node is present (the built bundle is committed), and for the tests Debian's
# chromium and graphviz (when running as root with apt; elsewhere the browser tests skip).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BUNDLE := kfp_notebook/view/static/panel.js

.PHONY: demo test lint bench frontend browsers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The panel's front end (frontend/, TypeScript) as one ES module and one stylesheet in the package. The built files
# are committed, so a clone without Node has a working panel; with Node, a changed source is built again here
# (tests/test_unit_front_end.py fails when a source changed and the bundle was not rebuilt).
FRONTEND_SOURCES := $(wildcard frontend/src/*.ts frontend/style/*.css) frontend/package.json frontend/package-lock.json frontend/build.mjs frontend/tsconfig.json kfp_notebook/view/panel.py kfp_notebook/tracking/states.py

$(BUNDLE): $(STAMP) $(FRONTEND_SOURCES)
	@if command -v npm >/dev/null 2>&1; then \
		(cd frontend && npm ci --no-audit --no-fund --loglevel=error && PATH="$(CURDIR)/$(BIN):$$PATH" npm run build); \
	else echo "Node/npm not found: the committed panel bundle is used as is"; fi

frontend: $(BUNDLE)

browsers:
	@if command -v chromium >/dev/null 2>&1 && command -v dot >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium graphviz >/dev/null; \
	else echo "chromium/graphviz missing: browser and dot tests will skip (apt-get install chromium graphviz)"; fi

demo: frontend
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

test: lint frontend browsers $(MLMD_STAMP)
	$(BIN)/python -m pytest

bench: frontend
	$(BIN)/python benchmarks/bench_compile.py
	$(BIN)/python benchmarks/bench_local.py
	$(BIN)/python benchmarks/bench_widget.py
	$(BIN)/python benchmarks/bench_results.py
	$(BIN)/python benchmarks/bench_cli.py

clean:
	rm -rf $(VENV) .venv-mlmd out build dist .pytest_cache .ruff_cache .mypy_cache frontend/node_modules
