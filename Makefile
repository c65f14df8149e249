# Two commands for a fresh machine (see README):
#   make run   - set up and serve the app on its embedded defaults with demo data
#   make test  - set up and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
# Without DATABASE_URL, a command runs against the private Postgres in .postgres/
# (incidentio/config/embedded_postgres.py), started for it and stopped after it.
WITH_DB = $(if $(DATABASE_URL),,$(PY) -m incidentio.config.embedded_postgres run --)

.PHONY: run test lint install install-dev migrate seed lock worker clean bench bench-smoke reliability wrk \
	mutation mutation-sample vendor screenshots

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-base: requirements/base.txt | $(PY)
	$(PIP) install --quiet -r requirements/base.txt
	touch $@

$(VENV)/.installed-dev: requirements/dev.txt | $(PY)
	$(PIP) install --quiet -r requirements/dev.txt
	touch $@ $(VENV)/.installed-base

install: $(VENV)/.installed-base
install-dev: $(VENV)/.installed-dev

migrate: install
	$(WITH_DB) $(PY) manage.py migrate --noinput

seed: migrate
	$(WITH_DB) $(PY) manage.py seed_demo

run: seed
	@echo ""
	@echo "Slack: messages print here until a workspace is connected. To try the Slack app,"
	@echo "  against a real workspace: see docs/slack.md (manifest: slackbot/manifest.yml), or"
	@echo "  against the local fake Web API:"
	@echo "    $(PY) -c 'from tests.slack.fake_slack import FakeSlack; import time; print(FakeSlack().start().api_url); time.sleep(1e9)'"
	@echo "    SLACK_API_URL=<printed url> SLACK_SIGNING_SECRET=dev-secret make run"
	@echo "    $(PY) manage.py slack_connect --org acme --team-id T0001 --bot-token xoxb-fake"
	@echo "API: $(PY) manage.py create_api_key --org acme --name demo --role viewer --role incident_editor (docs/api.md)"
	@echo ""
	@# Links that leave the browser (Slack's URLs, invitation e-mails) use SITE_URL: unless
	@# it is set, it is the address served here, not the default's port 8000.
	SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} $(WITH_DB) $(PY) manage.py runserver $(HOST):$(PORT)

# The suite runs in TEST_WORKERS processes at once (pytest-xdist; docs/testing.md).
# PYTEST_ARGS come after, so they win: make test PYTEST_ARGS="-n 0 tests/test_db.py"
# runs one file in this process. TEST_WORKERS=auto: one per CPU.
TEST_WORKERS ?= 2
test: install-dev
	$(WITH_DB) $(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# Slow runs with real processes and long fuzzing (docs/reliability.md), on
# Postgres and Redis (the local servers unless DATABASE_URL / REDIS_URL say
# otherwise). RELIABILITY_SHORT=1 is the shortened form CI runs. One test at a
# time: they share one Redis database and the collected static files, and each
# load or fault run needs the machine to itself.
RELIABILITY_EXAMPLES ?= $(if $(RELIABILITY_SHORT),40,300)
RELIABILITY_ENV = DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/incidentio} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} RELIABILITY_EXAMPLES=$(RELIABILITY_EXAMPLES) \
	RELIABILITY_SHORT=$(RELIABILITY_SHORT)
reliability: install-dev
	$(RELIABILITY_ENV) $(PY) -m pytest -m reliability tests/reliability $(PYTEST_ARGS)
	$(RELIABILITY_ENV) $(PY) -m pytest tests/learning/test_flow_stateful.py tests/api_learning/test_schemathesis.py \
		$(PYTEST_ARGS)

# Mutation testing of the learning-flow engine with cosmic-ray (docs/testing.md,
# "Mutation testing"; config in mutation/). `make mutation` runs every mutant
# (45-60 minutes) and fails under mutation/threshold.txt; `make mutation-sample` runs
# MUTATION_SAMPLE random ones plus a canary, as CI does, and fails only if the
# tool is broken. MUTATION_SEED=<n> repeats a sample. Postgres and Redis as for
# make reliability. It edits learning/ while it runs: run nothing else in this
# checkout meanwhile.
MUTATION_SAMPLE ?= 12
MUTATION_ENV = DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/incidentio} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} INCIDENTIO_REQUIRE_SERVICES=1
mutation: install-dev
	$(MUTATION_ENV) $(PY) mutation/run.py $(MUTATION_ARGS)

mutation-sample: install-dev
	$(MUTATION_ENV) $(PY) mutation/run.py --sample $(MUTATION_SAMPLE) \
		$(if $(MUTATION_SEED),--seed $(MUTATION_SEED)) $(MUTATION_ARGS)

# Benchmarks (docs/performance.md): Postgres from DATABASE_URL (default the
# local server), Redis from REDIS_URL, wrk from Debian.
wrk:
	@command -v wrk >/dev/null 2>&1 || (apt-get install -y -qq wrk >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq wrk >/dev/null))

