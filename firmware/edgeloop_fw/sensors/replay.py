"""A recorded take played back as if it were a live sensor (for the virtual board).

The host (`edgeloop.sim.replay`) writes the take into one small binary file on
the board's filesystem; this reads it in fixed chunks into a preallocated
buffer, so a long replay costs no more memory than a short one. Pacing to
the take's real rate is the sampler's job (`edgeloop_fw.sampler`): a replay
sensor answers as fast as it is asked, exactly like a register read.

The file's layout is sensors/replay_format.py's, which the host's writer
(edgeloop.sim.replay) imports too.
"""

from .bus import SensorError
from .replay_format import HEADER_SIZE, SAMPLE_BYTES, parse_header


class ReplaySensor:
    """Frames from a replay file; loops at the end so a stream can run for as long as the host wants."""

    PART = "replay"

    def __init__(self, path, chunk_frames=64, loop=True):
        self.path = path
        self.loop = loop
        try:
            self._f = open(path, "rb")
        except OSError:
            raise SensorError("replay file %s is not on the board; push one with `edgeloop.replay` first" % path)
        head = self._f.read(HEADER_SIZE)
        if len(head) != HEADER_SIZE:
            raise SensorError("replay file %s is too short to hold a header" % path)
        self.channels, self.rate_mhz, self.frames, unit, self.label = parse_header(head, SensorError)
        self.rate_hz = self.rate_mhz / 1000
        self.units = (unit,) * self.channels
        self.names = tuple("ch%d" % i for i in range(self.channels))
        if unit == "mg" and self.channels == 3:
            self.names = ("ax", "ay", "az")
        self._chunk = array_h(chunk_frames * self.channels)
        self._have = 0  # items in the chunk
        self._next = 0  # next item to hand out
        self.position = 0  # frame index in the take of the next frame handed out
        self.laps = 0

    def close(self):
        f, self._f = self._f, None
        if f:
            f.close()

    def _refill(self):
        n = self._f.readinto(self._chunk)
        if not n:
            if not self.loop:
                return False
            self._f.seek(HEADER_SIZE)
            self.position = 0
            self.laps += 1
            n = self._f.readinto(self._chunk)
        self._have = (n // (SAMPLE_BYTES * self.channels)) * self.channels
        self._next = 0
        return self._have > 0

    def read_into(self, out, offset=0):
        """Copy the next frame into out[offset:offset+channels]; False once a non-looping take ends."""
        if self._next >= self._have and not self._refill():
            return False
        chunk = self._chunk
        i = self._next
        for c in range(self.channels):
            out[offset + c] = chunk[i + c]
        self._next = i + self.channels
        self.position += 1
        return True

    def read_block(self, out, frames):
        """Copy up to `frames` frames into out (interleaved); returns the number copied."""
        ch = self.channels
        j = 0
        end = frames * ch
        chunk = self._chunk
        while j < end:
            if self._next >= self._have and not self._refill():
                break
            i = self._next
            stop = self._have
            if stop - i > end - j:
                stop = i + end - j
            while i < stop:
                out[j] = chunk[i]
                i += 1
                j += 1
            self.position += (i - self._next) // ch
            self._next = i
        return j // ch


def array_h(n):
    from array import array
    return array("h", bytes(2 * n))
