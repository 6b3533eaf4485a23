"""The micro_speech audio front end: 30 ms of int16 audio in, 40 int8 features out.

Runs TFLM's preprocessor graph (audio_preprocessor_int8.tflite) stage by stage
with the same integer arithmetic, so the features are bit-identical to
TFLM's and micro_speech_quantized.tflite works unchanged.

Memory is spent once, in the constructor: the parameter tables, one buffer
per stage, and one generator per stage (its locals are its frame, kept for
good). `process()` only resumes the generators and writes into the buffers,
and every intermediate stays a small int on a 32-bit MicroPython, so a frame
allocates nothing. The per-stage buffers stay readable as attributes, which
the stage-level tests compare with TFLM's intermediate tensors.
"""

from array import array

from . import params as _params
from .fft import Rfft16
from .filterbank import energy_pass, filterbank_pass, sqrt_pass
from .logscale import int8_pass, log_pass
from .noise import pcan_pass, spectral_subtraction_pass
from .window import window_pass


def frame_count(n_samples, frame_length=480, stride=320):
    """Frames a clip of n_samples yields (49 for one second at 16 kHz)."""
    if n_samples < frame_length:
        return 0
    return 1 + (n_samples - frame_length) // stride


def _primed(gen):
    next(gen)
    return gen


def _native_frame():
    """elnative.audio_frame, or None when the native module is absent (CPython,
    CircuitPython, the WebAssembly board, no deploy) or is a build without the front
    end. Probed here, not in audio.native, so that its packing code and name tables
    (~2 KB of heap) load only on a board that runs the C."""
    try:
        from ..runtime.native import elnative
    except (ImportError, ValueError, SyntaxError, NotImplementedError):
        return None
    return getattr(elnative, "audio_frame", None)


def _viper_stages():
    """audio.viper (machine code from the window to the filterbank), or None where it cannot
    load: CPython (no micropython module), CircuitPython (no viper decorator), a board
    without a native emitter (deploy skipped the file) or a .mpy for another arch."""
    try:
        from . import viper
    except (ImportError, SyntaxError, ValueError, AttributeError, NameError):
        return None
    return viper


def _viper_bands(p):
    """viper.fb_sqrt's band table (int16: start, weight start, width per band, then the
    energy bounds), or None when the parameters leave what it computes exactly or could
    make it read past a table (viper checks no bounds): every band inside the spectrum
    and the weight tables, weights in 0..4096 summing to at most 2**16 per channel."""
    nch = p.NUM_CHANNELS
    bins = p.FFT_LENGTH // 2 + 1
    fs, ws, wd = p.FB_FREQ_STARTS, p.FB_WEIGHT_STARTS, p.FB_WIDTHS
    wt, uw = p.FB_WEIGHTS, p.FB_UNWEIGHTS
    if len(fs) < nch + 1 or len(ws) < nch + 1 or len(wd) < nch + 1:
        return None
    if not (0 <= p.ENERGY_START <= p.ENERGY_END <= bins) or not len(p.WINDOW) == p.FRAME_LENGTH <= p.FFT_LENGTH:
        return None
    band = array("h", bytes(2 * (3 * nch + 5)))
    prev = 0
    for c in range(nch + 1):
        f, w, n = fs[c], ws[c], wd[c]
        if f < 0 or w < 0 or n < 0 or f + n > bins or w + n > len(wt) or w + n > len(uw):
            return None
        total = prev
        prev = 0
        for j in range(w, w + n):
            if not (0 <= wt[j] <= 4096 and 0 <= uw[j] <= 4096):
                return None
            total += wt[j]
            prev += uw[j]
        if total > 65536:
            return None
        band[3 * c] = f
        band[3 * c + 1] = w
        band[3 * c + 2] = n
    band[3 * nch + 3] = p.ENERGY_START
    band[3 * nch + 4] = p.ENERGY_END
    return band


