# The two commands of the README: `make run` and `make test`. Both build the virtual environment themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: run test demo venv clean bench

$(VENV)/.runtime: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: on Debian run 'apt-get install python3-venv'"; exit 1; }
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.dev

run: $(VENV)/.runtime
	$(PY) server.py $(ARGS)

# a fresh data/demo.db on the data-demo/ prices with a day of signals, orders and fills; again = from scratch
demo: $(VENV)/.runtime
	$(PY) server.py demo $(ARGS)

# newman (npm) for tests/test_postman.py; where npm is missing that test is skipped (--require-all: failed)
NEWMAN := tests/postman/node_modules/.bin/newman
$(NEWMAN): tests/postman/package.json tests/postman/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/postman --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the Postman test will be skipped (apt-get install npm)"; fi

# Extra pytest switches go in ARGS, e.g. make test ARGS="--require-postgres --require-browser -x"
test: $(VENV)/.dev $(NEWMAN)
	$(PY) -m pytest $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache test-output tests/postman/node_modules
