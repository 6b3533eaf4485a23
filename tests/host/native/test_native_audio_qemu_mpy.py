"""The C audio front end inside a real MicroPython: MicroPython's qemu port on Cortex-M0
(`microbit`, armv6m module) and Cortex-M7 (`mps2-an500`, armv7emdp module), the board's
own front end (edgeloop_fw.audio, .mpy as deploy compiles it) picking elnative.audio_frame.

Every hop of TFLM's yes clip gives TFLM's features at the native and viper levels, the
first hops at the portable level too, and the keyword spotter runs the shipped models/keyword model
on the native kernels. EDGELOOP_QEMU_MICROPYTHON / EDGELOOP_QEMU_MICROPYTHON_M7 name
the firmwares (960 KB-heap builds, docs/mlperf.md); each core skips when its is unset.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.firmware.cpython.test_audio_frontend import MODEL, read_wav
from tests.tools.paths import REPO

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not MODEL.exists(), reason="needs ../shared/data/tflm/micro_speech")]
ENV = {"m0": "EDGELOOP_QEMU_MICROPYTHON", "m7": "EDGELOOP_QEMU_MICROPYTHON_M7"}


@pytest.mark.parametrize("core", ["m0", "m7"])
def test_native_front_end_in_micropython_equals_tflm(core, tmp_path):
    firmware = os.environ.get(ENV[core], "")
    if not firmware:
        pytest.skip(f"{ENV[core]} is unset (path of a qemu-port firmware.elf built with native code)")
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make system-packages)")
    from edgeloop.native.build import native_module
    from tests.tools import qemu_kws, qemu_mpy
    from tests.tools.kws_reference import tflm_stream_features

    x = np.concatenate([np.frombuffer(read_wav(c), dtype=np.int16) for c in ("yes_1000ms", "no_1000ms")])
    blob = (REPO / "models" / "keyword" / "keyword.elm").read_bytes()
    r = qemu_kws.run(firmware, core, blob, x.tobytes(), native_module(qemu_mpy.ARCH[core], tmp_path),
                     kws_hops=4, portable_kws=False, viper_kws=False)
    want = tflm_stream_features(x[:16000]).tobytes()
    level, native_hex = r["fe_native"][1].split()[1:]
    assert level == "native" and bytes.fromhex(native_hex) == want
    level, portable_hex = r["fe_portable"][1].split()[1:]
    assert level == "portable" and bytes.fromhex(portable_hex) == want[:len(portable_hex) // 2]
    level, viper_hex = r["fe_viper"][1].split()[1:]  # audio/viper.py on 32-bit machine words
    assert level == "viper" and bytes.fromhex(viper_hex) == want
    assert "'conv_2d': 'native'" in r["invoke"][1]
    # one inference when the ring fills (hop 49), one more in the 4 steady hops
    assert r["kws_native"][1] == r["kws_native_feed"][1] == "KWS native 2"
