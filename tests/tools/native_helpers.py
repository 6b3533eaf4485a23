"""Shared bits of the native-kernel tests: a host build of the C kernels and an
edgeloop interpreter whose heavy ops run them (everything else stays portable)."""

from __future__ import annotations

import io
import shutil

import pytest

HEAVY = ("fully_connected", "conv_2d", "depthwise_conv_2d")
# every kernel with a C version (el_misc.c adds the light ops, el_softmax.c SOFTMAX); reshape moves no bytes
NATIVE = HEAVY + ("pool_2d", "add", "mean", "lut8", "concatenation", "softmax", "transpose_conv",
                    "batch_matmul", "lstm")


def host_kernels(tmp_path_factory):
    if not shutil.which("gcc"):
        pytest.skip("host gcc is not installed (needed to build the native kernels)")
    from tests.tools.native_host import HostKernels
    return HostKernels(tmp_path_factory.mktemp("native_build"))


def native_interpreter(kernels, blob: bytes):
    """Interpreter on the portable level with every op that has a C kernel swapped for it."""
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model

    interp = Interpreter(Model(io.BytesIO(blob)), ("kernels",))
    evals = kernels.evals()
    used = []
    steps = []
    for (ev, params), (_opcode, name, _p, _out) in zip(interp.steps, interp.model.ops):
        if name in evals:
            ev = evals[name]
            used.append(name)
        steps.append((ev, params))
    interp.steps = steps
    return interp, used
