# `make demo` and `make test` are the two commands a fresh machine needs.
# Set-up is idempotent: each step re-runs only when its inputs change.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
# command:Debian-package pairs; a command already on PATH is not reinstalled.
SYSCMDS := node:nodejs npm:npm espeak-ng:espeak-ng sox:sox arm-none-eabi-gcc:gcc-arm-none-eabi qemu-system-arm:qemu-system-arm dfu-util:dfu-util

.PHONY: setup demo test system-packages clean-venv
setup: $(VENV)/.installed node_modules/.installed system-packages

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[tf,dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian packages: Node for the virtual board, espeak-ng/sox for keyword
# training, the Arm toolchain and QEMU for the Cortex-M kernels. Only the
# missing ones are installed, so a machine that has them pays nothing.
system-packages:
	@missing=""; for cp in $(SYSCMDS); do command -v $${cp%%:*} >/dev/null 2>&1 || missing="$$missing $${cp#*:}"; done; \
	case "$$missing" in *gcc-arm-none-eabi*) missing="$$missing libnewlib-arm-none-eabi";; esac; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

demo: setup
	$(VENV)/bin/edgeloop demo

test: setup
	$(PY) -m pytest -q

clean-venv:
	rm -rf $(VENV) node_modules
