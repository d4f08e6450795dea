# crftag: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
MODEL  ?= models/wnut16-crf.crftag

# Data comes through the resource registry; ../shared is an offline mirror of it.
ifneq ($(wildcard ../shared/datasets),)
export CRFTAG_MIRROR ?= $(abspath ../shared)
endif

.PHONY: demo test lint install clean

$(BIN)/crftag: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/crftag

## The main job: install, fetch WNUT16, train the default CRF, evaluate on dev, tag samples.
demo: install
	$(BIN)/crftag fetch wnut16:train wnut16:dev
	$(BIN)/crftag train wnut16:train --dev wnut16:dev -o $(MODEL)
	$(BIN)/crftag eval -m $(MODEL) wnut16:dev
	$(BIN)/crftag tag -m $(MODEL) --output-format text tests/fixtures/sample_tweets.txt

## The tests (CI runs this).
test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check crftag tests bench

clean:
	rm -rf $(VENV) models .pytest_cache
