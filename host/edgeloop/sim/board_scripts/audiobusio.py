"""CircuitPython's `audiobusio.PDMIn` on the virtual board, for profiles whose microphone is PDM.

Put on the flash (`/lib/audiobusio.py`) by `edgeloop sim --mic` only when the
profile's microphone sits on a "pdm" bus, so the firmware takes its PDM path
(`sensors/mic.py` PDMMic) as it would on CircuitPython. As CircuitPython's
does, `record` captures from the moment it is called and blocks until the
samples have arrived; 16-bit samples are unsigned, centred on 32768.
Clock/data pins other than the wired ones hear nothing (samples at 32768).
"""

from machine import _pins_match, _recording, _wiring


class PDMIn:
    def __init__(self, clock_pin, data_pin, *, sample_rate=16000, bit_depth=8, mono=True, oversample=64,
                 startup_delay=0.11):
        entry = _wiring().get("mic")
        if entry and entry.get("bus") != "pdm":
            entry = None
        if entry and sample_rate * 1000 != entry["rate_mhz"]:
            raise ValueError("sample_rate %d: the virtual %s plays its recording at %d Hz; record at that rate"
                             % (sample_rate, entry["part"], entry["rate_mhz"] // 1000))
        if bit_depth != 16:
            raise ValueError("the virtual PDMIn records 16-bit samples only (bit_depth=16)")
        self.sample_rate = sample_rate
        self._feed = None
        if entry and _pins_match(entry, {"clk": clock_pin, "clock": clock_pin, "data": data_pin}):
            from array import array
            from simfeed import MicFeed
            self._feed = MicFeed(_recording(entry), entry["rate_mhz"], 1 << 20)
            self._pcm = array("h", bytes(512))
            self._feed.start()

    def record(self, destination, destination_length):
        n = min(destination_length, len(destination))
        feed = self._feed
        if feed is None:
            for i in range(n):
                destination[i] = 32768
            return n
        feed.skip_to_now()
        pcm = self._pcm
        done = 0
        while done < n:
            k = min(n - done, len(pcm))
            feed.wait_for(k)
            feed.take_into(pcm, k)
            for i in range(k):
                destination[done + i] = pcm[i] + 32768
            done += k
        return n

    def deinit(self):
        self._feed = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()
