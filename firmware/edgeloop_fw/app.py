"""The board's main loop: capture -> features -> model -> frames, at the sensor's fixed rate.

Entry point (what the host runs through the raw REPL, see docs/firmware.md):

    import edgeloop_fw.app
    edgeloop_fw.app.run(flags=..., mode=...)

`run()` streams until the host sends CMD_STREAM_STOP (acked, then run()
returns to the REPL) or Ctrl-C (KeyboardInterrupt, the REPL comes back).
Everything the loop touches per sample is preallocated when the app starts:
the sensor's frame, the windower's ring, the samples batch, the encoder's
buffers. Nothing queues: a frame the host does not take is dropped and
counted (serial_link.Output), so the board runs on whether or not anybody
reads. `start()` runs the same loop as an asyncio task instead (the virtual
board runs long loops best that way, with the REPL free meanwhile).

Configuration comes from /edgeloop.json, written by the host next to the
firmware (sensor from the board profile, window, hop, model path); a
missing file means "replay /replay.bin if it is there".
"""

import struct

from . import __version__
from . import protocol as P
from .port import file_exists, mem_free, sleep_ms, ticks_add, ticks_diff, ticks_ms, ticks_us, IMPLEMENTATION
from .sensors import open_sensor
from .serial_link import Input, Output
from .window import Windower, int16_array

CONFIG_PATH = "/edgeloop.json"
FIRMWARE = "edgeloop_fw " + __version__
STATUS_EVERY_MS = 1000
MAX_LAG_BLOCKS = 8  # further behind than this, capture skips ahead and counts the samples as dropped


def load_config(path=CONFIG_PATH):
    try:
        import json
        with open(path) as f:
            return json.load(f)
    except OSError:
        return {}


def _chip_id():
    from .chip_id import device_id
    return device_id()