def _viper_tail(p, vp):
    """viper.tail's int16 scalars, or None when the parameters leave the ranges it computes
    exactly in (u)int32 (then the tail stays portable): coefficients and shifts below 2**15,
    PCAN's LUT giving a non-negative int16 gain for every noise estimate."""
    cfg = (p.SS_SMOOTHING_BITS, p.SS_SPECTRAL_SUBTRACTION_BITS, 15 - p.SS_SPECTRAL_SUBTRACTION_BITS,
           1 if p.SS_CLAMPING else 0, p.SS_MIN_SIGNAL_REMAINING, p.SS_SMOOTHING, p.SS_ONE_MINUS_SMOOTHING,
           p.SS_ALTERNATE_SMOOTHING, p.SS_ALTERNATE_ONE_MINUS_SMOOTHING, p.PCAN_SNR_SHIFT,
           15 - p.PCAN_SNR_SHIFT, p.LOG_CORRECTION_BITS, p.LOG_OUTPUT_SCALE)
    signed = (p.OUT_MUL, p.OUT_ADD, p.OUT_DIV, p.OUT_OFFSET, p.OUT_MIN, p.OUT_MAX)
    if cfg[0] > 16 or cfg[11] > 16 or not all(0 <= v < 32768 for v in cfg):
        return None
    if not all(-32768 <= v < 32768 for v in signed) or p.OUT_DIV <= 0 or len(p.LOG_LUT) < 129:
        return None
    if not vp.pcan_ok(p.PCAN_LUT, len(p.PCAN_LUT)):
        return None
    return array("h", cfg + signed)


