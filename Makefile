# Two commands get a fresh clone going: `make test` and `make run`.
# Both start with `make setup`: a Python 3.10 virtualenv in .venv with the
# pinned dependency set (requirements.lock) and this project installed editable.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIP_VERSION := 24.2

# TFX 1.16 supports Python 3.9-3.10 only. A pyenv shim may exist without the
# version being active, so probe each candidate by running it.
PYTHON310 ?= $(shell for p in python3.10 $(HOME)/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { echo $$p; break; }; done)

RUN_ARGS ?=
PYTEST_ARGS ?=
# The integration and e2e tiers mostly wait on one core (process start-up, TFX, Beam), so they run
# on pytest-xdist workers, one per core; each test file goes whole to one worker (module- and
# session-scoped fixtures run once), the longest files first (tests/conftest.py). TEST_WORKERS=0
# runs in this one process.
TEST_WORKERS ?= auto
XDIST := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

.PHONY: setup test test-fast test-integration test-e2e test-bench run lock clean specs config-docs results-docs image bench bench-quick

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@if [ -z "$(PYTHON310)" ]; then echo "make: python3.10 not found (TFX 1.16 needs Python 3.10); install it or pass PYTHON310=/path/to/python3.10" >&2; exit 2; fi
	@if [ ! -x $(PY) ]; then echo "creating $(VENV) with $(PYTHON310)"; $(PYTHON310) -m venv $(VENV); fi
	$(PY) -m pip install --quiet --disable-pip-version-check pip==$(PIP_VERSION)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Test tiers (docs/testing.md): unit (no marker), integration, e2e, and bench (the
# benchmark scripts' smoke runs). `make test` runs the first three (CI); the others
# run one tier each; `make bench` runs the bench tier before the benchmarks.
test: setup
	$(PY) -m pytest -m "not bench" $(XDIST) $(PYTEST_ARGS)

# The unit tier without its slow tests: in-process, no TFX executors, pipelines, worker processes or
# services, nothing that takes a second (under a minute on 2 cores; docs/testing.md).
test-fast: setup
	$(PY) -m pytest -m "not e2e and not integration and not slow" $(PYTEST_ARGS)

test-integration: setup
	$(PY) -m pytest -m "integration and not e2e" $(XDIST) $(PYTEST_ARGS)

test-e2e: setup
	$(PY) -m pytest -m "e2e and not bench" $(XDIST) $(PYTEST_ARGS)

# The benchmark scripts end to end on tiny budgets (minutes; not in `make test`).
test-bench: setup
	$(PY) -m pytest -m bench $(PYTEST_ARGS)

# The main job on the embedded default: a search on the built-in mnist1d data
# with a small budget. Results go to runs/mnist1d unless RUN_ARGS says otherwise.
run: setup
	$(VENV)/bin/model-search run --dataset mnist1d --output runs/mnist1d $(RUN_ARGS)

# Benchmarks (benchmarks/run_all.py): results and SUMMARY.md in benchmarks/results.
# bench-quick runs cut-down versions in under 10 minutes (into benchmarks/results/quick);
# bench runs everything at full size - the search-efficiency part takes hours.
bench: setup test-bench
	$(PY) benchmarks/run_all.py

bench-quick: setup
	$(PY) benchmarks/run_all.py --quick

# Re-resolve the dependency set from pyproject.toml into requirements.lock.
lock:
	rm -rf .lock-venv && $(PYTHON310) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet pip==$(PIP_VERSION)
	.lock-venv/bin/python -m pip install --quiet ".[test,bench]"
	.lock-venv/bin/python -m pip freeze --exclude tfx-model-search > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# Compiled Kubeflow v2 / Vertex AI specs of the example studies (checked for
# freshness by tests/pipeline/test_kfp_specs.py).
SPEC_IMAGE := tfx-model-search:0.1.0
SPEC_ROOT := gs://YOUR_BUCKET/model-search
EXAMPLE_STUDIES := mnist1d digits

specs: setup
	@for study in $(EXAMPLE_STUDIES); do \
		$(VENV)/bin/model-search compile examples/$$study.yaml --target kubeflow --image $(SPEC_IMAGE) \
			--pipeline-root $(SPEC_ROOT)/$$study --out kfp_specs/$$study.json || exit 1; \
	done

# The study config's reference, docs/config.md, and its JSON Schema for editors,
# docs/config.schema.json, from pipeline/config_schema.py (checked for
# freshness by tests/pipeline/test_config_schema.py).
config-docs: setup
	$(PY) -m pipeline.config_docs

# Every results table of docs/results.md, README.md and benchmarks/results/SUMMARY.md,
# and each raw file's own .md, rendered again from benchmarks/results/*.json (nothing
# measured; checked for freshness by tests/benchmarks/test_results_docs.py).
results-docs: setup
	$(PY) -m benchmarks.results_docs

# The component image (Dockerfile); push it where the cluster pulls from, e.g.
#   make image IMAGE=europe-docker.pkg.dev/PROJECT/REPO/tfx-model-search:0.1.0 && docker push $(IMAGE)
IMAGE ?= $(SPEC_IMAGE)

image:
	@if ! command -v docker >/dev/null 2>&1; then \
		echo "make image: docker is not installed here; build on a machine with Docker: docker build -t $(IMAGE) ." >&2; exit 2; fi
	@if ! docker info >/dev/null 2>&1; then \
		echo "make image: the Docker daemon is not reachable (docker info failed); start it or build elsewhere" >&2; exit 2; fi
	docker build -t $(IMAGE) .
