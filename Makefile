# Two commands do all the set-up on a fresh clone: `make dev` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: dev test install bench docs clean zapier-deps zapier

$(BIN)/ghl-engine: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(BIN)/ghl-engine

install: $(BIN)/ghl-engine

dev: install
	ENGINE_ALLOW_PRIVATE_TARGETS=$${ENGINE_ALLOW_PRIVATE_TARGETS:-true} \
	ENGINE_ALLOW_HTTP_TARGETS=$${ENGINE_ALLOW_HTTP_TARGETS:-true} \
	$(BIN)/ghl-engine dev

test: install zapier-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The Zapier app's packages, installed exactly from its lock file (again only when it changes).
ZAPIER := integrations/zapier
$(ZAPIER)/node_modules/.package-lock.json: $(ZAPIER)/package-lock.json
	cd $(ZAPIER) && npm ci --no-audit --no-fund

zapier-deps:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(ZAPIER)/node_modules/.package-lock.json; \
	else echo "npm not found: the Zapier app's tests will be skipped (install Node.js 18 or later)"; fi

# Regenerate the Zapier app's definitions from the operations catalog.
zapier: install
	$(BIN)/python -m engine.cli.main zapier generate

bench: install
	$(BIN)/python -m benchmarks.run_all

docs: install
	$(BIN)/python -m engine.export.docs

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
