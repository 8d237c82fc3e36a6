# kratix-py developer tasks. `make test` and `make demo` work on a fresh machine: they install
# what they need first (system packages as root, a virtualenv in .venv, the podman base image).

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help setup setup-platform setup-system setup-python setup-images setup-backstage setup-components test test-unit lint crds demo bench e2e-kind example-images charts clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

setup: setup-platform setup-backstage setup-components  ## install everything the tests need

setup-platform: setup-system setup-python setup-images  ## what the demo and the local platform need

setup-system:  ## Debian packages: podman, runc, git, openssh, debootstrap (needs root)
	bash scripts/setup-system.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup-python: $(VENV)/.installed  ## a virtualenv in .venv with kratix-py and its dev tools

setup-backstage:  ## npm packages (Backstage's validators) the Backstage tests check with (needs Node.js 20+)
	bash scripts/setup-backstage-js.sh

setup-components:  ## build the real control plane, Helm and Flux from their Go modules (cached; pins in tools/components/versions.env)
	bash scripts/build-components.sh

setup-images: setup-python  ## the podman base image, built once from Debian packages and reused
	$(PY) -m kratix_py.local_platform.images

test: setup  ## run the whole test suite (unit, conformance, integration with real containers)
	$(VENV)/bin/pytest

test-unit: setup-python  ## only the fast unit tests
	$(VENV)/bin/pytest tests/unit

lint: setup-python  ## ruff and mypy
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples
	$(VENV)/bin/mypy

example-images: setup-images  ## build the example Promises' pipeline images with podman
	$(PY) examples/build_images.py

crds: setup-python  ## regenerate crds/ from the API models (and the chart's copy)
	$(PY) -m kratix_py.api.crdgen --out crds
	$(PY) -m kratix_py.local_platform.helm sync

charts: setup-python  ## refresh the kratix chart's copy of crds/
	$(PY) -m kratix_py.local_platform.helm sync

demo: setup-platform  ## the whole flow on the local platform (no Go builds: the emulator is its API)
	$(VENV)/bin/kratix-py demo

bench: setup-platform  ## print the benchmark numbers
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

e2e-kind: setup-python  ## on a laptop with Docker: kind cluster + chart + the suites against it
	bash scripts/e2e-kind.sh

clean:  ## remove the virtualenv and caches (keeps podman images)
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .local-platform tests/backstage/js/node_modules
