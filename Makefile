# AgentHub: `make run` serves the demo at http://127.0.0.1:8000, `make test` runs the tests.
# Both need nothing but python3: without DATABASE_URL and REDIS_URL the project uses a SQLite
# file, a local-memory cache and runs Celery tasks inline.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstalled only when a requirements file changes.
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_AGENTS_URL ?= http://127.0.0.1:8700

.PHONY: help install run agents migrate seed test lint bench worker beat clean

help:
	@echo "make run     install, migrate, load the demo data and serve http://$(HOST):$(PORT)"
	@echo "make test    run the test suite (extra pytest arguments: make test PYTEST_ARGS='-k health')"
	@echo "make lint    ruff and the missing-migrations check"
	@echo "make bench   the catalog benchmark (PostgreSQL, gunicorn, a load generator)"
	@echo "make agents  the demo HTTP agents alone (make run starts them too)"
	@echo "make worker  a Celery worker (needs REDIS_URL); make beat: the periodic jobs"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/python -m pip install --quiet --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

run: seed
	@echo
	@echo "  AgentHub is at http://$(HOST):$(PORT)   (admin: http://$(HOST):$(PORT)/admin/, API docs: /api/docs/)"
	@echo
	@echo "  Demo logins (development only):"
	@echo "    admin      / agenthub-admin      staff, reviews submissions in the admin"
	@echo "    creator1   / agenthub-creator    publishes agents"
	@echo "    reviewer1  / agenthub-reviewer   approves or rejects submissions"
	@echo "    user1      / agenthub-user       browses and hires"
	@echo
	@echo "  The demo agents (summarizer, translator, search, mocks) answer at $(DEMO_AGENTS_URL)"
	@echo
	@# The demo HTTP agents run beside the site and stop with it.
	$(BIN)/python manage.py run_demo_agents & agents=$$!; \
	trap 'kill $$agents 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

agents: $(STAMP)
	$(BIN)/python manage.py run_demo_agents

test: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run

bench: $(STAMP)
	bash bench/catalog/run.sh

worker: $(STAMP)
	$(BIN)/celery -A agenthub worker -l info

beat: $(STAMP)
	$(BIN)/celery -A agenthub beat -l info

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
