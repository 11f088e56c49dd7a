# Two entry points for a fresh machine: `make run` and `make test`.
# Each does all of its own set-up (virtual environment, torch CPU wheel first, then the project).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOIDAP := $(VENV)/bin/hoidap
STAMP := $(VENV)/.hoidap-installed

.PHONY: setup run test test-milvus lint index clean train-reader

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[web,test,scale]'
	touch $(STAMP)

setup: $(STAMP)

index: setup
	$(HOIDAP) index build seeds

run: index
	$(HOIDAP) serve  # chat at http://127.0.0.1:7860/, REST API under /api, docs at /docs

test: setup
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

train-reader: setup  # CPU: ~90 min training + ~15 min evaluation on 2 cores; writes qa/models/reader/
	$(PY) scripts/train_reader.py --resume  # checkpoints in ~/.cache/hoidap/train/ (docs/reader.md)

test-milvus: setup  # the engine suite against a real Milvus as well (docs/scaling.md)
	test -n "$(HOIDAP_TEST_MILVUS_URI)" || (echo "set HOIDAP_TEST_MILVUS_URI=http://HOST:19530"; exit 2)
	HOIDAP_TEST_MILVUS_URI=$(HOIDAP_TEST_MILVUS_URI) $(PY) -m pytest -q tests/test_engines.py

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
