# ranopt: the two commands (`make demo`, `make test`) do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit bench postgres chromium redis prometheus clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# statsforecast and LightGBM: only benchmarks/forecast.py compares against them
$(VENV)/.installed-bench: pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

# ranopt against an emulated RAN (`ranopt emulate`, a child process) over O1 and VES: back-filled
# history, discovery, calibration, the closed loop; API and dashboard on http://127.0.0.1:8000/
# (data under .ranopt/, kept between runs; Ctrl-C stops both). `ranopt demo --twin`: the
# twin-internal loop.
demo: $(STAMP)
	$(BIN)/ranopt demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# The store tests start a throwaway PostgreSQL cluster (initdb + pg_ctl in a temp dir):
# install Debian's server binaries when they are missing (idempotent, root or sudo).
postgres:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y postgresql; }

# The dashboard tests drive Debian's chromium through Playwright (never `playwright install`):
# install it when /usr/bin/chromium is missing (idempotent, root or sudo).
chromium:
	@test -x /usr/bin/chromium || \
		{ SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; }

# The KPI-cache tests, the replica tests (shared rate limits) and benchmarks/api.py start a
# throwaway redis-server on 127.0.0.1: install Debian's when it is missing (idempotent, root or sudo).
redis:
	@command -v redis-server >/dev/null 2>&1 || \
		{ SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y redis-server; }

# tests/deploy checks the alert rules with promtool (Debian's prometheus package; the server it
# also ships is never started).
prometheus:
	@command -v promtool >/dev/null 2>&1 || \
		{ SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends prometheus; }

# two workers, one test file each at a time (a file's session fixtures, e.g. its emulator or
# PostgreSQL cluster, start once per worker): the suite is CPU-bound and CI has 2 cores
unit: $(STAMP) postgres chromium redis prometheus
	$(BIN)/pytest -q -n 2 --dist loadfile --durations=15

test: lint typecheck unit

# Each benchmark prints one JSON object. The full energy run (19/61/271 sites and a 7-day
# calibration) takes about an hour on 2 cores: `python benchmarks/energy.py` for that; the
# full forecast comparison (2 presets x 5 seeds) too: see docs/benchmarks.md for its commands.
bench: $(STAMP) $(VENV)/.installed-bench postgres chromium redis
	$(BIN)/python benchmarks/twin.py
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/energy.py --scenarios default --calibration-days 0
	$(BIN)/python benchmarks/balance.py
	$(BIN)/python benchmarks/api.py
	$(BIN)/python benchmarks/loop.py --days 1
	$(BIN)/python benchmarks/dashboard.py
	$(BIN)/python benchmarks/forecast.py --presets default --seeds 1,2 --target-days 4 --library-days 1
	$(BIN)/python benchmarks/southbound.py

clean:
	rm -rf $(VENV) .ranopt .pytest_cache .mypy_cache .ruff_cache