bench: install-dev wrk
	$(PY) -m bench.run --scale full $(BENCH_ARGS)

bench-smoke: install-dev wrk
	$(PY) -m bench.run --scale smoke $(BENCH_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .

worker: install
	$(VENV)/bin/celery -A incidentio worker --loglevel=info

# The browser's third-party JavaScript is vendored: the charts (the Insights
# page, static/js/insights.js) and the post-mortem editor (EasyMDE, with the
# CodeMirror 5 it bundles; static/js/postmortem_editor.js). No CDN (the
# Content-Security-Policy allows scripts and styles from 'self' only) and no
# build step. `make vendor` downloads exactly these npm packages again, refuses
# any whose sha512 differs from the one pinned here (npm's "integrity"), and
# copies the listed files of each (its UMD build, a stylesheet) and its
# license to static/vendor/<dir>/ (axe-core: to tests/browser/vendor/axe-core/).
# Needs node and npm.
PLOT_VERSION := 0.6.17
PLOT_INTEGRITY := sha512-/qaXP/7mc4MUS0s4cPPFASDRjtsWp85/TbfsciqDgU1HwYixbSbbytNuInD8AcTYC3xaxACgVX06agdfQy9W+g==
D3_VERSION := 7.9.2
D3_INTEGRITY := sha512-ZKb/mONPVKzaO5UlcWcwN8bS4ezvQaYu+bsou+XgNABdGC800kwH651ADTbbTxMPHW13UlvbQafdmJQDk1w7Mg==
EASYMDE_VERSION := 2.21.0
EASYMDE_INTEGRITY := sha512-5uE7I/DEN8gvGRwxaqAv7h1PMEK2ykNXVX5zL0dK3nCYROGja3AMbdQz8eCEELnfvCfy7tRkTmLuvyJG8uSWjQ==
# axe-core is for the browser tests only (tests/browser/test_pages_browser.py):
# it lands in tests/browser/vendor/axe-core/, never in static/, so it is never served.
AXE_VERSION := 4.14.1
AXE_INTEGRITY := sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==
VENDOR_DIR := static/vendor
TEST_VENDOR_DIR := tests/browser/vendor
SHA512 = node -e 'process.stdout.write("sha512-" + require("crypto").createHash("sha512") \
	.update(require("fs").readFileSync(process.argv[1])).digest("base64"))'
vendor:
	@set -eu; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for spec in "@observablehq/plot@$(PLOT_VERSION) $(PLOT_INTEGRITY) $(VENDOR_DIR)/plot dist/plot.umd.min.js" \
	            "d3@$(D3_VERSION) $(D3_INTEGRITY) $(VENDOR_DIR)/d3 dist/d3.min.js" \
	            "easymde@$(EASYMDE_VERSION) $(EASYMDE_INTEGRITY) $(VENDOR_DIR)/easymde dist/easymde.min.js dist/easymde.min.css" \
	            "axe-core@$(AXE_VERSION) $(AXE_INTEGRITY) $(TEST_VENDOR_DIR)/axe-core axe.min.js"; do \
	  set -- $$spec; pkg=$$1; want=$$2; dir=$$3; shift 3; \
	  tarball=$$(cd "$$tmp" && npm pack --silent "$$pkg"); \
	  got=$$($(SHA512) "$$tmp/$$tarball"); \
	  if [ "$$got" != "$$want" ]; then echo "$$pkg: integrity $$got, expected $$want" >&2; exit 1; fi; \
	  unpacked="$$tmp/$$(basename "$$dir")"; mkdir -p "$$unpacked" "$$dir"; tar -xzf "$$tmp/$$tarball" -C "$$unpacked"; \
	  for file in "$$@" LICENSE; do cp "$$unpacked/package/$$file" "$$dir/"; done; \
	  echo "$$pkg → $$dir/ ($$got)"; \
	done

# Screenshots of the main pages at 1440 and 390 px for the README, in docs/screenshots/
# (tests/browser/screenshots.py): the demo data, then Debian's Chromium against
# manage.py runserver on a free port. Same database as make run.
screenshots: install-dev seed
	$(WITH_DB) $(PY) -m tests.browser.screenshots

# Regenerate the pinned requirements after editing pyproject.toml.
lock: | $(PY)
	$(PIP) install --quiet pip-tools
	$(VENV)/bin/pip-compile --quiet --no-emit-index-url --no-emit-find-links --strip-extras \
		--output-file requirements/base.txt pyproject.toml
	$(VENV)/bin/pip-compile --quiet --no-emit-index-url --no-emit-find-links --strip-extras \
		--extra dev --output-file requirements/dev.txt pyproject.toml

clean:
	-$(PY) -m incidentio.config.embedded_postgres stop
	rm -rf $(VENV) .postgres staticfiles .pytest_cache