class App:
    def __init__(self, config=None, flags=P.STREAM_DEFAULT, mode=P.MODE_INFER, out=None, inp=None, sensor=None,
                 publish=False):
        cfg = load_config() if config is None else config
        self._confirm_left = 0  # inferences a pending slot model must still run before it is kept
        model = cfg.get("model") or ""
        if model:
            from .slot_marks import KEY, MARK
            if model.startswith(MARK) or file_exists(KEY):
                from .slots import app_config
                cfg, self._confirm_left = app_config(cfg)
        self.cfg = cfg
        self.flags = flags
        self.mode = mode
        self.label = ""
        self.sensor = sensor or open_sensor(cfg.get("sensor") or {"kind": "replay", "file": "/replay.bin"})
        s = self.sensor
        ch = s.channels
        self.channels = ch
        self.rate_mhz = int(s.rate_hz * 1000 + 0.5)
        self.rate_hz = int(s.rate_hz + 0.5)
        self.audio = s.units[0] == "pcm16"
        # Capture granularity: one frame for an IMU, one 20 ms hop for audio (a Python loop per 16 kHz sample is too slow).
        self.window_frames = cfg.get("window") or (480 if self.audio else self.rate_hz)
        self.hop = cfg.get("hop") or (320 if self.audio else self.window_frames // 2)
        self.block = cfg.get("block") or (self.hop if self.audio else 1)
        self.win = Windower(ch, self.window_frames, self.hop)
        self._win_bytes = bytearray(2 * ch * self.window_frames)  # STREAM_WINDOW copies go here
        self.capture = int16_array(ch * self.block)
        # Samples go out in full batches only (no slicing per frame); ~150+ bytes per frame keeps overhead < 10 %.
        self.batch_frames = cfg.get("batch") or (160 if self.audio else max(1, 150 // (2 * ch)))
        self.batch = bytearray(2 * ch * self.batch_frames)
        self._batch_bytes = 0
        self._batch_start = 0
        self.sample_index = 0
        if out is None and publish and cfg.get("mqtt"):  # on its own, a Wi-Fi board publishes (mqtt_sink.py)
            from .mqtt_sink import MqttSink
            out = MqttSink(cfg["mqtt"], cfg.get("wifi"))
        self.out = out if out is not None else Output()
        self.inp = inp if inp is not None else Input()
        self.cmd = P.CommandReader(256)
        # Period of one capture block in µs as quotient + remainder over the rate in mHz, so
        # pacing stays exact (16 kHz: 62.5 µs per frame) with small ints only in the loop.
        # block * 10**9 is a long int for audio (320 * 10**9); MicroPython keeps the results of a
        # long-int operation long even when they are small, so every later `_bq + extra` in the
        # loop would allocate: turn them back into small ints once, here.
        bq, br = divmod(self.block * 1000000000, self.rate_mhz)
        self._bq, self._br = int(str(bq)), int(str(br))
        self._frac = 0
        self.model = None
        self.trees = None
        self.model_hash = b""
        self.classes = cfg.get("classes") or []
        self.frontend = None
        self.spotter = None
        self._load_model(cfg.get("model"))
        max_payload = max(len(self.batch) + 16, 2 * ch * self.window_frames + 160, 256)  # + a kept frame's head
        if cfg.get("capture") and self.spotter is not None:  # kept keyword windows: the model's input features
            max_payload = max(max_payload, self.spotter.frames * self.spotter.channels + 160)
        self.enc = P.FrameEncoder(max_payload)
        self._pump = None  # a sink that needs a turn every block (the MQTT client's socket work)
        attach = getattr(self.out, "attach", None)
        if attach is not None:
            attach(self.enc, cfg.get("device_id") or _chip_id())  # the id its hello names
            self._pump = self.out.pump
        self.capture_us = self.features_us = self.inference_us = 0
        self.dropped = 0  # samples lost to overruns (capture late) or unsent sample frames
        self.running = False
        self.host_ms = 0  # device time of the last byte from the host
        self.host_seen = False
        self.rules = self.ring = None
        self.kept = self.kept_lost = 0  # windows kept; kept but neither sent nor stored (no ring)
        if cfg.get("capture") and self.model is not None:
            self._open_capture(cfg["capture"])

    # -- capture rules (docs/firmware.md, Capture) ----------------------------------
    def _open_capture(self, spec):
        """Rules and ring, made once; imported only when /edgeloop.json has a capture section."""
        from .capture import HOST_TIMEOUT_S, RING_BYTES, RING_FILE, Ring, Rules
        self.rules = Rules(spec, self.classes or [str(i) for i in range(self.n_classes)])
        self.host_timeout_ms = int(1000 * (spec.get("host_timeout_s") or HOST_TIMEOUT_S))
        self._firmware = FIRMWARE.encode()
        size = spec.get("ring_bytes")
        size = RING_BYTES if size is None else size
        if size:
            self.ring = Ring(spec.get("ring_file") or RING_FILE, size, self.enc.raw)

    def host_attached(self):
        """A host is attached while it sent a byte (a command; the host pings every second) within
        host_timeout_s. Before its first byte, none is. A sink with its own flash ring (MQTT) always takes them."""
        if self._pump is not None:
            return True
        return self.host_seen and ticks_diff(ticks_ms(), self.host_ms) < self.host_timeout_ms

    def _keep(self, rule, now, latency, top):
        """Send the kept window now (a host is attached and the port takes it), else store it in the ring."""
        self.kept += 1
        sp = self.spotter
        if sp is not None:  # keyword: what the model heard (its second of features), not 30 ms of audio
            window, channels = sp.features(), sp.channels
        else:
            window, channels = self._window_bytes(), self.channels
        n = self.enc.kept_payload(self.win.windows, latency, now, rule, top, self.scores, self.n_classes,
                                  self.model_hash, self._firmware, window, channels, sp is not None)
        if self.host_attached() and self._send(self.enc.finish(P.MSG_KEPT, now, n)):
            return
        if self.ring is not None:
            self.ring.put(n)
        else:
            self.kept_lost += 1

    def ship_ring(self):
        """One stored record to an attached host (oldest first); freed once the port took it."""
        ring = self.ring
        slot = ring.oldest()
        if slot < 0:
            return False
        n = ring.load(slot)
        if n >= 0 and self._send(self.enc.finish(P.MSG_KEPT, ticks_ms(), n)):
            ring.free(slot)
        return True

    # -- model ----------------------------------------------------------------
    def _load_model(self, path):
        if not path:
            return
        if path.endswith(".csv"):
            self._load_trees(path)
            return
        from .runtime.interpreter import Interpreter
        from .runtime.loader import Model
        from .runtime import format as F
        f = open(path, "rb")
        head = f.read(F.TABLES_AT)
        f.seek(0)
        digest = struct.unpack_from(F.HEADER_FMT, head, 0)[4]
        self.model_hash = bytes("%02x" * 8 % tuple(digest[:8]), "ascii")
        m = Model(f)
        self.model = Interpreter(m)
        t_in, t_out = m.inputs[0], m.outputs[0]
        self.model_in = bytearray(t_in.nbytes)
        self.in_zp = t_in.zero_point
        # IMU windows: mg -> the model's input quantum, by the code training used (edgeloop_fw.features)
        if not self.audio:
            from .features import input_multiplier, quantize_window
            self.in_mul = input_multiplier(t_in.scale)
            self._quantize = quantize_window
        # The model's input and output as arena views made once: set_input/get_output copy
        # through new objects each call, which a board without GC between windows cannot afford.
        try:
            self._in_src = memoryview(self.model_in).cast("b")
        except (AttributeError, NotImplementedError, TypeError, ValueError):
            self._in_src = self.model_in  # no cast (MicroPython): byte-size items copy as they are
        try:
            self._in_view = self.model.input_view()
            self._out_view = self.model.output_view()
        except AttributeError:  # an older runtime
            self._in_view = self._out_view = None
        self.out_zp = t_out.zero_point
        self.out_mul = int(t_out.scale * 65535 * 256 + 0.5)
        self.n_classes = t_out.nbytes
        self.scores = [0] * self.n_classes
        if self.audio:
            from .audio.frontend import AudioFrontend
            self.frontend = AudioFrontend()
            self._feat_stride = self.frontend.num_channels
            self._feat_frames = t_in.nbytes // self._feat_stride
            kws = self.cfg.get("kws")
            if kws is not None:  # continuous spotting: edgeloop_fw.kws runs the model every `every` hops
                from .kws import KeywordSpotter
                self.spotter = KeywordSpotter(self.model, self.classes or None, frontend=self.frontend, **kws)

    def _load_trees(self, path):
        """A tree ensemble (emlearn CSV): window features -> votes; scores are vote shares in Q0.16."""
        from array import array
        from .features import n_window_features, window_features
        from .trees import load
        self.trees = load(path)
        self._features = window_features
        self.tree_in = array("h", bytes(2 * n_window_features(self.channels)))
        if len(self.tree_in) != self.trees.n_features:
            raise ValueError("%s takes %d features; a %d-channel window gives %d"
                             % (path, self.trees.n_features, self.channels, len(self.tree_in)))
        self.n_trees = self.trees.n_trees
        self.n_classes = self.trees.n_classes
        self.scores = [0] * self.n_classes
        self.model_hash = _file_hash(path)
        self.model = self.trees

    # -- frames out -------------------------------------------------------------
    def _send(self, n):
        return self.out.write(self.enc.wire, self.enc.wire_mv, n)

    def hello(self):
        s = self.sensor
        units = ",".join(s.units)
        scale = 1.0 / 32768 if self.audio else 1.0
        fields = {
            "rate_hz": self.rate_hz, "channels": self.channels, "window": self.window_frames, "hop": self.hop,
            "mode": self.mode, "scale": scale, "device_id": self.cfg.get("device_id") or _chip_id(),
            "board": self.cfg.get("board", IMPLEMENTATION), "firmware": FIRMWARE,
            "model_hash": self.model_hash.decode(), "sensor": getattr(s, "PART", ""),
            "units": units, "classes": self.classes,
        }
        self._send(self.enc.message(P.MSG_HELLO, ticks_ms(), fields))

    def status(self):
        free = mem_free()
        n = self.enc.status(ticks_ms(), self.capture_us, self.features_us, self.inference_us,
                            free if free > 0 else 0, self.dropped & 0x3FFFFFFF, self.mode)
        self._send(n)

    # -- commands -----------------------------------------------------------------
    def poll_commands(self, limit=256):
        inp = self.inp
        for _ in range(limit):
            b = inp.read()
            if b < 0:
                return
            self.host_ms = ticks_ms()
            self.host_seen = True
            cmd = self.cmd
            try:
                kind = cmd.take(b)
            except P.ProtocolError as e:
                self._send(self.enc.ack(ticks_ms(), 0, 0, P.ACK_BAD_VERSION if e.kind == "version"
                                        else P.ACK_BAD_ARGUMENT, str(e).encode()))
                continue
            # The host's heartbeat, every second for as long as it streams: answered from the
            # reader's buffer, as no other command needs to be (see CommandReader).
            if kind == P.CMD_PING and cmd.length == 4:
                self._send(self.enc.pong_from(ticks_ms(), cmd.raw, P.HEADER_SIZE))
            elif kind >= 0:
                self.handle(cmd.frame(kind))

    def handle(self, frame):
        kind, seq, _t, payload = frame
        now = ticks_ms()
        enc = self.enc
        if kind == P.CMD_HELLO:
            self.hello()
            return
        status, text = P.ACK_OK, b""
        try:
            f = P.decode_payload(kind, payload)  # a ping here is malformed: this refuses it
            if kind == P.CMD_STREAM_START:
                self.flags = f["flags"]
            elif kind == P.CMD_STREAM_STOP:
                self.running = False
            elif kind == P.CMD_SET_MODE:
                if f["mode"] > P.MODE_INFER:
                    raise P.ProtocolError("payload", "mode %d is not 0 (idle), 1 (record) or 2 (infer)" % f["mode"])
                self.mode = f["mode"]
            elif kind == P.CMD_SET_LABEL:
                self.label = f["label"]
                text = f["label"].encode()
            elif kind == P.CMD_SET_SOURCE:
                self.set_source(f["source"])
            else:
                status, text = P.ACK_UNKNOWN_COMMAND, b"unknown command"
        except (P.ProtocolError, OSError, ValueError) as e:
            status, text = P.ACK_BAD_ARGUMENT, str(e).encode()
        self._send(enc.ack(now, kind, seq, status, text))

    def set_source(self, name):
        """Switch the replay take (virtual board): a path, or a name under / with .bin added."""
        from .sensors.replay import ReplaySensor
        path = name if name.startswith("/") else "/" + name
        if not path.endswith(".bin"):
            path += ".bin"
        new = ReplaySensor(path)
        if new.channels != self.channels or new.rate_mhz != self.rate_mhz:
            new.close()
            raise ValueError("%s has %d channels at %d mHz; this stream has %d at %d mHz"
                             % (path, new.channels, new.rate_mhz, self.channels, self.rate_mhz))
        old, self.sensor = self.sensor, new
        if hasattr(old, "close"):
            old.close()

    # -- capture and processing ------------------------------------------------------
    def _read_block(self):
        s = self.sensor
        buf = self.capture
        t0 = ticks_us()
        if self.block == 1:
            s.read_into(buf, 0)
        elif hasattr(s, "read_block"):
            got = s.read_block(buf, self.block)
            if got < self.block:  # a take that does not loop ran out: keep silence
                for i in range(got * self.channels, len(buf)):
                    buf[i] = 0
        else:
            for k in range(self.block):
                s.read_into(buf, k * self.channels)
        self.capture_us = ticks_diff(ticks_us(), t0)

    def _stream_samples(self, frames):
        buf = self.capture
        batch = self.batch
        nb = len(batch)
        ch = self.channels
        first = self.sample_index
        j = self._batch_bytes
        end = frames * ch
        i = 0
        while i < end:
            if j == 0:
                self._batch_start = first + i // ch
            v = buf[i]
            batch[j] = v & 0xFF
            batch[j + 1] = (v >> 8) & 0xFF
            j += 2
            i += 1
            if j == nb:
                n = self.enc.samples(ticks_ms(), self._batch_start, self.rate_hz, ch, batch)
                if not self._send(n):
                    self.dropped += self.batch_frames
                j = 0
        self._batch_bytes = j

    def step_block(self):
        """Capture one block, stream it, and run features/model for every window it completes."""
        self._read_block()
        frames = self.block
        if self.flags & P.STREAM_SAMPLES and self.mode != P.MODE_IDLE:
            self._stream_samples(frames)
        self.sample_index += frames
        if self.mode == P.MODE_IDLE:
            return
        win = self.win
        done = 0
        while done < frames:
            done += win.push_block(self.capture, done, frames - done)
            if win.ready:
                self.on_window()

    def on_window(self):
        if self.model is None or self.mode != P.MODE_INFER:
            return
        if self.spotter is not None:
            self._spot()
            return
        t0 = ticks_us()
        if self.trees is not None:
            self._tree_inference(t0)
            return
        if self.frontend is not None:
            ready = self._audio_features()
        else:
            ready = self._imu_features()
        t1 = ticks_us()
        self.features_us = ticks_diff(t1, t0)
        if not ready:
            return
        if self.flags & P.STREAM_FEATURES:
            self._send(self.enc.features(ticks_ms(), self.win.windows, P.DT_INT8, self.model_in))
        if self._in_view is not None:
            self._in_view[0:len(self._in_src)] = self._in_src
        else:
            self.model.set_input(self.model_in)
        self.model.invoke()
        t2 = ticks_us()
        self.inference_us = ticks_diff(t2, t1)
        self._send_inference(ticks_diff(t2, t0))

    def _spot(self):
        """Keyword mode: one inference frame per model run (raw scores), then a MSG_DETECTION frame
        for each detection (always sent: they are rare and the reason for the mode). Both are packed
        into the encoder's buffers, so a detection allocates nothing either."""
        sp = self.spotter
        t0 = ticks_us()
        found = sp.push_audio(self.win.window, 0)
        t1 = ticks_us()
        if not sp.inferred:
            self.features_us = ticks_diff(t1, t0)
            return
        self.inference_us = ticks_diff(t1, t0)
        self._send_inference(self.inference_us)
        if found >= 0:
            self._send_detection()

    def _send_detection(self):
        """The spotter's latest detection. window_index is the app's window count, not the spotter's:
        they differ once a record-mode stretch has gone by, and it is what the inference frame carries."""
        self._send(self.spotter.encode_detection(self.enc, ticks_ms(), self.model_hash, self.win.windows))

    def _imu_features(self):
        self._quantize(self.win.window, self.model_in, self.in_mul, self.in_zp)
        return True

    def _audio_features(self):
        feats = self.frontend.process(self.win.window, 0)
        out = self.model_in
        stride = self._feat_stride
        n = len(out)
        for i in range(n - stride):  # slide the spectrogram one frame
            out[i] = out[i + stride]
        base = n - stride
        for i in range(stride):
            out[base + i] = feats[i] & 0xFF
        return self.win.windows >= self._feat_frames

    def _tree_inference(self, t0):
        """Trees: the window's features, the forest's votes, one inference frame like a CNN's."""
        self._features(self.win.window, self.channels, self.tree_in)
        t1 = ticks_us()
        self.features_us = ticks_diff(t1, t0)
        votes = self.trees.predict_votes(self.tree_in)
        best, top = -1, 0
        for i in range(self.n_classes):
            self.scores[i] = votes[i] * 65535 // self.n_trees
            if votes[i] > best:  # the lowest class wins a tie, as in emlearn's C
                best, top = votes[i], i
        t2 = ticks_us()
        self.inference_us = ticks_diff(t2, t1)
        self._emit_inference(ticks_diff(t2, t0), top)

    def _send_inference(self, latency):
        raw = self._out_view if self._in_view is not None else self.model.get_output()
        best, top = -1, 0
        for i in range(self.n_classes):
            q = raw[i] - 256 if raw[i] > 127 else raw[i]  # signed view, or the bytes get_output copies
            u = ((q - self.out_zp) * self.out_mul) >> 8
            self.scores[i] = 0 if u < 0 else 65535 if u > 65535 else u
            if self.scores[i] > best:
                best, top = self.scores[i], i
        self._emit_inference(latency, top)

    def _emit_inference(self, latency, top):
        if self._confirm_left:
            self._confirm_left -= 1
            if not self._confirm_left:  # a new slot model ran its first N inferences: keep it
                from .slots import confirm
                confirm()
        now = ticks_ms()  # the frame's time and the capture rules' clock: the host can recompute the cap
        if self.flags & P.STREAM_INFERENCE:
            window = None
            if self.flags & P.STREAM_WINDOW:  # attach the input window (retraining sets are built from it)
                window = self._window_bytes()
            self._send(self.enc.inference(now, self.win.windows, latency, top, self.scores,
                                          self.n_classes, self.model_hash, window, self.channels))
        if self.rules is not None:
            rule = self.rules.decide(self.scores, self.n_classes, self.win.windows, now)
            if rule:
                self._keep(rule, now, latency, top)

    def _window_bytes(self):
        """The latest window as int16 little-endian bytes, in a buffer made once.

        A loop rather than a cast: MicroPython builds without memoryview.cast
        cannot view an array('h') as bytes.
        """
        win = self.win.window
        out = self._win_bytes
        j = 0
        for i in range(len(win)):
            v = win[i]
            out[j] = v & 0xFF
            out[j + 1] = (v >> 8) & 0xFF
            j += 2
        return out

    # -- the loop -------------------------------------------------------------------
    def _advance_due(self):
        self._frac += self._br
        extra = 0
        if self._frac >= self.rate_mhz:
            self._frac -= self.rate_mhz
            extra = 1
        self.due = ticks_add(self.due, self._bq + extra)

    def begin(self):
        self._send_delimiter()
        self.hello()
        self.running = True
        self.due = ticks_us()
        self._next_status = ticks_ms()

    def _send_delimiter(self):
        self.enc.wire[0] = 0
        self._send(1)

    def tick(self):
        """Do all work that is due now; return µs until the next block is due."""
        now = ticks_us()
        late = ticks_diff(now, self.due)
        if late > MAX_LAG_BLOCKS * self._bq:
            skipped = late // self._bq
            self.dropped += skipped * self.block
            self.sample_index += skipped * self.block
            self.due = now
        while ticks_diff(ticks_us(), self.due) >= 0 and self.running:
            self.step_block()
            self._advance_due()
            self.poll_commands()
            self._status_when_due()
            if self.ring is not None and self.host_attached():
                self.ship_ring()  # one stored window per block: the stream keeps its pace
            if self._pump is not None:
                self._pump()
        self.poll_commands()
        self._status_when_due()
        return ticks_diff(self.due, ticks_us())

    def _status_when_due(self):
        # Checked after every block, not only when the loop has caught up: a board slower than
        # its sensor never catches up, and the status frames are the host's sign it is alive.
        if self.flags & P.STREAM_STATUS and ticks_diff(ticks_ms(), self._next_status) >= 0:
            self.status()
            self._next_status = ticks_add(self._next_status, STATUS_EVERY_MS)
            if ticks_diff(ticks_ms(), self._next_status) >= 0:  # a block longer than the period
                self._next_status = ticks_add(ticks_ms(), STATUS_EVERY_MS)

    def run(self, seconds=0):
        """Stream until stopped (or for `seconds`, for tests and benchmarks)."""
        self.begin()
        t_end = ticks_add(ticks_ms(), int(seconds * 1000)) if seconds else None
        try:
            while self.running:
                wait = self.tick()
                if t_end is not None and ticks_diff(ticks_ms(), t_end) >= 0:
                    break
                if wait > 1000:
                    sleep_ms(wait // 1000)
        finally:
            self.running = False
            if self.ring is not None:
                self.ring.close()
            if self._pump is not None:
                self.out.close()

    async def run_async(self, seconds=0):
        import asyncio
        self.begin()
        t_end = ticks_add(ticks_ms(), int(seconds * 1000)) if seconds else None
        while self.running:
            wait = self.tick()
            if t_end is not None and ticks_diff(ticks_ms(), t_end) >= 0:
                break
            await asyncio.sleep_ms(wait // 1000 if wait > 0 else 0)
        self.running = False


def _file_hash(path):
    """The first 8 bytes of the file's SHA-256 in hex, as .elm headers carry theirs."""
    try:  # as bundle_format.sha256, without importing that module into the app's heap
        import hashlib
    except ImportError:
        hashlib = None
    if hashlib is None:  # CircuitPython builds without hashlib
        from .crypto.sha256_pure import Pure
        h = Pure()
    elif hasattr(hashlib, "sha256"):
        h = hashlib.sha256()
    else:  # CircuitPython's hashlib: new(name) only
        h = hashlib.new("sha256")
    buf = bytearray(256)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(buf if n == len(buf) else buf[:n])
    return bytes("%02x" * 8 % tuple(h.digest()[:8]), "ascii")


def run(flags=P.STREAM_DEFAULT, mode=P.MODE_INFER, seconds=0, config=None, publish=False):
    """The host's entry point: stream until CMD_STREAM_STOP or Ctrl-C, then return to the REPL.
    `publish` (main.py's autostart): with an mqtt section in the config, frames go to MQTT, not the
    serial port; a host's `monitor` starts the app without it and gets the serial stream as before."""
    app = App(config, flags=flags, mode=mode, publish=publish)
    app.run(seconds)
    return app


def start(flags=P.STREAM_DEFAULT, mode=P.MODE_INFER, seconds=0, config=None):
    """Run the loop as an asyncio task and return the App at once (REPL stays usable)."""
    import asyncio
    app = App(config, flags=flags, mode=mode)
    asyncio.create_task(app.run_async(seconds))
    return app
