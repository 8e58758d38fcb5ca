# `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
# The patient's languages: one gettext catalogue per language, compiled next to its .po.
PO     := $(wildcard service/translations/*/LC_MESSAGES/messages.po)
MO     := $(PO:.po=.mo)

.PHONY: run test install install-dev browser nginx axe poppler bench bench-load migrate catalog clean translations messages

# axe-core for the browser tests' accessibility checks (tests/browser/test_accessibility.py),
# fetched from the npm registry by `make test`; never committed (.venv is ignored).
AXE_VERSION := 4.14.1
AXE_JS      := $(VENV)/axe/axe-core-$(AXE_VERSION)/axe.min.js

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

## Compile each catalogue when its .po changes (the .mo files are build output, not committed).
translations: $(MO)

service/translations/%/LC_MESSAGES/messages.mo: service/translations/%/LC_MESSAGES/messages.po | $(VENV)/.installed
	$(BIN)/pybabel -q compile -i $< -o $@

## After changing strings in the code: extract them (babel.cfg) and merge them into every
## catalogue; then translate what is new or marked fuzzy in each .po.
messages: install
	$(BIN)/pybabel -q extract -F babel.cfg --sort-by-file -o $(VENV)/messages.pot .
	$(BIN)/pybabel -q update -i $(VENV)/messages.pot -d service/translations --width 100 --ignore-obsolete

migrate: install
	$(FLASK) db upgrade

catalog: migrate
	$(FLASK) catalog load data/catalog.json
	$(FLASK) fx load data/exchange_rates.json

## Web on http://127.0.0.1:8000 plus a worker (and an embedded Redis unless REDIS_URL is set).
run: catalog translations poppler
	$(BIN)/python -m service.runner

## The layers and the import rules first (.importlinter), then the whole suite: SQLite
## and PostgreSQL, the real Redis, S3 on moto, Chromium.
test: install-dev browser nginx axe poppler translations
	$(BIN)/lint-imports --no-cache && $(BIN)/python -m pytest

## Debian's Chromium for the browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: sudo apt-get install -y chromium"; fi; }

## Poppler's pdftoppm, with which workers render a PDF's first page as its preview
## (service/files/pdfs.py); without it PDFs are listed as "not previewable".
poppler:
	@command -v pdftoppm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq poppler-utils >/dev/null; \
	  else echo "pdftoppm is missing: sudo apt-get install -y poppler-utils"; fi; }

## Debian's nginx (and envsubst, which renders deploy/nginx.conf), the production front
## end, for tests/deploy/test_nginx.py: the tests run their own nginx on loopback ports.
nginx:
	@{ command -v nginx || [ -x /usr/sbin/nginx ]; } >/dev/null 2>&1 && command -v envsubst >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nginx gettext-base >/dev/null; \
	  else echo "nginx is missing: sudo apt-get install -y nginx gettext-base"; fi; }

## axe-core, pinned to AXE_VERSION, at $(VENV)/axe/axe.min.js (a link to the pinned copy).
## Without npm the accessibility tests skip, and fail under CI=true.
axe: $(AXE_JS)
	@if [ -f $(AXE_JS) ]; then ln -sfn axe-core-$(AXE_VERSION)/axe.min.js $(VENV)/axe/axe.min.js; else rm -f $(VENV)/axe/axe.min.js; fi

$(AXE_JS):
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "npm is missing: the accessibility tests need axe-core $(AXE_VERSION) from the npm registry (install nodejs and npm)"; \
	else \
	  tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  (cd "$$tmp" && npm pack axe-core@$(AXE_VERSION) --silent >/dev/null) && \
	  tar -xzf "$$tmp/axe-core-$(AXE_VERSION).tgz" -C "$$tmp" package/axe.min.js && \
	  mkdir -p $(@D) && mv "$$tmp/package/axe.min.js" $@ && touch $@; \
	fi

bench: install-dev
	$(BIN)/python bench/upload.py
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/paperwork.py
	$(BIN)/python bench/previews.py
	$(BIN)/python bench/throttled_upload.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/slow_clients.py
	$(BIN)/python bench/scale.py

## 200 patients for 60 s against gunicorn + PostgreSQL (its own database) + Redis + S3; about 4 minutes.
bench-load: install-dev
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) .pytest_cache
