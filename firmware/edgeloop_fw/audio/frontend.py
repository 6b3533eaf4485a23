"""The micro_speech audio front end: 30 ms of int16 audio in, 40 int8 features out.

Runs TFLM's preprocessor graph (audio_preprocessor_int8.tflite) stage by stage
with the same integer arithmetic, so the features are bit-identical to
TFLM's and micro_speech_quantized.tflite works unchanged. Every buffer is made
in the constructor; `process()` only writes into them. The per-stage buffers
stay readable as attributes, which the stage-level tests compare with TFLM's
intermediate tensors.
"""

from array import array

from . import params as _params
from .fft import Rfft16
from .filterbank import energy, filterbank, filterbank_sqrt
from .logscale import filterbank_log, to_int8
from .noise import pcan, spectral_subtraction
from .window import apply_window, fft_auto_scale


def frame_count(n_samples, frame_length=480, stride=320):
    """Frames a clip of n_samples yields (49 for one second at 16 kHz)."""
    if n_samples < frame_length:
        return 0
    return 1 + (n_samples - frame_length) // stride


class AudioFrontend:
    """Stateful per clip (the noise estimate): call reset() before each new clip."""

    STRIDE = 320  # 20 ms at 16 kHz, the step micro_speech was trained with

    def __init__(self, params=None):
        p = _params.load(params) if params is None or not isinstance(params, _params.Params) else params
        self.params = p
        self.frame_length = p.FRAME_LENGTH
        self.num_channels = nch = p.NUM_CHANNELS
        bins = p.FFT_LENGTH // 2 + 1
        self._fft = Rfft16(p.FFT_LENGTH, p.FFT_TWIDDLES, p.FFT_SUPER_TWIDDLES)
        # The FFT input: windowed, auto-scaled samples; the tail stays zero.
        self.windowed = [0] * p.FFT_LENGTH
        self.scale_bits = 0
        self.spectrum_re = [0] * bins
        self.spectrum_im = [0] * bins
        # Energy outside [ENERGY_START, ENERGY_END) is zero, as the graph's
        # slice + zero-concat makes it; process() only writes inside.
        self.energy = [0] * bins
        self.filterbank = [0] * nch
        self.amplitude = [0] * nch
        self.noise = [0] * nch
        self.denoised = [0] * nch
        self.gained = [0] * nch
        self.log = [0] * nch
        self.features = array("b", bytes(nch))

    def reset(self):
        """Forget the noise estimate (TFLM's reset() of the preprocessor)."""
        noise = self.noise
        for i in range(self.num_channels):
            noise[i] = 0

    def process(self, samples, offset=0):
        """Features of samples[offset : offset + frame_length] (int16 values).

        Returns the frontend's own int8 array: copy it to keep it past the
        next call.
        """
        p = self.params
        nch = self.num_channels
        n = self.frame_length
        buf = self.windowed
        apply_window(samples, offset, p.WINDOW, p.WINDOW_SHIFT, buf)
        self.scale_bits = bits = fft_auto_scale(buf, n)
        self._fft.run(buf, self.spectrum_re, self.spectrum_im)
        energy(self.spectrum_re, self.spectrum_im, p.ENERGY_START, p.ENERGY_END, self.energy)
        filterbank(self.energy, p.FB_WEIGHTS, p.FB_UNWEIGHTS, p.FB_FREQ_STARTS,
                   p.FB_WEIGHT_STARTS, p.FB_WIDTHS, nch, self.filterbank)
        filterbank_sqrt(self.filterbank, nch, bits, self.amplitude)
        spectral_subtraction(p, self.amplitude, nch, self.noise, self.denoised)
        pcan(p.PCAN_LUT, p.PCAN_SNR_SHIFT, self.noise, self.denoised, nch, self.gained)
        filterbank_log(self.gained, nch, p.LOG_CORRECTION_BITS, p.LOG_OUTPUT_SCALE,
                       p.LOG_LUT, self.log)
        to_int8(p, self.log, nch, self.features)
        return self.features

    def clip_features(self, samples, out=None):
        """All frames of one clip, 20 ms apart, as frames*channels int8 (resets first)."""
        frames = frame_count(len(samples), self.frame_length, self.STRIDE)
        nch = self.num_channels
        if out is None:
            out = array("b", bytes(frames * nch))
        self.reset()
        for f in range(frames):
            feats = self.process(samples, f * self.STRIDE)
            base = f * nch
            for i in range(nch):
                out[base + i] = feats[i]
        return out
