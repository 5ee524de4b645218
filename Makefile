# The two commands of the README, plus helpers. Everything installs itself:
#   make demo   local Kafka up, topics, a worker, synthetic events, a few homepages printed
#   make test   lint, types, Prometheus rule checks, and the whole test suite on a real broker
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test install kafka-start kafka-stop lint typecheck promtool pytest clean

# setup.py and the kernels' sources (the plane numbers are compiled in): editing them
# rebuilds the compiled kernels
$(BIN)/homerec: pyproject.toml setup.py homerec/_kernels_src.py homerec/models/hybrid/planes.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/homerec

kafka-start:
	deploy/kafka/local-kafka.sh start

kafka-stop:
	deploy/kafka/local-kafka.sh stop

demo: install kafka-start
	$(BIN)/homerec demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

promtool:
	bash deploy/dev/ensure-prometheus.sh
	bash .ci/promtool.sh

pytest: install kafka-start
	$(BIN)/pytest

test: lint typecheck promtool pytest

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
