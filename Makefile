# mpy_ocpp host tooling. Everything comes from the package registries (PyPI, npm):
#   make test   pytest on CPython, incl. the MicroPython unix port and the wasm port
#   make demo   the CSMS + charge point demo (DEMO_ARGS=--micropython for the unix port)
#   make mpy    compile the library with mpy-cross into build/mpy/ and print sizes
#   make bench  benchmarks (BENCH_ARGS=... passed through)
#   make clean  build outputs and caches; `make distclean` also drops .venv and node_modules

PYTHON ?= python3
NPM ?= npm
VENV := .venv
PY := $(VENV)/bin/python
MPY_CROSS := $(VENV)/bin/mpy-cross
VENV_STAMP := $(VENV)/.stamp
WASM_DIR := tools/wasm
WASM_STAMP := $(WASM_DIR)/node_modules/.stamp
MPY_DIR := build/mpy
PYTEST_ARGS ?=
DEMO_ARGS ?=
BENCH_ARGS ?=

MPY_SRC := $(sort $(shell find mpy_ocpp boards -name '*.py' 2>/dev/null))
MPY_OUT := $(patsubst %.py,$(MPY_DIR)/%.mpy,$(MPY_SRC))
# pytest.ini names the test paths; without it, say them here
TEST_PATHS := $(if $(wildcard pytest.ini),,tests_host)

.PHONY: all venv wasm test demo mpy bench clean distclean
.DELETE_ON_ERROR:

all: test

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check --no-input -q -r requirements.txt
	touch $@

wasm: $(WASM_STAMP)

# npm ci installs exactly package-lock.json
$(WASM_STAMP): $(WASM_DIR)/package.json $(WASM_DIR)/package-lock.json
	cd $(WASM_DIR) && $(NPM) ci --no-audit --no-fund
	touch $@

test: $(VENV_STAMP) $(WASM_STAMP)
	$(PY) -m pytest -q $(TEST_PATHS) $(PYTEST_ARGS)

demo: $(VENV_STAMP)
	$(PY) tools/demo.py $(DEMO_ARGS)

bench: $(VENV_STAMP) $(WASM_STAMP) mpy
	$(PY) tools/bench.py $(BENCH_ARGS)

$(MPY_DIR)/%.mpy: %.py | $(VENV_STAMP)
	@mkdir -p $(@D)
	$(MPY_CROSS) -O2 -o $@ $<

# Also drops .mpy files whose source is gone, so build/mpy mirrors the sources.
mpy: $(MPY_OUT)
	@find $(MPY_DIR) -name '*.mpy' 2>/dev/null | while read -r f; do \
	  case " $(MPY_OUT) " in *" $$f "*) ;; *) echo "rm stale $$f"; rm -f "$$f";; esac; done
	@printf '%8s %8s  %s\n' .py .mpy module; tp=0; tm=0; \
	for f in $(MPY_SRC); do \
	  p=$$(wc -c < $$f); m=$$(wc -c < $(MPY_DIR)/$${f%.py}.mpy); tp=$$((tp + p)); tm=$$((tm + m)); \
	  printf '%8d %8d  %s\n' $$p $$m $$f; done; \
	printf '%8d %8d  total\n' $$tp $$tm

clean:
	rm -rf build .pytest_cache .hypothesis
	find . \( -path ./$(VENV) -o -name node_modules -o -name .git \) -prune \
	  -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(WASM_DIR)/node_modules
