# ML capstone suite. `make` lists the targets; `make demo` and `make test` do all the set-up.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
# Every folder with a dvc.yaml and a .cruft.json is a project generated from the template.
PROJECTS := $(patsubst %/.cruft.json,%,$(wildcard */.cruft.json))
# The install stamp changes whenever a pinned requirement or a package's metadata changes.
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-serve.txt constraints.txt shared/pyproject.toml $(addsuffix /pyproject.toml,$(PROJECTS)) 2>/dev/null | md5sum | cut -c1-12)
export PATH := $(VENV)/bin:$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv browser containers spark image demo test test-shared test-suite test-loop test-stack test-projects data team-up team-down stack-up stack-down stack-status ui new template-release sync sync-check lint format bench clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[36m%-13s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  projects: $(PROJECTS)"

venv: $(STAMP) ## Create .venv and install the pinned requirements, mlcore and every project (idempotent)

$(STAMP): requirements.txt requirements-serve.txt constraints.txt
	@echo "[setup] installing pinned requirements into $(VENV) (first run: a few minutes; later runs only check)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if grep -q '^torch==' requirements.txt; then $(PY) -m pip install -q "$$(grep '^torch==' requirements.txt)"; fi
	@$(PY) -m pip install -q -r requirements.txt -c constraints.txt
	@$(PY) -m pip install -q --no-deps -e shared $(addprefix -e ,$(PROJECTS))
	@rm -f $(VENV)/.installed-* && touch $@
	@echo "[setup] done"

browser: ## Debian's chromium for the headless-browser tests (installed when missing; needs root or sudo)
	@command -v chromium >/dev/null || { \
		echo "[setup] installing Debian's chromium for the browser tests"; \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null; \
	}

spark: venv ## PySpark for make score ENGINE=spark (installed when missing: a 456 MB download) and a check for Java 17
	@$(PY) -c "import pyspark" 2>/dev/null || { echo "[setup] PySpark (requirements-spark.txt)"; $(PY) -m pip install -q -r requirements-spark.txt -c constraints.txt; }
	@command -v java >/dev/null || { echo "spark: Spark needs Java 17: apt-get install openjdk-17-jre-headless"; exit 2; }

containers: venv ## podman, runc, mmdebstrap and wrk from Debian (when missing; needs root or sudo), Prometheus and Alertmanager, then the Debian base image
	@command -v podman >/dev/null && command -v mmdebstrap >/dev/null && command -v wrk >/dev/null || { \
		echo "[setup] installing Debian's podman, runc, mmdebstrap and wrk for the image tests"; \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq podman runc mmdebstrap wrk >/dev/null; \
	}
	@# Prometheus, promtool, Alertmanager and amtool (the alert-rule tests, the alert loop) out of
	@# Debian's packages into .venv/bin: installing the packages would also start the servers
	@# (:9090, :9093) wherever systemd runs
	@test -x $(VENV)/bin/promtool -a -x $(VENV)/bin/alertmanager || { \
		echo "[setup] Prometheus and Alertmanager from Debian's packages into .venv/bin"; \
		tmp=$$(mktemp -d); chmod 755 "$$tmp"; trap 'rm -rf "$$tmp"' EXIT; \
		(cd "$$tmp" && apt-get download -qq prometheus prometheus-alertmanager) || { \
			sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); $$sudo apt-get update -qq && (cd "$$tmp" && apt-get download -qq prometheus prometheus-alertmanager); }; \
		for deb in "$$tmp"/*.deb; do dpkg-deb -x "$$deb" "$$tmp/x"; done; \
		install -m 0755 "$$tmp/x/usr/bin/prometheus" "$$tmp/x/usr/bin/promtool" "$$tmp/x/usr/bin/amtool" $(VENV)/bin/ && \
		install -m 0755 "$$tmp/x/usr/bin/prometheus-alertmanager" $(VENV)/bin/alertmanager; \
	}
	@# Debian's Alertmanager reads its notification templates from this fixed path
	@test -f /usr/share/prometheus/alertmanager/email.tmpl || { \
		tmp=$$(mktemp -d); chmod 755 "$$tmp"; trap 'rm -rf "$$tmp"' EXIT; \
		(cd "$$tmp" && apt-get download -qq prometheus-alertmanager) && dpkg-deb -x "$$tmp"/*.deb "$$tmp/x"; \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo mkdir -p /usr/share/prometheus && $$sudo cp -r "$$tmp/x/usr/share/prometheus/alertmanager" /usr/share/prometheus/; \
	}
	@$(PY) -m mlcore.deploy.base

image: containers ## Each project's serving image (its exported champion inside; after make demo or make train)
	@for p in $(PROJECTS); do echo "[image] $$p"; $(MAKE) --no-print-directory -C $$p image; done

demo: venv ## Run every project end to end (pipeline, registry, served-model and drift checks) and print a summary
	@$(PY) tools/demo.py $(PROJECTS)

LOAD ?= 0
test: ## Every test section (set-up, mlcore, template and sync, each project), all run even when one fails; a table at the end. LOAD=1: with one core kept busy
	@$(PYTHON) tools/run_tests.py --python $(PY) $(if $(filter 1,$(LOAD)),--load,) $(PROJECTS)

test-shared: venv ## Tests of the shared package (mlcore)
	@echo "[test] shared/"
	@$(PY) -m pytest shared/tests

test-suite: venv ## Template tests: bake matrix, generated projects' own tests, sync check
	@echo "[test] tests/ (template and sync)"
	@$(PY) -m pytest tests --ignore=tests/stack --ignore=tests/loop

test-loop: containers ## Drift to promoted challenger through Prometheus, Alertmanager and the alert hook, on a copy of spam-classifier (tests/loop)
	@$(PY) -m pytest tests/loop

test-stack: containers ## The team stack started, crashed, rolled back (tests/stack; the images of make image, or ML_STACK_TAG=<tag>)
	@$(PY) -m pytest tests/stack

test-projects: venv ## Each project's own make test
	@for p in $(PROJECTS); do echo "[test] $$p"; $(MAKE) --no-print-directory -C $$p test; done

data: venv ## Fetch and validate each project's data (DVC stages ingest, validate)
	@for p in $(PROJECTS); do echo "[data] $$p"; (cd $$p && dvc repro -q validate && $(PY) -m mlcore.data.acquire pretrained); done

TEAM_STATE ?= $(CURDIR)/.team
team-up: venv ## A team MLflow server on PostgreSQL (127.0.0.1:5500, artifacts served); then export MLFLOW_TRACKING_URI=http://127.0.0.1:5500
	@$(PY) -m mlcore.team up --state $(TEAM_STATE)

team-down: venv ## Stop the team MLflow server and its PostgreSQL (data kept in .team/)
	@$(PY) -m mlcore.team down --state $(TEAM_STATE)

stack-up: containers ## The team stack (deploy/compose.yaml): PostgreSQL, MLflow (127.0.0.1:5500), the five services (8001-8005), Prometheus (9090)
	@$(PY) -m mlcore.deploy.stack up

stack-down: venv ## Stop the team stack (volumes kept: database, artifacts, prediction logs; VOLUMES=1 removes them)
	@$(PY) -m mlcore.deploy.stack down $(if $(filter 1,$(VOLUMES)),--volumes,)

stack-status: venv ## Each container of the team stack and its state
	@$(PY) -m mlcore.deploy.stack status

ui: venv ## MLflow UI over every project's runs and models, on http://127.0.0.1:5000
	@$(PY) -m mlcore.ui --root $(CURDIR)

new: venv ## Bake a new project from the template (asks the questions; OUT=. by default)
	@$(VENV)/bin/cookiecutter templates/ml-project -o $${OUT:-.}

template-release: ## Tag a template release: VERSION=x.y.z (templates/ml-project/CHANGELOG.md needs its "## x.y.z" entry; the template committed)
	@test -n "$(VERSION)" || { echo "template-release: give VERSION=x.y.z" >&2; exit 2; }
	@grep -q "^## $(VERSION) " templates/ml-project/CHANGELOG.md || { echo "template-release: templates/ml-project/CHANGELOG.md has no '## $(VERSION) (date)' entry" >&2; exit 2; }
	@git diff --quiet HEAD -- templates/ml-project || { echo "template-release: commit the template first" >&2; exit 2; }
	git tag -a template-v$(VERSION) -m "template $(VERSION)"
	@echo "tagged template-v$(VERSION): baked projects see it with make template-check"

sync: venv ## Re-apply template-owned files to every project
	@$(PY) tools/suite.py sync

sync-check: venv ## Fail when a project's template-owned files differ from the template
	@$(PY) tools/suite.py check

lint: venv ## Ruff lint and format check over the whole suite
	@$(VENV)/bin/ruff check shared tools tests benchmarks $(PROJECTS)
	@$(VENV)/bin/ruff format --check shared tools tests benchmarks $(PROJECTS)
	@cd shared && PYTHONPATH=src $(VENV)/bin/lint-imports --no-cache --config pyproject.toml
	@$(VENV)/bin/hadolint $(addsuffix /Dockerfile,$(PROJECTS)) deploy/postgres/Dockerfile deploy/mlflow/Dockerfile deploy/prometheus/Dockerfile
	@$(VENV)/bin/shellcheck deploy/*/entrypoint.sh
	@$(VENV)/bin/actionlint $(wildcard $(addsuffix /.github/workflows/*.yml,$(PROJECTS)))

format: venv ## Ruff fix and format
	@$(VENV)/bin/ruff check --fix shared tools tests benchmarks $(PROJECTS)
	@$(VENV)/bin/ruff format shared tools tests benchmarks $(PROJECTS)

bench: venv ## Serving benchmarks (wrk on loopback); figures go to benchmarks/results/
	@$(PY) benchmarks/serve.py $(PROJECTS)

clean: ## Remove the virtualenv and caches (keeps data, models and the tracking store)
	rm -rf $(VENV) .pytest_cache .ruff_cache
