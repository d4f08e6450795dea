# crftag: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
MODEL  ?= models/wnut16-crf.crftag
DEV_MODEL ?= models/wnut16-crf-train-only.crftag

# Data comes through the resource registry; ../shared is an offline mirror of it.
ifneq ($(wildcard ../shared/datasets),)
export CRFTAG_MIRROR ?= $(abspath ../shared)
endif

.PHONY: demo test lint install clean bench

# PyTorch for the optional bilstm-crf backend and its tests (crftag[neural]). Pip prefers a
# CPU build (2.13.0+cpu) where a wheel cache or PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
# offers one, else takes PyPI's. TORCH= (empty) skips it and transformers: those tests are then skipped.
TORCH ?= torch==2.13.*

# Each target installs what it uses, no more: `make demo` crftag itself (no torch, transformers
# or Spark); `make test` adds the test tools, pyspark and (TORCH) torch with transformers;
# `make lint` adds ruff. Stamps in the venv record what is installed.
$(BIN)/crftag: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.test-deps: $(BIN)/crftag
	$(BIN)/python -m pip install --quiet -e '.[test,spark]' $(if $(TORCH),'$(TORCH)' 'transformers>=4.40')
	@touch $@

$(VENV)/.lint-deps: $(BIN)/crftag
	$(BIN)/python -m pip install --quiet -e '.[lint]'
	@touch $@

install: $(BIN)/crftag

## The main job: install, fetch the data, train the default CRF on train and score it on
## dev, then train the final model on train+dev and tag sample tweets with it.
demo: install
	$(BIN)/crftag fetch wnut16:train wnut16:dev brown:ark-twitter-6mpaths lexicons:wnut16 lexicons:wikidata2016
	$(BIN)/crftag train wnut16:train --dev wnut16:dev -o $(DEV_MODEL)
	$(BIN)/crftag eval -m $(DEV_MODEL) wnut16:dev
	$(BIN)/crftag train wnut16:train wnut16:dev -o $(MODEL)
	$(BIN)/crftag info $(MODEL)
	$(BIN)/crftag tag -m $(MODEL) --output-format text tests/fixtures/sample_tweets.txt

## Compare the backends on WNUT16 train/dev (crftag bench): table, JSON and chart in bench-results/.
bench: $(VENV)/.test-deps
	$(BIN)/crftag bench --out bench-results

## The tests (CI runs this).
test: $(VENV)/.test-deps
	$(BIN)/python -m pytest -q

lint: $(VENV)/.lint-deps
	$(BIN)/ruff check crftag tests bench

clean:
	rm -rf $(VENV) models bench-results .pytest_cache
