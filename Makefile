# o2c: `make run` starts the service with demo data, `make test` runs the tests.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-x tests/unit"`.
PYTEST_ARGS ?=

.PHONY: help install run test clean messages system-run system-test

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

# The system packages o2c needs (PDF libraries; chromium for the browser tests),
# installed when missing: one script, shared with .ci/run.
system-run:
	@bash scripts/system-deps run
system-test:
	@bash scripts/system-deps test

# The worker and the server run in the background; once the server answers
# /readyz the demo keys are printed last, where a person looks. The JSON line
# per request goes to instance/requests.log. Ctrl-C stops both: the worker
# finishes its jobs, the server its requests. Each worker lane has its own
# threads: deliveries never wait behind PDF renders (`o2c worker --help` lists
# the lanes and their kinds).
WORKER_LANES ?= deliveries=2,mail=1,documents=1,books=1,other=1
run: system-run install
	$(BIN)/o2c db upgrade
	@mkdir -p instance
	@keys="$$($(BIN)/o2c demo)" || exit 1; \
	export O2C_REQUEST_LOG=instance/requests.log; \
	$(BIN)/o2c worker --lanes $(WORKER_LANES) & worker=$$!; \
	$(BIN)/o2c serve --host $(HOST) --port $(PORT) & server=$$!; \
	trap 'kill -TERM $$server $$worker 2>/dev/null; wait $$server $$worker' EXIT; \
	trap 'exit 130' INT TERM; \
	if $(BIN)/python -m o2c.ready http://$(HOST):$(PORT)/readyz 60 $$server; then \
	    printf '\n%s\n' "$$keys"; \
	    echo "serving http://$(HOST):$(PORT)/  (requests are logged to instance/requests.log; Ctrl-C stops)"; \
	fi; \
	wait $$server

# pyproject's addopts deselect slow tests (-m 'not slow'); a later -m wins.
test: system-test install
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
