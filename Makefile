# The two commands a fresh clone needs: `make serve` and `make test`.
# Both create .venv on first use and reinstall when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Browser libraries come from the npm registry, pinned by package-lock.json, and are copied
# into the static assets (never committed): Levante serves them itself, no CDN.
VENDOR := src/levante/web/static/vendor
VENDOR_STAMP := $(VENDOR)/.installed

# llama.cpp is built for the x86-64-v3 level (AVX2, FMA, F16C) rather than -march=native:
# some virtual machines advertise AMX or AVX-512 instructions they then refuse to run, and a
# native build dies on them with "Illegal instruction". pip caches the wheel it builds.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON

.PHONY: serve simulate test lint typecheck unit clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(VENDOR_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chart.umd.min.js
	cp node_modules/chart.js/LICENSE.md $(VENDOR)/chart.js-LICENSE.md
	touch $(VENDOR_STAMP)

serve: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/levante serve

# A simulated company on the configured (fresh) database: see docs/revenue.md. For example
# make simulate SIMULATE_ARGS="--operator-email you@example.com", then make serve.
simulate: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/levante simulate $(SIMULATE_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck unit

clean:
	rm -rf $(VENV) var node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache
