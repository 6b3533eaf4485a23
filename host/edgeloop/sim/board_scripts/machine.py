"""`machine` for the virtual board: its Pin, I2C, SPI and I2S, wired to the board profile's emulated sensors.

The WebAssembly MicroPython has no `machine` module. `edgeloop sim --imu/--mic`
puts this file on the board's flash as `/lib/machine.py`, with the wiring
(`/sim/wiring.json`: which part sits on which bus, pins and address, and the
recording that feeds it). The firmware's drivers then run unchanged: an
I2C bus opened on the profile's bus id and pins finds the chip model
(`simchips`) at its address; an SPI bus opened on the profile's bus id (and
pins, if given) reaches the same model while the profile's chip-select pin
is driven low; an I2S receiver on the profile's pins hears the
recording as an INMP441 delivers it (24 bits left-justified in 32-bit slots,
left channel). Pins that do not match the wiring reach nothing, as on a board
wired differently: no I2C device answers (ENODEV), SPI reads 0xFF (MISO
undriven), the I2S data line reads 0.
"""

WIRING = "/sim/wiring.json"
_state = {}
_levels = {}  # pin id -> the level last driven: every Pin object on a pin shares it
_selects = {}  # pin id -> the SPI chip (simchips.SPIBus) whose chip select it is


def _wiring():
    if "wiring" not in _state:
        try:
            import json
            with open(WIRING) as f:
                _state["wiring"] = json.load(f)
        except OSError:
            _state["wiring"] = {}
    return _state["wiring"]


def unique_id():
    """The board's id, as a chip reports its serial: 8 bytes fixed for this board's flash folder
    (`edgeloop sim` writes them into the wiring), so its logs name it across restarts."""
    from binascii import unhexlify
    return unhexlify(_wiring().get("uid") or "0000000000000000")


def _recording(entry):
    from simfeed import Recording
    return Recording(entry["file"], entry["channels"], entry["frames"], entry["offset"])


def _bus_id(name, prefix):
    return int(name[len(prefix):]) if name.startswith(prefix) and name[len(prefix):].isdigit() else None


def _pins_match(entry, given):
    """Given pins (name -> Pin or None) reach the sensor when every one given is the wired one."""
    wired = entry.get("pins") or {}
    for name, pin in given.items():
        if pin is None or name not in wired:
            continue
        if _pin_id(pin) != wired[name]:
            return False
    return True


def _pin_id(pin):
    return pin.id if isinstance(pin, Pin) else pin


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        if value is not None:
            self.value(value)

    def init(self, mode=-1, pull=-1, value=None):
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return _levels.get(self.id, 0)
        v = 1 if v else 0
        _levels[self.id] = v
        chip = _selects.get(self.id)
        if chip is not None:
            chip.select(not v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def __call__(self, v=None):
        return self.value(v)

    def __repr__(self):
        return "Pin(%r)" % (self.id,)


def _imu_chip(entry):
    """The profile's IMU model, fed from its recording."""
    from simchips import model_for
    from simfeed import ImuFeed
    chip = model_for(entry["part"])
    chip.attach(ImuFeed(_recording(entry), entry["rate_mhz"]))
    return chip


def _i2c_chips(bus_id, scl, sda):
    """The chip models on one I2C bus (made once: every I2C object on a bus shares them)."""
    key = ("i2c", bus_id)
    chips = _state.get(key)
    if chips is None:
        chips = {}
        entry = _wiring().get("imu")
        if entry and _bus_id(entry.get("bus", ""), "i2c") == bus_id:
            chips[entry["address"]] = (_imu_chip(entry), entry)
        _state[key] = chips
    return dict((addr, chip) for addr, (chip, entry) in chips.items()
                if _pins_match(entry, {"scl": scl, "sda": sda}))


def _make_i2c_class():
    from simchips import I2CBus

    class I2C(I2CBus):
        """machine.I2C(id, scl=Pin, sda=Pin, freq=400000) over the emulated chips on that bus."""

        def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
            if isinstance(id, str):
                id = _bus_id(id, "i2c") or 0
            self.id = id
            self.freq = freq
            I2CBus.__init__(self, _i2c_chips(id, scl, sda))

        def init(self, *, scl=None, sda=None, freq=400000):
            self.freq = freq

        def deinit(self):
            pass

        def __repr__(self):
            return "I2C(%d, freq=%d) [virtual]" % (self.id, self.freq)

    return I2C


I2C = _make_i2c_class()
SoftI2C = I2C


def __getattr__(name):
    """machine.SPI is built on first use (`simspi`): boards whose sensors are on I2C or I2S
    do not pay the heap for it."""
    if name == "SPI":
        from simspi import SPI
        globals()["SPI"] = SPI
        return SPI
    raise AttributeError(name)


class I2S:
    """machine.I2S in RX mode, fed by the microphone's recording at its sample rate."""

    RX = 0
    TX = 1
    MONO = 0
    STEREO = 1

    def __init__(self, id, *, sck=None, ws=None, sd=None, mck=None, mode=0, bits=16, format=0,
                 rate=16000, ibuf=8192):
        if mode != I2S.RX:
            raise ValueError("the virtual board's I2S only receives (I2S.RX): it has a microphone, no speaker")
        if bits not in (16, 32):
            raise ValueError("I2S bits must be 16 or 32, not %r" % (bits,))
        entry = _wiring().get("mic")
        if entry and entry.get("bus") != "i2s":
            entry = None  # a PDM microphone is not on the I2S pins (see audiobusio)
        if entry and rate * 1000 != entry["rate_mhz"]:
            raise ValueError("I2S rate %d Hz: the virtual %s plays its recording at %d Hz; open it at that rate"
                             % (rate, entry["part"], entry["rate_mhz"] // 1000))
        self.bits = bits
        self.slots = 2 if format == I2S.STEREO else 1
        self.rate = rate
        self._wired = bool(entry) and _pins_match(entry, {"sck": sck, "ws": ws, "sd": sd})
        self._feed = None
        if self._wired:
            from array import array
            from simfeed import MicFeed
            frame_bytes = self.slots * bits // 8
            self._feed = MicFeed(_recording(entry), entry["rate_mhz"], max(1, ibuf // frame_bytes))
            self._pcm = array("h", bytes(2 * max(1, ibuf // frame_bytes)))
            self._feed.start()

    def readinto(self, buf):
        """Block until len(buf) bytes of whole frames have arrived; little-endian, left slot = the mic."""
        width = self.bits // 8
        frame = width * self.slots
        n = len(buf) // frame
        feed = self._feed
        if feed is None:  # nothing on the data line
            for i in range(n * frame):
                buf[i] = 0
            return n * frame
        pcm = self._pcm
        top = width - 2  # the sample's 16 bits sit at the top of the slot (24-bit data left-justified)
        done = 0
        while done < n:
            k = n - done
            if k > len(pcm):
                k = len(pcm)
            feed.wait_for(k)
            feed.take_into(pcm, k)
            j = done * frame
            for i in range(k):
                v = pcm[i]
                for z in range(top):
                    buf[j + z] = 0
                buf[j + top] = v & 0xFF
                buf[j + top + 1] = (v >> 8) & 0xFF
                for z in range(width, frame):  # the right slot: nothing drives it (L/R pin low)
                    buf[j + z] = 0
                j += frame
            done += k
        return n * frame

    def deinit(self):
        self._feed = None
