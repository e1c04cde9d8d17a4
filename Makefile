# One command to run the bot, one to run the tests; both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test setup setup-test lint bench property

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install --quiet -e .

setup-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

# Socket Mode when an app token is set (in the environment or .env), HTTP otherwise.
ENV_FILE ?= .env
SERVE_MODE = $(if $(or $(SLACK_APP_TOKEN),$(shell grep -s '^SLACK_APP_TOKEN=.' $(ENV_FILE))),--socket,--http)

run: setup
	$(BIN)/admin-bot serve $(SERVE_MODE)

test: setup-test
	$(BIN)/pytest -n 2

lint: setup-test
	$(BIN)/ruff format --check api bot handlers jobs reports store tests bench
	$(BIN)/ruff check api bot handlers jobs reports store tests bench
	$(BIN)/mypy

# The benchmarks (not part of the tests): 100k and 1M accounts on SQLite and on the PostgreSQL
# server at BENCH_POSTGRES: about a quarter of an hour on the 2-core machine. Fewer with, for example,
# make bench BENCH_ARGS="--sizes 100000 --backends sqlite"
BENCH_POSTGRES ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
BENCH_ARGS ?= --sizes 100000,1000000
bench: setup-test
	$(BIN)/python -m bench.run --postgres $(BENCH_POSTGRES) $(BENCH_ARGS)

# The store's state machine, run far longer than the tests' bounded run; repeat until it finds nothing.
property: setup-test
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -n 2 -q tests/store/test_ledger_state_machine.py
