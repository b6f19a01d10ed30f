# Partner LMS: `make run` starts everything on SQLite; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: help install install-test run serve worker migrate seed test test-sqlite test-postgres test-browser test-deploy lint clean

help:
	@echo "make run    - install, migrate, load demo data, start web server and worker on http://$(HOST):$(PORT)"
	@echo "make test   - install test tools and run the whole suite (SQLite, PostgreSQL, browser)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

migrate: install
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) courses sync
	$(FLASK) seed-demo

# Web server and worker together; Ctrl-C stops both.
# Links in e-mails point at this server unless BASE_URL says otherwise.
run: export BASE_URL ?= http://$(HOST):$(PORT)
run: seed
	@echo "Partner LMS on http://$(HOST):$(PORT)  (Ctrl-C stops the web server and the worker)"
	@trap 'kill -TERM $$worker $$web 2>/dev/null; wait $$worker $$web 2>/dev/null; echo; echo "Stopped."' INT TERM EXIT; \
	$(FLASK) worker & worker=$$!; \
	$(FLASK) run --host $(HOST) --port $(PORT) --no-reload & web=$$!; \
	wait -n $$worker $$web

# The same suite on SQLite and on PostgreSQL, then the browser tests in headless Chromium,
# then several gunicorn servers on one PostgreSQL and Redis.
UNIT := not browser and not deploy
test: install-test
	$(BIN)/pytest -q -m "$(UNIT)" -p no:cacheprovider
	TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -m "$(UNIT)" -p no:cacheprovider
	$(BIN)/pytest -q -m browser -p no:cacheprovider
	$(BIN)/pytest -q -m deploy -p no:cacheprovider

test-sqlite: install-test
	$(BIN)/pytest -q -m "$(UNIT)"

test-postgres: install-test
	TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -m "$(UNIT)"

test-browser: install-test
	$(BIN)/pytest -q -m browser

test-deploy: install-test
	$(BIN)/pytest -q -m deploy

lint: install-test
	$(BIN)/ruff check lms tests
	$(BIN)/ruff format --check lms tests

clean:
	rm -rf $(VENV) .pytest_cache
