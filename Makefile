# Credence: two commands on a fresh machine.
#
#   make demo   set up everything, start Kafka + Redis + a worker + the simulator, show alerts live
#   make test   set up everything, start a private Kafka + Redis, run the whole suite, stop them
#
# Everything else is a building block of those two.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CREDENCE := $(BIN)/credence

# The test stack runs on its own ports and state directory, so it never touches a Redis or Kafka
# someone else runs on the defaults (6379, 9092), nor the demo stack.
# Two checkouts on one machine pick other ports: make test TEST_KAFKA=127.0.0.1:39092 TEST_REDIS=...
TEST_KAFKA ?= 127.0.0.1:29092
TEST_REDIS ?= redis://127.0.0.1:26379/0
# The suite runs in two phases, in parallel processes (pytest-xdist): first the integration
# tests in TEST_JOBS processes (mostly waiting on workers and brokers), then the unit tests (pure
# CPU, no stack) beside the integration tests that restart, kill or fill the shared stack
# (marker `disruptive`), which must not run beside other tests of the stack. The unit tests'
# processes steal queued tests from each other (a long test drawn last leaves no process idle).
TEST_JOBS ?= 3
TEST_ENV := CREDENCE_HOME=$(CURDIR)/.credence/test CREDENCE_KAFKA=$(TEST_KAFKA) \
            CREDENCE_REDIS=$(TEST_REDIS)
DEMO_ENV := CREDENCE_HOME=$(CURDIR)/.credence/demo

.PHONY: setup system-deps venv test test-unit lint demo demo-stop stack-up stack-down clean

setup: system-deps venv

# Java 17 and Maven run the broker; redis-server and kcat come from Debian; chromium and its
# driver run the workbench's browser tests (headless).
system-deps:
	@missing=""; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v kcat >/dev/null || missing="$$missing kcat"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

venv: $(BIN)/python
	@$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'

lint: venv
	$(BIN)/ruff check .

test: setup
	@set -euo pipefail; \
	export $(TEST_ENV); \
	trap '$(CREDENCE) stack down' EXIT; \
	$(CREDENCE) stack up; SECONDS=0; \
	$(BIN)/ruff check .; \
	rc=0; faults=$$(mktemp); \
	$(BIN)/pytest -q -ra --durations=10 -n $(TEST_JOBS) -m "not disruptive" tests/integration \
	  || rc=$$?; \
	echo "--- integration tests in parallel: $$SECONDS s since the stack came up"; SECONDS=0; \
	$(BIN)/pytest -q -ra --durations=5 -m disruptive tests/integration >$$faults 2>&1 & pid=$$!; \
	$(BIN)/pytest -q -ra --durations=10 -n 2 --dist worksteal tests/unit || rc=$$?; \
	wait $$pid || rc=$$?; \
	echo "--- the tests that restart, kill or fill the stack (beside the unit tests; both done $$SECONDS s later):"; \
	cat $$faults; rm -f $$faults; \
	exit $$rc

test-unit: venv
	$(BIN)/pytest -q tests/unit

stack-up: setup
	$(DEMO_ENV) $(CREDENCE) stack up

stack-down:
	$(DEMO_ENV) $(CREDENCE) stack down

# The demo: stack, topics, one worker, a 7-day simulated marketplace paced live (event time
# starts now and runs 1800x faster: the week in 6 minutes), the inspector workbench with a demo
# login (printed), and the alerts, blacklist entries and score updates printed as they arrive.
# Ctrl-C stops all.
demo: setup
	@set -euo pipefail; \
	export $(DEMO_ENV); \
	$(CREDENCE) stack up; \
	$(CREDENCE) topics create >/dev/null; \
	mkdir -p .credence/demo; \
	$(CREDENCE) worker --loglevel warning > .credence/demo/worker.log 2>&1 & worker=$$!; \
	$(CREDENCE) simulate --live --speedup 1800 --scale 0.3 --set days=7 --no-progress > .credence/demo/simulate.log 2>&1 & sim=$$!; \
	demo_pw=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(9))'); \
	CREDENCE_INSPECT_PASSWORD=$$demo_pw $(CREDENCE) inspect users add demo --role supervisor >/dev/null; \
	$(CREDENCE) inspect > .credence/demo/inspect.log 2>&1 & inspect=$$!; \
	trap 'kill $$worker $$sim $$inspect 2>/dev/null; wait $$worker 2>/dev/null; echo; echo "stopped the worker, the simulator and the workbench; the stack keeps running (make demo-stop)"' EXIT INT TERM; \
	echo "worker log: .credence/demo/worker.log, metrics: http://127.0.0.1:6066/metrics"; \
	echo "workbench: http://127.0.0.1:$${CREDENCE_INSPECT_PORT:-8080}/  login: demo / $$demo_pw (a supervisor, made for this demo)"; \
	$(CREDENCE) watch --for $${DEMO_SECONDS:-420}

demo-stop: stack-down

clean:
	rm -rf .credence build *.egg-info .pytest_cache .ruff_cache reports
