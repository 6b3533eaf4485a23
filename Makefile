# `make demo` and `make test` are the two commands a fresh machine needs.
# Set-up is idempotent: each step re-runs only when its inputs change.
PYTHON ?= python3.11
VENV   := .venv
# onnx2tf (ONNX -> float TFLite) pins TensorFlow 2.19 and numpy 1.26, which cannot share .venv with
# the tf extra: edgeloop runs it as a program from this environment (EDGELOOP_ONNX2TF, docs/pytorch.md).
ONNX2TF_VENV := .venv-onnx2tf
PY     := $(VENV)/bin/python
# command:Debian-package pairs; a command already on PATH (or in /usr/sbin, where Debian puts
# mosquitto and which a normal user's PATH lacks) is not reinstalled.
SYSCMDS := node:nodejs npm:npm espeak-ng:espeak-ng sox:sox arm-none-eabi-gcc:gcc-arm-none-eabi qemu-system-arm:qemu-system-arm dfu-util:dfu-util stress-ng:stress-ng mosquitto:mosquitto qemu-xtensa:qemu-user xtensa-lx106-elf-as:binutils-xtensa-lx106
# `make test` runs the virtual-board tests a second time with this many CPU hogs per core
# (stress-ng): a busy machine must not turn a slow board into a failed test (issue 14).
HOGS_PER_CORE ?= 2
LOADED_TESTS  ?= -m sim

.PHONY: setup demo test test-loaded system-packages clean-venv
# Debian packages first: they bring npm (and Node) for the last step.
setup: system-packages $(VENV)/.installed node_modules/.installed $(ONNX2TF_VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile | system-packages
	@echo "setup: Python packages into $(VENV) (TensorFlow is a download of several hundred MB)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --progress-bar on --upgrade pip
	$(PY) -m pip install --progress-bar on -e '.[tf,torch,dev]'
	@# Keras 2, for LSTM models (only its LSTM becomes TFLite's fused UNIDIRECTIONAL_SEQUENCE_LSTM).
	@# Without its dependencies: it names "tensorflow", which tensorflow-cpu above already is.
	$(PY) -m pip install --progress-bar on --no-deps 'tf-keras==2.21.0'
	@touch $@

$(ONNX2TF_VENV)/.installed: Makefile | system-packages
	@echo "setup: onnx2tf for ONNX models, in its own environment $(ONNX2TF_VENV) (its own TensorFlow)"
	@test -x $(ONNX2TF_VENV)/bin/python || $(PYTHON) -m venv $(ONNX2TF_VENV) || python3 -m venv $(ONNX2TF_VENV)
	$(ONNX2TF_VENV)/bin/python -m pip install --progress-bar on 'onnx2tf==1.29.24'
	@touch $@

node_modules/.installed: package.json package-lock.json | system-packages
	@echo "setup: the virtual board's MicroPython (npm ci)"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian packages: Node and npm for the virtual board (Debian's Node 18 is enough),
# espeak-ng/sox for keyword training, the Arm toolchain and QEMU for the Cortex-M
# kernels, stress-ng for `make test`'s run under load, mosquitto and postgresql for the fleet
# tests' broker and database (Debian keeps initdb in /usr/lib/postgresql/<version>/bin).
# Only the missing ones are installed, so a machine that has them pays nothing.
system-packages:
	@missing=""; for cp in $(SYSCMDS); do command -v $${cp%%:*} >/dev/null 2>&1 || test -x /usr/sbin/$${cp%%:*} || missing="$$missing $${cp#*:}"; done; \
	{ command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 || missing="$$missing postgresql"; \
	case "$$missing" in *gcc-arm-none-eabi*) missing="$$missing libnewlib-arm-none-eabi";; esac; \
	if [ -n "$$missing" ]; then \
	  echo "setup: Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

demo: setup
	$(VENV)/bin/edgeloop demo

# The whole suite, then the virtual-board tests again under load; either failing fails `make test`.
test: setup
	@status=0; $(PY) -m pytest -q || status=$$?; \
	$(MAKE) --no-print-directory test-loaded || status=$$((status ? status : 1)); \
	exit $$status

# The hogs live only as long as this recipe (and never longer than stress-ng's own timeout).
test-loaded: setup
	@hogs=$$(( $(HOGS_PER_CORE) * $$(nproc) )); \
	echo "make test: the virtual-board tests ($(LOADED_TESTS)) again, with $$hogs CPU hogs on $$(nproc) core(s)"; \
	stress-ng --cpu $$hogs --timeout 45m --quiet & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null' EXIT INT TERM; \
	$(PY) -m pytest -q $(LOADED_TESTS)

clean-venv:
	rm -rf $(VENV) node_modules
