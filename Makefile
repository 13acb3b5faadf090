# The two commands of the README, plus the developer's helpers. Run as root on Debian 12.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
LAB := $(CURDIR)/lab/labctl
PYTEST_ARGS ?=

.PHONY: deps lint test unit demo demo-down lab-up lab-down bench dashboard dashboard-check rules-check runbook-url

deps:
	@scripts/install-deps.sh

## test: install what is needed, then lint and type-check, then run every test (unit, promtool, lab integration, end to end)
test: deps lint
	@scripts/run-tests.sh $(PYTEST_ARGS)

## lint: ruff on every Python file, mypy on the package and the tests (settings in pyproject.toml)
lint: deps
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy

## unit: the tests that need no lab (fast)
unit: deps
	@$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

## demo: bring up the lab with its faults and serve the exporter on localhost:10088
demo: deps
	@scripts/demo.sh

demo-down:
	@$(LAB) down

lab-up: deps
	@$(LAB) up

lab-down:
	@$(LAB) down

## bench: time the spn+accounts scan against ldapsearch on a lab grown to N computers (docs/performance.md)
BENCH_ARGS ?=
bench: deps
	@$(PY) bench/bench.py $(BENCH_ARGS)

## dashboard: regenerate grafana/dashboards/ad-health.json from grafana/generate_dashboard.py
dashboard: deps
	@$(PY) grafana/generate_dashboard.py

dashboard-check: deps
	@$(PY) grafana/generate_dashboard.py --check

## rules-check: promtool's syntax check and unit tests of the alert rules
rules-check:
	@promtool check rules alerts/ad-health.rules.yml && promtool test rules alerts/tests/*.yml

## runbook-url: point every alert's runbook_url at RUNBOOK_BASE_URL (where docs/runbooks is served)
runbook-url:
	@test -n "$(RUNBOOK_BASE_URL)" || { echo "set RUNBOOK_BASE_URL, e.g. make runbook-url RUNBOOK_BASE_URL=https://git.example.com/ad-health-exporter/blob/main/docs/runbooks"; exit 2; }
	@sed -i "s#https://ad-health-runbooks.invalid#$(RUNBOOK_BASE_URL)#g" alerts/ad-health.rules.yml alerts/tests/*.yml
