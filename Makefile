# One entry point. `make book` (main job) and `make test` each do their own set-up.
PY := .venv/bin/python
PROFILE ?= standard
DATASET ?=

.PHONY: book test test-slow train-all data venv clean-build
book: venv data  ## execute the notebooks (reusing up-to-date ones; FORCE=1 re-executes all pages, RETRAIN=1 also retrains) and build the HTML book
	PYTHONUNBUFFERED=1 $(PY) -m hbn book --profile $(PROFILE) $(if $(DATASET),--dataset $(DATASET)) $(if $(FORCE),--force) $(if $(RETRAIN),--retrain)

test: venv  ## unit tests + nbval regression checks on the smoke notebooks (not the slow end-to-end ones)
	-PYTHON=$(PY) scripts/get-fashion-mnist.sh  # optional: only the real-data split test needs it
	$(PY) -m pytest --nbval-lax -p no:cacheprovider -m "not slow"

test-slow: venv  ## the slow end-to-end tests: the README's book examples run as written, trainings in real processes (CI runs them too)
	$(PY) -m pytest -p no:cacheprovider -m slow tests

train-all: venv data  ## train and evaluate the five models (no book)
	$(PY) -m hbn train-all --profile $(PROFILE) $(if $(DATASET),--dataset $(DATASET))

data: venv  ## the profile's data: Fashion-MNIST, and Tiny ImageNet 100/20 for the tiny profile
	PYTHON=$(PY) scripts/get-fashion-mnist.sh
	$(if $(filter tiny,$(PROFILE)),PYTHON=$(PY) scripts/get-tiny-imagenet.sh)

venv: .venv/.installed
.venv/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[all]"
	touch $@

clean-build:
	rm -rf _build
