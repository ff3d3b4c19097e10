# watchkeeper: `make run` monitors this host; `make test` runs the test suite.
# Both install everything they need first (a local .venv from the lock file).

VENV ?= .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

.PHONY: install system-deps run test lint format bench-quick clean frontend

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv sync --frozen --inexact --all-extras
	@touch $@

# Debian packages the tests use as real peers (promtool, ...); needs root + apt.
system-deps:
	@bash scripts/system-deps.sh

run: install
	$(VENV)/bin/watchkeeper run

test: install system-deps
	@$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$rc

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

bench-quick: install
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b --quick | tail -n 1; done

# Rebuild the dashboard's static assets (uPlot from npm) into src/watchkeeper/web/static/.
frontend:
	cd web/frontend && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
