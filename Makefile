# The two commands of the README, plus the developer's helpers. Run as root on Debian 12.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
LAB := $(CURDIR)/lab/labctl
PYTEST_ARGS ?=

.PHONY: deps test unit demo demo-down lab-up lab-down bench dashboard rules-check

deps:
	@scripts/install-deps.sh

## test: install what is needed, then run every test (unit, promtool, lab integration, end to end)
test: deps
	@scripts/run-tests.sh $(PYTEST_ARGS)

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
