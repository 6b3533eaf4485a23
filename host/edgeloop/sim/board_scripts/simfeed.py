"""The world the virtual board's sensors sense: a recording on its flash, played at the recording's rate.

The host (`edgeloop.sim.sensors`) writes each recording as a replay file
(`/sim/imu.bin`, `/sim/mic.bin`) and describes it in `/sim/wiring.json`; the
chip models (`simchips`, and the microphones in `machine`/`audiobusio`) ask
this module what their sensor feels *now*, by `time.ticks_ms`. Nothing here
allocates per sample: frames are read in fixed chunks into a buffer made once,
and the clock keeps every product a small int by re-basing each second.
"""

from array import array

try:
    from time import ticks_add, ticks_diff, ticks_ms
except ImportError:  # CPython (host tests)
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000) & 0x3FFFFFFF

    def ticks_diff(a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000

    def ticks_add(a, d):
        return (a + d) & 0x3FFFFFFF

MASK = 0x1FFFFFFF  # frame counts wrap here, so they stay small ints


class Recording:
    """Frame i of an int16 replay file (channels interleaved) by random access, read in chunks."""

    def __init__(self, path, channels, frames, offset, chunk_frames=64):
        self.f = open(path, "rb")
        self.channels = channels
        self.frames = frames
        self.offset = offset
        self.chunk = array("h", bytes(2 * channels * chunk_frames))
        self.first = 0
        self.have = 0  # frames in the chunk

    def frame(self, i, out):
        """Copy frame i (0 <= i < frames) into out[0:channels]."""
        ch = self.channels
        if not self.first <= i < self.first + self.have:
            self.load(i)
        j = (i - self.first) * ch
        chunk = self.chunk
        for c in range(ch):
            out[c] = chunk[j + c]


    def load(self, i):
        """Fill the chunk from frame i on."""
        ch = self.channels
        self.f.seek(self.offset + 2 * ch * i)
        self.have = self.f.readinto(self.chunk) // (2 * ch)
        self.first = i


class Clock:
    """Frames elapsed since `restart` at a rate in milli-hertz, from ticks_ms (wraps at MASK)."""

    def __init__(self, rate_mhz):
        self.rate_mhz = rate_mhz
        self.whole = rate_mhz // 1000000  # frames per ms
        self.part = rate_mhz % 1000000  # and millionths of a frame per ms
        self.restart()

    def restart(self, milli_frames=0):
        """Start counting now; `milli_frames` sets the phase (500: half a frame has already gone by)."""
        self.base_ms = ticks_ms()
        self.base = 0
        self.base_mf = milli_frames

    def now(self):
        el = ticks_diff(ticks_ms(), self.base_ms)
        while el >= 1000:  # one second is exactly rate_mhz milli-frames
            self.base_ms = ticks_add(self.base_ms, 1000)
            el -= 1000
            mf = self.base_mf + self.rate_mhz
            self.base = (self.base + mf // 1000) & MASK
            self.base_mf = mf % 1000
        mf = self.base_mf + el * self.whole * 1000 + el * self.part // 1000
        return (self.base + mf // 1000) & MASK


class ImuFeed:
    """An IMU's input: the recording frame a read gets (mg; then 0.1 dps if it has 6 channels).

    The sample clock starts, at recording frame 0, when the chip is first read
    after a reset, half a frame before that read. Each read then gets the
    next frame the reader has not seen, if the clock has reached it: a reader
    polling faster than the recording's rate gets a frame twice, never one
    from the future. A reader up to SLACK frames behind the clock catches up
    frame by frame, because on the virtual board that lateness is the shared
    host CPU's, not the firmware's; further behind, the frames in between are
    lost and the next read gets the clock's frame (as a skipped poll loses
    samples on hardware).
    """

    SLACK = 8

    def __init__(self, recording, rate_mhz):
        self.rec = recording
        self.clock = Clock(rate_mhz)
        self.frame = array("h", bytes(2 * max(6, recording.channels)))
        self.running = False
        self.seen = 0  # clock count of the frame last handed out
        self.pos = 0  # its frame in the recording

    def restart(self):
        self.running = False

    def fill(self, accel_mg, gyro_mdps):
        if not self.running:
            self.clock.restart(500)
            self.running = True
            self.seen = 0
            self.pos = 0
            self.rec.frame(0, self.frame)
        else:
            ahead = (self.clock.now() - self.seen) & MASK  # frames the clock is past the last one read
            if ahead:
                step = 1 if ahead <= self.SLACK else ahead
                self.seen = (self.seen + step) & MASK
                self.pos = (self.pos + step) % self.rec.frames
                self.rec.frame(self.pos, self.frame)
        f = self.frame
        for i in range(3):
            accel_mg[i] = f[i]
        if self.rec.channels >= 6:
            for i in range(3):
                gyro_mdps[i] = f[3 + i] * 100


class MicFeed:
    """A microphone's sample stream: the recording from the moment capture starts, at its rate.

    `wait_for(n)` blocks until n samples have arrived since the last `take`,
    as a DMA-fed I2S receive buffer does; samples older than `keep` (the
    receive buffer) are lost, as they are on hardware when nobody reads.
    """

    def __init__(self, recording, rate_mhz, keep):
        self.rec = recording
        self.clock = Clock(rate_mhz)
        self.keep = keep
        self.taken = 0  # clock count of the next sample to hand out
        self.pos = 0  # its frame in the recording

    def start(self):
        self.clock.restart()
        self.taken = 0
        self.pos = 0

    def skip_to_now(self):
        """Forget what was heard so far (PDM capture starts at the call)."""
        t = self.clock.now()
        self.pos = (self.pos + ((t - self.taken) & MASK)) % self.rec.frames
        self.taken = t

    def wait_for(self, n):
        from time import sleep_ms
        while True:
            avail = (self.clock.now() - self.taken) & MASK
            if avail > self.keep:  # overrun: the oldest samples were overwritten
                lost = avail - self.keep
                self.pos = (self.pos + lost) % self.rec.frames
                self.taken = (self.taken + lost) & MASK
                avail = self.keep
            if avail >= n:
                return
            sleep_ms(1)

    def take_into(self, out, n):
        """The next n samples in order into out[0:n] (a mono recording); call after wait_for(n)."""
        rec = self.rec
        j = 0
        while j < n:
            i = self.pos
            if not rec.first <= i < rec.first + rec.have:
                rec.load(i)
            k = i - rec.first
            stop = rec.have - k
            if stop > n - j:
                stop = n - j
            chunk = rec.chunk
            for m in range(stop):
                out[j + m] = chunk[k + m]
            j += stop
            i += stop
            self.pos = 0 if i == rec.frames else i
        self.taken = (self.taken + n) & MASK
