"""The C audio front end (el_audio.c) on the host through ctypes, stage by stage.

The parameters go through the board's own packer (edgeloop_fw.audio.native.pack)
and the C's own binder (el_audio_bind), so the host runs exactly what a board
with elnative.mpy runs. Each stage writes numpy arrays shaped like TFLM's
tensors, for tests that compare them with the preprocessor model's.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from edgeloop.native import build
from edgeloop_fw.audio import native, params


def _p(a: np.ndarray) -> int:
    return a.ctypes.data


class HostAudio:
    def __init__(self, build_dir: Path, p=None):
        self.lib = lib = ctypes.CDLL(str(build.host_library(Path(build_dir))))
        v, i32 = ctypes.c_void_p, ctypes.c_int32
        lib.el_audio_bind.argtypes = [v, v, ctypes.c_size_t, v, ctypes.c_size_t]
        lib.el_audio_bind.restype = ctypes.c_char_p
        lib.el_audio_scratch_bytes.argtypes = [v]
        lib.el_audio_scratch_bytes.restype = ctypes.c_size_t
        lib.el_audio_window.argtypes = [v, v, v]
        lib.el_audio_window.restype = i32
        lib.el_audio_sqrt.argtypes = [v, v, i32, v]
        for name in ("frame",):
            getattr(lib, "el_audio_" + name).argtypes = [v, v, v, v, v]
        for name in ("rfft", "spectral_subtraction", "pcan"):
            getattr(lib, "el_audio_" + name).argtypes = [v, v, v, v]
        for name in ("energy", "filterbank", "log", "int8"):
            getattr(lib, "el_audio_" + name).argtypes = [v, v, v]
        self.params = p = p or params.load()
        hdr, tables = native.pack(p)
        self.header = np.frombuffer(bytes(hdr), dtype=np.int32).copy()
        self.tables = np.frombuffer(bytes(tables), dtype=np.int16).copy()
        self._a = ctypes.create_string_buffer(512)
        self.bind()
        self.nch = p.NUM_CHANNELS
        self.fft = p.FFT_LENGTH
        self.noise = np.zeros(self.nch, np.uint32)
        self.scratch = np.zeros((lib.el_audio_scratch_bytes(self._a) + 7) // 8, np.uint64)

    def bind(self) -> None:
        """(Re)bind after changing header or tables; raises ValueError with the C's reason."""
        why = self.lib.el_audio_bind(self._a, _p(self.header), len(self.header), _p(self.tables),
                                     len(self.tables))
        if why:
            raise ValueError(why.decode())

    def reset(self) -> None:
        self.noise[:] = 0

    def frame(self, samples: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(samples, dtype=np.int16)
        out = np.zeros(self.nch, np.int8)
        self.lib.el_audio_frame(self._a, _p(x), _p(self.noise), _p(self.scratch), _p(out))
        return out

    # -- stages (inputs as TFLM's tensors; outputs likewise) --
    def window(self, samples):
        x = np.ascontiguousarray(samples, dtype=np.int16)
        out = np.zeros(self.fft, np.int16)
        bits = self.lib.el_audio_window(self._a, _p(x), _p(out))
        return out, bits

    def rfft(self, x):
        x = np.ascontiguousarray(x, dtype=np.int16)
        work = np.zeros(self.fft, np.int32)
        out = np.zeros(self.fft + 2, np.int16)
        self.lib.el_audio_rfft(self._a, _p(x), _p(work), _p(out))
        return out

    def energy(self, spectrum):
        s = np.ascontiguousarray(spectrum, dtype=np.int16)
        out = np.zeros(self.fft // 2 + 1, np.uint32)
        self.lib.el_audio_energy(self._a, _p(s), _p(out))
        return out

    def filterbank(self, energy):
        e = np.ascontiguousarray(energy, dtype=np.uint32)
        out = np.zeros(self.nch, np.uint64)
        self.lib.el_audio_filterbank(self._a, _p(e), _p(out))
        return out

    def sqrt(self, fb, bits):
        x = np.ascontiguousarray(fb, dtype=np.uint64)
        out = np.zeros(self.nch, np.uint32)
        self.lib.el_audio_sqrt(self._a, _p(x), int(bits), _p(out))
        return out

    def spectral_subtraction(self, x, noise):
        """noise is updated in place (a uint32 array)."""
        x = np.ascontiguousarray(x, dtype=np.uint32)
        out = np.zeros(self.nch, np.uint32)
        self.lib.el_audio_spectral_subtraction(self._a, _p(x), _p(noise), _p(out))
        return out

    def pcan(self, noise, x):
        n = np.ascontiguousarray(noise, dtype=np.uint32)
        x = np.ascontiguousarray(x, dtype=np.uint32)
        out = np.zeros(self.nch, np.uint32)
        self.lib.el_audio_pcan(self._a, _p(n), _p(x), _p(out))
        return out

    def log(self, x):
        x = np.ascontiguousarray(x, dtype=np.uint32)
        out = np.zeros(self.nch, np.int16)
        self.lib.el_audio_log(self._a, _p(x), _p(out))
        return out

    def int8(self, x):
        x = np.ascontiguousarray(x, dtype=np.int16)
        out = np.zeros(self.nch, np.int8)
        self.lib.el_audio_int8(self._a, _p(x), _p(out))
        return out
