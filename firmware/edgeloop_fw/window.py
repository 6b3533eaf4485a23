"""Fixed-rate int16 samples into overlapping windows, with no allocation per sample.

A model sees windows of `window` frames (a frame is one sample of every
channel) every `hop` frames — the same windows numpy's
`sliding_window_view(x, window, axis=0)[::hop]` gives for a recording.
The ring holds exactly one window, so memory is 2 * channels * window bytes
for the ring plus the same again for the window handed to the consumer (a
copy, in time order, so features and models read one contiguous buffer and
capture can go on writing the ring).
"""

from array import array


def int16_array(n):
    """A zeroed array('h') of n items, made without a temporary list of n ints."""
    return array("h", bytes(2 * n))


class Windower:
    def __init__(self, channels, window, hop):
        if channels < 1 or window < 1 or hop < 1:
            raise ValueError("channels, window and hop must be >= 1 (got %r, %r, %r)" % (channels, window, hop))
        self.channels = channels
        self.window_frames = window
        self.hop = hop
        self.ring = int16_array(channels * window)
        self.window = int16_array(channels * window)  # the latest complete window, oldest frame first
        self.reset()

    def reset(self):
        self._pos = 0  # next ring slot (in items, not frames)
        self._left = self.window_frames  # frames until the next window is complete
        self.windows = 0  # windows emitted since reset (wraps harmlessly; for reports)

    def push(self, sample, offset=0):
        """Append one frame from sample[offset:offset+channels]; True when a new window is in `self.window`."""
        ring = self.ring
        pos = self._pos
        for c in range(self.channels):
            ring[pos + c] = sample[offset + c]
        pos += self.channels
        if pos >= len(ring):
            pos = 0
        self._pos = pos
        self._left -= 1
        if self._left:
            return False
        self._emit()
        return True

    def push_block(self, src, start, frames):
        """Append up to `frames` frames from src (interleaved) starting at frame `start`.

        Stops right after a window completes, so the caller can use it before
        the next one overwrites it. Returns the number of frames taken; check
        `ready` to learn whether a window completed.
        """
        ring = self.ring
        n = len(ring)
        pos = self._pos
        ch = self.channels
        take = frames if frames < self._left else self._left
        i = start * ch
        end = i + take * ch
        while i < end:
            ring[pos] = src[i]
            pos += 1
            if pos >= n:
                pos = 0
            i += 1
        self._pos = pos
        self._left -= take
        self.ready = not self._left
        if self.ready:
            self._emit()
        return take

    def _emit(self):
        ring = self.ring
        win = self.window
        n = len(ring)
        pos = self._pos  # the oldest item once the ring is full
        j = 0
        i = pos
        while i < n:
            win[j] = ring[i]
            i += 1
            j += 1
        i = 0
        while i < pos:
            win[j] = ring[i]
            i += 1
            j += 1
        self._left = self.hop
        self.windows += 1
