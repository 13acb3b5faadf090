# The two commands of the README, plus the developer's helpers. Run as root on Debian 12.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
LAB := $(CURDIR)/lab/labctl
PYTEST_ARGS ?=

.PHONY: deps lint test unit demo demo-down lab-up lab-down bench dashboard dashboard-check rules-check alerts alerts-check

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

## alerts: build the alert bundle (rules, their promtool tests, dashboard) from alerts/bundle.yml with the
## settings in BUNDLE_SETTINGS on top, into BUNDLE_OUT (default: the committed files), then run promtool on it:
##   make alerts BUNDLE_SETTINGS=my-bundle.yml BUNDLE_OUT=build/alerts
BUNDLE_SETTINGS ?=
BUNDLE_OUT ?=
alerts: deps
	@$(PY) alerts/build.py $(if $(BUNDLE_SETTINGS),--settings '$(BUNDLE_SETTINGS)') $(if $(BUNDLE_OUT),--out '$(BUNDLE_OUT)')
	@out='$(if $(BUNDLE_OUT),$(BUNDLE_OUT),alerts)'; \
	  promtool check rules "$$out/ad-health.rules.yml" && promtool test rules "$$out"/tests/*.yml

## alerts-check: exit 1 if the committed rules, tests or dashboard differ from the default build
alerts-check: deps
	@$(PY) alerts/build.py --check
