# `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi

.PHONY: run test install install-dev browser bench migrate catalog clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(FLASK) db upgrade

catalog: migrate
	$(FLASK) catalog load data/catalog.json

## Web on http://127.0.0.1:8000 plus a worker (and an embedded Redis unless REDIS_URL is set).
run: catalog
	$(BIN)/python -m service.runner

## The whole suite: SQLite and PostgreSQL, the real Redis, S3 on moto, Chromium.
test: install-dev browser
	$(BIN)/python -m pytest

## Debian's Chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install -y chromium"; fi; }

bench: install-dev
	$(BIN)/python bench/upload.py
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/paperwork.py

clean:
	rm -rf $(VENV) .pytest_cache
