# Two commands do all set-up on a fresh machine:
#   make run   - the app with demo data on SQLite, tasks in-process, http://127.0.0.1:8000
#   make test  - the whole suite against real PostgreSQL and Redis
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TEST_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/vad_review
# The benches drop and recreate this database; its name must contain "bench".
BENCH_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/vad_review_bench
PYTEST_WORKERS ?= 2

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

run: export DEBUG = 1
run: export VAD_TASKS_EAGER = 1
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

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
