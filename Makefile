# Two commands do all the set-up on a fresh clone: `make dev` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: dev test install bench docs clean

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

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m benchmarks.run_all

docs: install
	$(BIN)/python -m engine.docs

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
