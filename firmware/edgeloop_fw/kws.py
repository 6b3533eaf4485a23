"""Continuous keyword spotting over a live audio stream.

A keyword model sees one second of features (49 frames of 40 int8, 20 ms
apart); on a stream the second slides. The front end's frames go into a
ring that holds every frame twice (at slot p and p + 49), so the latest
second is always one contiguous slice of it and feeding the model is one
copy into its input tensor, through views made once here: nothing is
allocated per frame or per inference.

Single inferences flicker (a word is half in the window, noise looks like a
word for 80 ms), so the decision follows TFLM's micro_speech
RecognizeCommands: average each class's score over the inferences of the
last `average_ms`, skip the decision while fewer than `minimum_count`
results (or less than a quarter of the window) are in, report a class whose
average exceeds `threshold` when it differs from the previous top class or
the previous report is older than `suppression_ms`. Scores are the model's
int8 output minus its zero point (0..255 for a softmax: probability x 256),
as TFLM averages them, so `threshold=200` means the same here and there.
Times are stream times: frame k ends at k * 20 + 30 ms of audio.
"""

from array import array

from .window import Windower

FRAME_MS = 20  # the front end's hop (320 samples at 16 kHz)
WINDOW_MS = 30  # and its window (480 samples)


class KeywordSpotter:
    def __init__(self, interpreter, classes=None, every=4, average_ms=1000, threshold=200,
                 suppression_ms=1500, minimum_count=3, ignore=("silence", "unknown"), frontend=None,
                 listener=None):
        """`interpreter`: a runtime Interpreter holding a keyword model (int8 in, int8 out);
        `every`: run the model once every this many frames (4 = every 80 ms);
        `ignore`: classes that take part in the smoothing but are never reported;
        `listener(spotter, detected)`: called after every inference (detected = class or -1),
        e.g. to stream each window's scores -- feed() may run several inferences per call."""
        if every < 1 or average_ms < FRAME_MS or minimum_count < 1:
            raise ValueError("every >= 1, average_ms >= %d and minimum_count >= 1 are needed" % FRAME_MS)
        self.interpreter = interpreter
        model = interpreter.model
        t_in, t_out = model.inputs[0], model.outputs[0]
        if frontend is None:
            from .audio.frontend import AudioFrontend
            frontend = AudioFrontend()
        self.frontend = frontend
        self.channels = nch = frontend.num_channels
        if t_in.nbytes % nch:
            raise ValueError("model input of %d bytes is not whole frames of %d features" % (t_in.nbytes, nch))
        self.frames = nf = t_in.nbytes // nch  # 49 for one second
        self.n_classes = nc = t_out.nbytes
        self.classes = list(classes) if classes else ["class%d" % i for i in range(nc)]
        if len(self.classes) != nc:
            raise ValueError("%d class names for a model with %d outputs" % (len(self.classes), nc))
        self._report = bytearray(nc)
        for i in range(nc):
            self._report[i] = 0 if self.classes[i] in ignore else 1
        self.every = every
        self.average_ms = average_ms
        self.threshold = threshold
        self.suppression_ms = suppression_ms
        self.minimum_count = minimum_count
        self.out_zp = t_out.zero_point
        # Feature ring, every frame stored twice; view p is the second starting at slot p.
        self.ring = array("b", bytes(2 * nf * nch))
        mv = memoryview(self.ring)
        self._views = [mv[p * nch:(p + nf) * nch] for p in range(nf)]
        # One view per frame slot, for a copy without a Python loop: only beside the
        # native front end, where the loop was a third of the hop; beside the portable
        # front end (10 M instructions a hop) it saves nothing and its ~3.5 KB of views
        # is what a small board's keyword app lacks (rp2040 with capture rules).
        self._slots = None
        if getattr(frontend, "level", None) == "native":
            self._slots = [mv[p * nch:(p + 1) * nch] for p in range(2 * nf)]
        self._input = interpreter.arena[t_in.offset:t_in.offset + t_in.nbytes]
        self._out_at = t_out.offset
        # Results of the last average_ms: times (ms) and scores (0..255), a ring of cap rows.
        self._cap = cap = average_ms // (every * FRAME_MS) + 2
        self._times = array("i", bytes(4 * cap))
        self._scores = bytearray(cap * nc)
        self._sums = array("i", bytes(4 * nc))
        self.output = bytearray(nc)  # the latest inference's raw int8 output bytes
        self.average = bytearray(nc)  # the latest smoothed scores (0..255)
        self.average_u16 = array("H", bytes(2 * nc))  # the same scaled to 0..65535, for MSG_INFERENCE
        self.win = Windower(1, frontend.frame_length, frontend.STRIDE)
        self.listener = listener
        self.reset()

    def reset(self):
        """Start a new stream: empty ring, no results, no previous command, fresh noise estimate."""
        for i in range(len(self.ring)):
            self.ring[i] = 0
        for i in range(self.n_classes):
            self._sums[i] = 0
        self._pos = 0  # ring slot of the next frame
        self.frame_count = 0  # frames pushed since reset
        self._head = 0  # oldest result row
        self._count = 0  # results in the averaging window
        self.inferred = False  # True right after a push that ran the model
        self.inferences = 0
        self.top = -1  # current smoothed top class (-1 before the first decision)
        self.top_score = 0
        self._prev_top = -1  # TFLM's previous_top_label (starts as "silence": none)
        self._prev_ms = 0
        self.detected = -1  # class of the latest detection
        self.detected_score = 0
        self.detected_ms = 0
        self.detected_window = 0  # frames pushed when it was decided: the app's MSG_INFERENCE window_index
        self.detections = 0
        self.frontend.reset()
        self.win.reset()

    def time_ms(self, frame=None):
        """Stream time at the end of frame `frame` (default: the latest)."""
        k = self.frame_count - 1 if frame is None else frame
        return k * FRAME_MS + WINDOW_MS

    # -- input ---------------------------------------------------------------------
    def feed(self, samples, start=0, count=None):
        """Any number of int16 samples; returns the class of the last detection among them, or -1."""
        if count is None:
            count = len(samples) - start
        win = self.win
        found = -1
        done = 0
        while done < count:
            done += win.push_block(samples, start + done, count - done)
            if win.ready:
                c = self.push_audio(win.window, 0)
                if c >= 0:
                    found = c
        return found

    def features(self):
        """The model's latest input: the last second of features, int8, oldest frame first (a view
        made once; valid until the next frame is pushed)."""
        return self._views[self._pos]

    def push_audio(self, samples, offset=0):
        """One 30 ms window (480 samples at samples[offset:]); the stream advances 20 ms."""
        return self.push_features(self.frontend.process(samples, offset))

    def push_features(self, feats):
        """One frame of int8 features; runs the model every `every` frames once a second is in.

        Returns the class index of a new detection, or -1.
        """
        nch = self.channels
        nf = self.frames
        ring = self.ring
        a = self._pos * nch
        b = a + nf * nch
        # two copies into views made once (memcpy; a computed slice would allocate a
        # slice object per hop): a Python loop over the channels cost ~50,000
        # instructions per hop on a Cortex-M0, a third of the native front end's hop
        copied = False
        slots = self._slots
        if slots is not None:
            try:
                slots[self._pos][:] = feats
                slots[self._pos + nf][:] = feats
                copied = True
            except (TypeError, ValueError):  # not an array('b') (a list, a numpy row)
                pass
        if not copied:  # item by item
            for i in range(nch):
                v = feats[i]
                ring[a + i] = v
                ring[b + i] = v
        self._pos += 1
        if self._pos == nf:
            self._pos = 0
        self.frame_count += 1
        self.inferred = False
        if self.frame_count < nf or (self.frame_count - nf) % self.every:
            return -1
        self._input[:] = self._views[self._pos]
        self.interpreter.invoke()
        self.inferred = True
        self.inferences += 1
        arena = self.interpreter.arena
        out = self.output
        at = self._out_at
        for i in range(self.n_classes):
            out[i] = arena[at + i] & 0xFF
        found = self._decide(self.time_ms())
        if self.listener is not None:
            self.listener(self, found)
        return found

    # -- smoothing and decision (TFLM RecognizeCommands) -----------------------------
    def _decide(self, now):
        nc = self.n_classes
        cap = self._cap
        sums = self._sums
        times = self._times
        rows = self._scores
        # Drop results that fell out of the averaging window.
        while self._count and now - times[self._head] > self.average_ms:
            base = self._head * nc
            for i in range(nc):
                sums[i] -= rows[base + i]
            self._head = (self._head + 1) % cap
            self._count -= 1
        row = (self._head + self._count) % cap
        if self._count == cap:  # cannot happen with cap's margin, but never overrun
            base = self._head * nc
            for i in range(nc):
                sums[i] -= rows[base + i]
            self._head = (self._head + 1) % cap
            self._count -= 1
        times[row] = now
        base = row * nc
        out = self.output
        zp = self.out_zp
        for i in range(nc):
            q = out[i] - 256 if out[i] > 127 else out[i]
            s = q - zp
            s = 0 if s < 0 else 255 if s > 255 else s
            rows[base + i] = s
            sums[i] += s
        self._count += 1
        n = self._count
        if n < self.minimum_count or now - times[self._head] < self.average_ms // 4:
            return -1
        best, top = -1, 0
        avg = self.average
        avg16 = self.average_u16
        for i in range(nc):
            v = sums[i] // n
            avg[i] = v
            avg16[i] = v * 257
            if v > best:
                best, top = v, i
        self.top, self.top_score = top, best
        since = now - self._prev_ms if self._prev_top >= 0 else 1 << 30
        if best > self.threshold and (top != self._prev_top or since > self.suppression_ms):
            self._prev_top = top
            self._prev_ms = now
            if self._report[top]:
                self.detected = top
                self.detected_score = best
                self.detected_ms = now
                self.detected_window = self.frame_count
                self.detections += 1
                return top
        return -1

    # -- reporting ------------------------------------------------------------------------
    def encode_detection(self, enc, t_ms, model_hash=b"", window_index=None):
        """The latest detection as a MSG_DETECTION frame in `enc` (a protocol.FrameEncoder).

        Score = the smoothed average that crossed the threshold (0..255) x 257,
        exact both ways; time = the stream time it was decided at (the clock
        RecognizeCommands runs on); window_index = frames pushed by then (or the
        caller's own window count), the window_index of the inference frame sent
        with it.
        Packed in place like every hot-path frame: nothing is allocated.
        Returns the wire length, as FrameEncoder does.
        """
        return enc.detection(t_ms, self.detected, self.detected_score * 257, self.detected_ms,
                             self.detected_window if window_index is None else window_index, model_hash)
