# o2c: `make run` starts the service with demo data, `make test` runs the tests.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-x tests/unit"`.
PYTEST_ARGS ?=

.PHONY: help install run test clean messages

help:
	@echo "make run      install, migrate, load demo data (first time), serve on http://$(HOST):$(PORT)"
	@echo "              with one background worker (lanes: webhook deliveries, documents, books), stopped with the server"
	@echo "make test     install, then run every test (slow ones too)"
	@echo "make install  create $(VENV) and install o2c with its test tools"
	@echo "make clean    remove $(VENV), the local database and caches"
	@echo "make messages re-extract the document templates' labels and merge them into each catalog"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalls only when pyproject.toml changes (or the venv is new).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(STAMP)

# The worker runs in the background while the server runs in the foreground;
# when the server stops (Ctrl-C), the worker gets SIGTERM and finishes its jobs.
# Each lane has its own threads: deliveries never wait behind PDF renders
# (`o2c worker --help` lists the lanes and their kinds).
WORKER_LANES ?= deliveries=2,mail=1,documents=1,books=1,other=1
run: install
	$(BIN)/o2c db upgrade
	$(BIN)/o2c demo
	@$(BIN)/o2c worker --lanes $(WORKER_LANES) & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT; \
	trap 'exit 130' INT TERM; \
	$(BIN)/o2c serve --host $(HOST) --port $(PORT)

# pyproject's addopts deselect slow tests (-m 'not slow'); a later -m wins.
test: install
	$(BIN)/python -m pytest -m "slow or not slow" $(PYTEST_ARGS)

# The catalogs (.po) are read as they are at run time; after changing a label
# in templates/invoices/, run this and translate the new entries.
LOCALES := templates/invoices/locales
messages: install
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --omit-header -o $(LOCALES)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-fuzzy-matching --ignore-obsolete -w 100

clean:
	rm -rf $(VENV) instance build *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
