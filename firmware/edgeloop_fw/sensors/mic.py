"""Microphone capture where the port offers it, as int16 PCM blocks into a caller's buffer.

Detected, in order:
- CircuitPython `audiobusio.PDMIn` (PDM microphones): records unsigned
  16-bit samples centred on 32768; converted to signed in place.
- MicroPython `machine.I2S` in RX mode (I2S MEMS microphones such as the
  INMP441 on ESP32-S3 / RP2040): 16-bit frames are used as they are; 32-bit
  frames (most I2S mics put 24 bits left-justified in 32) keep their top 16 bits.
Config keys (from the board profile's microphone entry): rate (Hz), pins
{sck, ws, sd} for I2S or {clk (or clock), data} for PDM, bits (16/32), i2s_id.
On the virtual board (`edgeloop sim --mic`) both paths hear a WAV clip
through emulated `machine.I2S` / `audiobusio.PDMIn` (edgeloop.sim.sensors).
"""

from array import array

from .bus import SensorError, _pin


class _Mic:
    PART = "microphone"
    channels = 1
    names = ("pcm",)
    units = ("pcm16",)


class PDMMic(_Mic):
    def __init__(self, cfg, max_block=512):
        import audiobusio
        pins = cfg.get("pins") or {}
        clock = pins.get("clock", pins.get("clk"))  # board profiles spell it "clk"
        if clock is None or "data" not in pins:
            raise SensorError("the PDM microphone's config names no pins {clk, data}; add them to the board profile")
        self.rate_hz = cfg.get("rate", 16000)
        self._pdm = audiobusio.PDMIn(_pin(clock), _pin(pins["data"]), sample_rate=self.rate_hz, bit_depth=16)
        self._raw = array("H", bytes(2 * max_block))

    def read_block(self, out, frames):
        raw = self._raw
        n = self._pdm.record(raw, frames)
        for i in range(n):
            out[i] = raw[i] - 32768
        return n


class I2SMic(_Mic):
    def __init__(self, cfg, max_block=512):
        from machine import I2S
        pins = cfg.get("pins", {})
        self.rate_hz = cfg.get("rate", 16000)
        self.bits = cfg.get("bits", 32)
        self._i2s = I2S(cfg.get("i2s_id", 0), sck=_pin(pins["sck"]), ws=_pin(pins["ws"]), sd=_pin(pins["sd"]),
                        mode=I2S.RX, bits=self.bits, format=I2S.MONO, rate=self.rate_hz,
                        ibuf=cfg.get("ibuf", 8192))
        self._raw = bytearray(max_block * self.bits // 8)
        self._mv = memoryview(self._raw)

    def read_block(self, out, frames):
        width = self.bits // 8
        n = self._i2s.readinto(self._mv[: frames * width]) // width
        raw = self._raw
        top = width - 2  # little-endian: the two most significant bytes of each sample
        for i in range(n):
            j = i * width + top
            v = raw[j] | (raw[j + 1] << 8)
            out[i] = v - 0x10000 if v & 0x8000 else v
        return n


def open_microphone(cfg):
    try:
        import audiobusio  # noqa: F401
        return PDMMic(cfg)
    except ImportError:
        pass
    if cfg.get("bus") == "pdm":  # machine.I2S would open, then read nothing a PDM mic sends
        raise SensorError("the %s is a PDM microphone and this port has no PDM input (CircuitPython's "
                          "audiobusio.PDMIn; stock MicroPython has none): run CircuitPython or a custom build"
                          % cfg.get("part", "microphone"))
    try:
        from machine import I2S  # noqa: F401
        return I2SMic(cfg)
    except ImportError:
        pass
    raise SensorError("this port has no microphone input (neither audiobusio.PDMIn nor machine.I2S); "
                      "replay a WAV file instead (edgeloop.replay)")