class AudioFrontend:
    """Stateful per clip (the noise estimate): call reset() before each new clip."""

    STRIDE = 320  # 20 ms at 16 kHz, the step micro_speech was trained with

    def __init__(self, params=None, level=None):
        """level: "native" (the C in elnative.mpy), "viper" (audio/viper.py's machine code
        from the window to the filterbank's square root, the rest portable), "portable" (this package's Python)
        or None for the fastest the board has, in that order."""
        p = params if isinstance(params, _params.Params) else _params.load(params)
        self.params = p
        self.frame_length = p.FRAME_LENGTH
        self.num_channels = nch = p.NUM_CHANNELS
        self.features = array("b", bytes(nch))
        if level not in (None, "native", "viper", "portable"):
            raise ValueError("level %r: use 'native', 'viper', 'portable' or None" % (level,))
        fn = _native_frame() if level in (None, "native") else None
        if level == "native" and fn is None:
            raise ValueError("no native audio front end on this board (elnative.mpy with audio_frame)")
        self._c = fn
        vp = _viper_stages() if fn is None and level in (None, "viper") else None
        if level == "viper" and vp is None:
            raise ValueError("no viper audio front end here (needs MicroPython with a native emitter)")
        band = _viper_bands(p) if vp else None
        if level == "viper" and band is None:
            raise ValueError("these front-end parameters are outside what the viper filterbank sums exactly")
        vp = vp if band else None
        self._v = vp
        self.level = "native" if fn else "viper" if vp else "portable"
        if fn:
            # The C keeps nothing: parameters packed once, one work buffer whose tail
            # is the noise estimate (4 bytes per channel).
            from . import native as _native

            self._hdr, self._tables = _native.pack(p)
            self._work = bytearray(_native.work_size(self._hdr, self._tables))
            self._noise_at = len(self._work) - 4 * nch
            return
        bins = p.FFT_LENGTH // 2 + 1
        fft = Rfft16(p.FFT_LENGTH, p.FFT_TW_RE, p.FFT_TW_IM, p.FFT_SUPER_RE, p.FFT_SUPER_IM,
                     int16_work=bool(vp))
        # The FFT input: windowed, auto-scaled samples (int16); the tail stays zero.
        self.windowed = array("h", range(p.FFT_LENGTH))
        for i in range(p.FFT_LENGTH):
            self.windowed[i] = 0
        self.scale_bits = 0
        if vp:  # int16, as the viper FFT stores them (TFLM's own type)
            self.spectrum_re = array("h", bytes(2 * bins))
            self.spectrum_im = array("h", bytes(2 * bins))
        else:
            self.spectrum_re = [0] * bins
            self.spectrum_im = [0] * bins
        # Energy outside [ENERGY_START, ENERGY_END) is zero, as the graph's
        # slice + zero-concat makes it; the energy stage only writes inside.
        self.energy = [0] * bins
        self.filterbank_hi = [0] * nch  # channel sums: hi * 2**14 + lo (filterbank.LIMB)
        self.filterbank_lo = [0] * nch
        self.amplitude = [0] * nch
        self.noise = [0] * nch
        self.denoised = [0] * nch
        self.gained = [0] * nch
        self.log = [0] * nch
        self._src = [None]  # the samples of the frame being processed
        self._window = _primed(window_pass(self._src, p.WINDOW, p.WINDOW_SHIFT, self.windowed))
        if vp:
            # window and FFT through the filterbank's square root in machine code
            self.amplitude = array("I", bytes(4 * nch))
            self._fft = fft
            self._band = band
            self._stages = ()
            self._sqrt = _primed(self._viper_pass(self.windowed, self.spectrum_re, self.spectrum_im))
        else:
            self._stages = [_primed(g) for g in (
                fft.passes(self.windowed, self.spectrum_re, self.spectrum_im),
                energy_pass(self.spectrum_re, self.spectrum_im, p.ENERGY_START, p.ENERGY_END, self.energy),
                filterbank_pass(self.energy, p.FB_WEIGHTS, p.FB_UNWEIGHTS, p.FB_FREQ_STARTS,
                                p.FB_WEIGHT_STARTS, p.FB_WIDTHS, nch, self.filterbank_hi, self.filterbank_lo))]
            self._sqrt = _primed(sqrt_pass(self.filterbank_hi, self.filterbank_lo, nch, self.amplitude))
        tail_cfg = _viper_tail(p, vp) if vp else None
        if tail_cfg:
            self.noise = array("I", bytes(4 * nch))  # uint32, as viper.tail keeps it
            self._tail = [_primed(self._viper_tail_pass(tail_cfg))]
            return
        self._tail = [_primed(g) for g in (
            spectral_subtraction_pass(p, self.amplitude, nch, self.noise, self.denoised),
            pcan_pass(p.PCAN_LUT, p.PCAN_SNR_SHIFT, self.noise, self.denoised, nch, self.gained),
            log_pass(self.gained, nch, p.LOG_CORRECTION_BITS, p.LOG_OUTPUT_SCALE, p.LOG_LUT, self.log),
            int8_pass(p, self.log, nch, self.features))]

    def _viper_pass(self, x, out_r, out_i):
        """FFT to amplitudes at the viper level, a generator like the portable stages:
        `send(scale_bits)` runs one frame."""
        v = self._v
        fft = self._fft
        n = fft.n
        wr = fft._wr
        wi = fft._wi
        perm2 = fft._perm2
        twr = fft._twr
        twi = fft._twi
        sr = fft._str
        si = fft._sti
        load = v._load
        bfly4 = v._bfly4
        split = v._split
        fb_sqrt = v.fb_sqrt
        band = self._band
        p = self.params
        weights = p.FB_WEIGHTS
        unweights = p.FB_UNWEIGHTS
        nch = self.num_channels
        amp = self.amplitude
        while True:
            bits = yield
            load(x, perm2, wr, wi, n)
            bfly4(0, 0, 0, wr, wi, twr, twi, n)
            split(wr, wi, sr, si, n, out_r, out_i)
            fb_sqrt(0, 0, 0, out_r, out_i, band, weights, unweights, nch, bits, amp)

    def _viper_tail_pass(self, cfg):
        """Spectral subtraction .. int8 at the viper level: a generator, one next() per frame."""
        tail = self._v.tail
        amp = self.amplitude
        noise = self.noise
        p = self.params
        pcan_lut = p.PCAN_LUT
        log_lut = p.LOG_LUT
        nch = self.num_channels
        out = self.features
        while True:
            yield
            tail(amp, noise, cfg, pcan_lut, log_lut, nch, out)

    @property
    def filterbank(self):
        """The filterbank sums as plain ints (TFLM's uint64 tensor); builds a list - for tests."""
        return [h * 16384 + lo for h, lo in zip(self.filterbank_hi, self.filterbank_lo)]

    def reset(self):
        """Forget the noise estimate (TFLM's reset() of the preprocessor)."""
        if self._c:
            work = self._work
            for i in range(self._noise_at, len(work)):
                work[i] = 0
            return
        noise = self.noise
        for i in range(self.num_channels):
            noise[i] = 0

    def process(self, samples, offset=0):
        """Features of samples[offset : offset + frame_length] (int16 values).

        Returns the frontend's own int8 array: copy it to keep it past the
        next call.
        """
        if self._c:
            self._c(self._hdr, self._tables, self._work, samples, offset, self.features)
            return self.features
        if self._v and type(samples) is array:
            # viper reads without bounds checks: the frame must lie in samples, an array('h')
            # (any other sequence goes through the portable window below)
            n = self.frame_length
            if offset < 0 or offset + n > len(samples):
                raise ValueError("samples[%d:%d] is outside the %d samples" % (offset, offset + n, len(samples)))
            p = self.params
            self.scale_bits = bits = self._v.window(0, 0, 0, samples, offset, p.WINDOW, n, p.WINDOW_SHIFT,
                                                    self.windowed)
        else:
            self._src[0] = samples
            self.scale_bits = bits = self._window.send(offset)
            self._src[0] = None
        for g in self._stages:
            next(g)
        self._sqrt.send(bits)
        for g in self._tail:
            next(g)
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
