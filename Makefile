# The two set-up commands of the README: `make demo` (the main job) and `make test` (every test).
# Each installs what it needs on a fresh machine first.
SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv

.PHONY: demo test env kernel sysdeps lint typecheck pytest pytest-postgres test-postgres bench messages

$(UV):
	python3 -m pip install --quiet --user "uv==$(UV_VERSION)" || python3 -m pip install --quiet "uv==$(UV_VERSION)"

# Bytecode compiled at install: without it, and with PYTHONDONTWRITEBYTECODE set, every process
# compiles the libraries it imports again (matplotlib alone: about 2 s of each report).
env: $(UV)
	$(UV) sync --frozen --quiet --compile-bytecode

# The engine's hot modules compiled with mypyc, in place and ignored by git (about a minute; a no-op
# when current). Without them, or when a source changed since, the engine runs as pure Python.
kernel: env
	command -v cc >/dev/null || bash .ci/apt-install.sh kernel gcc libc6-dev
	$(UV) run --frozen python .ci/compile_kernel.py

# Debian packages the tests need (R with survival, cmprsk, rpact: the references of the statistics;
# Chromium for the browser tests of the web application; PostgreSQL for the second run of the
# server tests).
sysdeps:
	bash .ci/install-r.sh
	bash .ci/install-browser.sh
	bash .ci/install-postgres.sh

demo: env kernel
	$(UV) run --frozen rfatrial demo

lint: env
	$(UV) run --frozen ruff check src tests benchmarks
	$(UV) run --frozen ruff format --check src tests benchmarks

typecheck: env
	$(UV) run --frozen mypy

pytest: env kernel
	$(UV) run --frozen pytest -q

# The server tests (tests/server) again, on PostgreSQL: a private cluster on 127.0.0.1 in a
# temporary folder, stopped and removed at the end (.ci/with-postgres.sh). PYTEST_ARGS narrows it:
#   make test-postgres PYTEST_ARGS=tests/server/api
PYTEST_ARGS ?= tests/server
pytest-postgres: env
	bash .ci/with-postgres.sh $(UV) run --frozen pytest -q $(PYTEST_ARGS)

test-postgres: env
	bash .ci/install-postgres.sh
	$(MAKE) --no-print-directory pytest-postgres

test: sysdeps lint typecheck pytest pytest-postgres

bench: env kernel
	$(UV) run --frozen python benchmarks/engine.py

# Update the Simplified Chinese catalog from the text of the pages and the code (GNU gettext's
# xgettext and msgfmt), then compile it. Translate the new entries of django.po before committing.
messages: env
	cd src/rfatrial/server && DJANGO_SETTINGS_MODULE=rfatrial.server.settings \
	  RFATRIAL_DATA_DIR=$(CURDIR)/data $(UV) run --frozen django-admin makemessages \
	  -l zh_Hans --no-obsolete --no-location
	cd src/rfatrial/server && DJANGO_SETTINGS_MODULE=rfatrial.server.settings \
	  RFATRIAL_DATA_DIR=$(CURDIR)/data $(UV) run --frozen django-admin compilemessages -l zh_Hans
