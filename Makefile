# Two commands do all set-up on a fresh machine:
#   make run   - the app with demo data on SQLite and a worker beside it, http://127.0.0.1:8000
#                (PORT=8080 and HOST=0.0.0.0 change where it listens)
#   make test  - the whole suite against real PostgreSQL and Redis
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TEST_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/vad_review
# The benches drop and recreate this database; its name must contain "bench".
BENCH_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/vad_review_bench
PYTEST_WORKERS ?= 2
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install services lint format bench clean messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

messages: export DEBUG = 1
messages: install
	$(BIN)/python manage.py compilemessages --ignore=.venv >/dev/null

# Checks the port first, writes var/local.env once (secret key, demo passwords, file broker
# and cache, demo model), builds the demo model, migrates, loads the demo, then runs the web
# server and a Celery worker together until Ctrl-C (scripts/quickstart.py).
run: install
	$(BIN)/python scripts/quickstart.py --host $(HOST) --port $(PORT)

services:
	bash scripts/ensure_services.sh

test: services install
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: services install
	$(BIN)/python bench/ifd.py
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/import_export.py
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/score_writes.py
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/review_load.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
