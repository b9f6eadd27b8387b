# Developer entry points. Needs only python3 on a fresh machine: `make run` (README command 1) and
# `make test` (README command 2) create the virtualenv, start or reuse Redis and PostgreSQL, and go.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# What the image installs (requirements.lock) and what a developer's venv and CI install (with the
# test and bench extras); `make lock` writes both, with hashes.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
LOCK_VENV ?= .venv-lock
UV_VERSION := 0.13.9
LOCK_FLAGS := --generate-hashes --universal --python-version 3.11 --no-emit-package relops --no-emit-package relops-client --quiet
# The documentation site into var/site, offline (no plugin that needs the network); --strict fails
# the build on any warning, such as a link to a page or an anchor that does not exist (not --quiet:
# it hides the warnings from --strict too). The theme's notice of its end of life is said once, in
# docs/development.md, rather than on every build.
MKDOCS_BUILD := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir var/site

# The environment every relops process reads (relops/settings.py); the caller's values win.
REDIS_URL ?= redis://127.0.0.1:6379/0
CELERY_BROKER_URL ?= $(REDIS_URL)
# Workers and the CLI connect as relops_worker; migrations and `relops users add` as the owner.
RELOPS_ADMIN_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/relops
DATABASE_URL ?= postgresql+psycopg://relops_worker@127.0.0.1:5432/relops
RELOPS_CONFIG ?= relops.toml
export REDIS_URL CELERY_BROKER_URL DATABASE_URL RELOPS_ADMIN_DATABASE_URL RELOPS_CONFIG
# The suite also runs its broker tests on RabbitMQ, in a vhost of each run's own (made with rabbitmqctl).
RELOPS_TEST_AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672
export RELOPS_TEST_AMQP_URL

.DEFAULT_GOAL := help
.PHONY: help venv install lock compose-env services migrate run demo test docs lint format bench clean

help:
	@echo "make run      install, start services, migrate, run workers + beat + flower (Ctrl-C stops)"
	@echo "make test     install, start services (RabbitMQ must be running), ruff check, import contracts, docs build (--strict), pytest"
	@echo "make docs     regenerate docs/reference/configuration.md from the config models, build the site into var/site"
	@echo "make install  create $(VENV) and install relops with test extras from requirements-dev.lock (hashes checked)"
	@echo "make lock     rewrite requirements.lock and requirements-dev.lock after a dependency change"
	@echo "make compose-env  write .env with generated passwords for docker compose (once; kept after)"
	@echo "make services | migrate | lint | format | bench | clean"

venv install: $(STAMP)

# Hash-locked: every third-party package (and the build backend) comes from requirements-dev.lock,
# checked against its hashes; relops and its client come from this checkout with --no-deps and
# --no-index, so no index is ever asked for a relops-client. `pip check` fails the install when
# pyproject.toml wants something the lock lacks (run `make lock`). Re-installs when any of these changes.
$(STAMP): pyproject.toml clients/python/pyproject.toml $(DEV_LOCK)
	@test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --no-deps --no-index --no-build-isolation -e ./clients/python -e '.[test,bench]'
	$(BIN)/python -m pip check
	@touch $(STAMP)

# Rewrites both lock files from requirements*.in after a change to pyproject.toml's dependencies,
# keeping every pin it can; `make lock LOCK_ARGS=--upgrade` moves everything to the newest allowed.
# Resolved for Python 3.11 on every platform (markers decide the rest), with uv from a venv of its own.
lock:
	@test -x $(LOCK_VENV)/bin/uv || { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/python -m pip install 'uv==$(UV_VERSION)'; }
	$(LOCK_VENV)/bin/uv pip compile requirements.in $(LOCK_FLAGS) $(LOCK_ARGS) -o $(LOCK)
	$(LOCK_VENV)/bin/uv pip compile requirements-dev.in $(LOCK_FLAGS) $(LOCK_ARGS) -o $(DEV_LOCK)

# docker compose's passwords, generated into .env on first use and never overwritten (never committed).
compose-env:
	$(PYTHON) deploy/compose_env.py .env

services: $(STAMP)
	$(BIN)/relops services up

migrate: services
	$(BIN)/relops migrate

# var/ holds beat's schedule file (and any local Redis/PostgreSQL data started by `services`).
# Flower asks for a password: FLOWER_BASIC_AUTH=user:password, or one generated once into var/.
run: migrate
	@mkdir -p var
	@test -n "$$FLOWER_BASIC_AUTH" || test -s var/flower-auth || \
	  echo "relops:$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(18))')" > var/flower-auth
	@echo "Flower: http://127.0.0.1:$${FLOWER_PORT:-5555} (sign in as $${FLOWER_BASIC_AUTH:-$$(cat var/flower-auth)})"
	@echo "Dashboard: http://127.0.0.1:$${RELOPS_WEB_PORT:-8080} (a token: .venv/bin/relops users add NAME --role admin)"
	@echo "Intake: http://127.0.0.1:$${RELOPS_INTAKE_PORT:-8081} (a report key: .venv/bin/relops keys add NAME --scope outcomes,cron)"
	FLOWER_BASIC_AUTH=$${FLOWER_BASIC_AUTH:-$$(cat var/flower-auth)} PYTHONUNBUFFERED=1 $(BIN)/honcho start -f Procfile

# The stack for `relops demo` (second terminal): 30 s ticks, the webhook pointed at the demo's sink.
demo:
	RELOPS_CONFIG=relops-demo.toml MONITORING_ALERT_WEBHOOK_URL=http://127.0.0.1:9099/services/demo/hook \
	  $(MAKE) run

# RabbitMQ is checked, not started (relops services says how); the URL is not echoed, it may hold a password.
test: $(STAMP)
	@echo '$(BIN)/relops services up --rabbitmq "$$RELOPS_TEST_AMQP_URL"'
	@$(BIN)/relops services up --rabbitmq "$$RELOPS_TEST_AMQP_URL"
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(MKDOCS_BUILD)
	$(BIN)/pytest

# The documentation site (mkdocs.yml, docs/): the configuration reference is written from the config
# models first (`relops config reference`; a unit test fails when the committed page is stale), then
# the site is built (MKDOCS_BUILD). `make test` builds it too, without regenerating, so CI fails on
# a broken site.
docs: $(STAMP)
	$(BIN)/relops config reference --output docs/reference/configuration.md
	$(MKDOCS_BUILD)
	@echo "Site: var/site/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .

bench: services
	$(BIN)/python -m bench

# Stops only the servers `relops services up` started here, then removes their data.
clean:
	@if [ -x $(BIN)/relops ]; then $(BIN)/relops services down; \
	else for f in var/redis*/redis.pid var/pgdata/postmaster.pid var/pg-cluster; do \
	  if [ -e "$$f" ]; then echo "$$f exists but $(BIN)/relops is missing: stop that server first" >&2; exit 1; fi; \
	done; fi
	rm -rf var
