"""The demo's closing figures: what the board said, next to what the host and the model card say.

Accuracy is scored only from the board's own inference frames (top class per
window) against the replayed takes' labels. The same windows then go
through the shipped int8 model on the host -- TFLite Micro when installed
(the `tf` extra), else edgeloop's runtime under CPython -- so the summary can
state, window by window, that the board computed what the reference does.
"""

from __future__ import annotations

import statistics
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeloop.demo.data import ReplaySet
from edgeloop.reference import tflm


def output_quant(rs: ReplaySet) -> tuple[float, int]:
    """(scale, zero point) of the model's int8 output, as the model file states them."""
    if rs.info.kind == "trees":  # votes: the board sends votes * 65535 // trees
        return 1.0 / _forest(rs).n_trees, 0
    from edgeloop.run.predict import load_model

    t = load_model(rs.model_file)[1].outputs[0]
    return float(t.scale), int(t.zero_point)


def host_predictions(rs: ReplaySet, ks) -> tuple[dict[int, bytes], str]:
    """int8 output bytes of the shipped model for windows `ks` on the host, and which runner gave them."""
    if rs.kind == "keyword":
        return _keyword_predictions(rs, ks)
    if rs.info.kind == "trees":
        return _tree_predictions(rs, ks)
    from edgeloop_fw import features as F

    inp = rs.info.model["input"]
    mul, zp = int(inp["multiplier"]), int(inp["zero_point"])
    ref = tflm.optional_interpreter(rs.reference_file)
    if ref is None:
        from edgeloop_fw.runtime.interpreter import Interpreter

        from edgeloop.run.predict import load_model

        interp = Interpreter(load_model(rs.model_file)[1])
        runner = f"edgeloop's runtime on the host ({rs.model_file.name}; install '.[tf]' to check against TFLM)"
    else:
        runner = f"TFLite Micro on the host ({rs.reference_file.name})"
    out = {}
    for k in ks:
        w = array("h", rs.window_frames(k).astype(np.int16).tobytes())
        q = bytes(F.quantize_window(w, bytearray(len(w)), mul, zp))
        if ref is not None:
            sample = np.frombuffer(q, np.int8).reshape(1, rs.window, -1)
            out[k] = tflm.invoke(ref, sample).astype(np.int8).tobytes()
        else:
            interp.set_input(q)
            interp.invoke()
            out[k] = bytes(interp.get_output())
    return out, runner


def _forest(rs: ReplaySet):
    from edgeloop_fw import trees

    return trees.parse(rs.model_file.read_text().splitlines())


def _tree_predictions(rs: ReplaySet, ks) -> tuple[dict[int, bytes], str]:
    """Each window's votes per class (one byte each) from the board's features and evaluator under CPython."""
    from edgeloop_fw import features as F

    forest = _forest(rs)
    ch = rs.info.sensor["channels"]
    feats = array("h", bytes(2 * F.n_window_features(ch)))
    out = {}
    for k in ks:
        w = array("h", rs.window_frames(k).astype(np.int16).tobytes())
        out[k] = bytes(forest.predict_votes(F.window_features(w, ch, feats)))[::2]  # uint16 LE: n_trees < 256
    return out, f"edgeloop's tree evaluator on the host ({rs.model_file.name})"


def _keyword_predictions(rs: ReplaySet, ks) -> tuple[dict[int, bytes], str]:
    """The whole stream through a front end (TFLM's preprocessor model, or edgeloop's on the host),
    then the model on the spectrogram each inference saw."""
    x = rs.replay.data.reshape(-1)
    n = rs.n_windows
    feats = np.zeros((n, 40), np.int8)
    ref = tflm.optional_interpreter(rs.reference_file)
    pre_path = rs.sources[0].parent / "audio_preprocessor_int8.tflite"
    if ref is not None and pre_path.is_file():
        pre = tflm.interpreter(pre_path, "the audio front end")
        for f in range(n):
            audio = x[f * rs.hop:f * rs.hop + rs.window].reshape(1, -1).astype(np.int16)
            feats[f] = tflm.invoke(pre, audio).reshape(-1)
        runner = f"TFLite Micro on the host ({pre_path.name} + {rs.reference_file.name})"
    else:
        from edgeloop_fw.audio.frontend import AudioFrontend
        from edgeloop_fw.runtime.interpreter import Interpreter

        from edgeloop.run.predict import load_model

        fe = AudioFrontend()
        w = array("h", bytes(2 * rs.window))
        for f in range(n):
            w[:] = array("h", x[f * rs.hop:f * rs.hop + rs.window].astype(np.int16).tobytes())
            feats[f] = np.frombuffer(bytes(v & 0xFF for v in fe.process(w, 0)), np.int8)
        interp = Interpreter(load_model(rs.model_file)[1])
        ref = None
        runner = f"edgeloop's front end and runtime on the host ({rs.model_file.name})"
    out = {}
    for k in ks:
        spec = feats[k - rs.input_frames:k]
        if ref is not None:
            shape = tuple(ref.get_input_details(0)["shape"])
            out[k] = tflm.invoke(ref, spec.reshape(shape)).astype(np.int8).tobytes()
        else:
            interp.set_input(spec.tobytes())
            interp.invoke()
            out[k] = bytes(interp.get_output())
    return out, runner


def top_of(output: bytes) -> int:
    return int(np.argmax(np.frombuffer(output, np.int8)))


@dataclass
class Summary:
    rs: ReplaySet
    inferences: dict[int, dict]  # window_index -> the board's MSG_INFERENCE fields
    statuses: list[dict]
    frames: int = 0
    dropped: int = 0
    corrupt: int = 0
    samples: int = 0
    disconnects: int = 0
    db: Path | None = None
    session_id: int | None = None
    stream_seconds: float = 0.0
    host_out: dict[int, bytes] = field(default_factory=dict)
    runner: str = ""
    out_quant: tuple[float, int] = (1 / 256, -128)
    detections: list[dict] = field(default_factory=list)  # keyword: the spotter's MSG_DETECTION fields

    # -- figures ------------------------------------------------------------------
    def scored(self) -> list[tuple[int, int, int]]:
        """(window, label, board top) for every received window that lies inside one take."""
        out = []
        for k in sorted(self.inferences):
            label = self.rs.window_label(k)
            if label is not None:
                out.append((k, label, self.inferences[k]["top"]))
        return out

    def accuracy(self) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
        """Per class (correct, windows) and overall (correct, windows)."""
        per = {c: [0, 0] for c in self.rs.classes}
        for _, label, top in self.scored():
            c = self.rs.classes[label]
            per[c][1] += 1
            per[c][0] += int(top == label)
        total = (sum(v[0] for v in per.values()), sum(v[1] for v in per.values()))
        return {c: (v[0], v[1]) for c, v in per.items()}, total

    def same_output(self, k: int) -> bool:
        """The board's top class is the host's, and every score is the host's int8 output to within
        half an int8 step (scores travel as probability x 65535, so this pins each output byte)."""
        host = np.frombuffer(self.host_out[k], np.int8).astype(np.int64)
        f = self.inferences[k]
        scale, zp = self.out_quant
        board = np.asarray(f["scores"], dtype=np.float64) / 65535
        return (top_of(self.host_out[k]) == f["top"] and len(board) == len(host)
                and bool(np.all(np.abs(board - (host - zp) * scale) < scale / 2)))

    def agreement(self) -> tuple[int, int]:
        """(windows where the board computed the host's output, windows compared)."""
        ks = [k for k in self.inferences if k in self.host_out]
        return sum(self.same_output(k) for k in ks), len(ks)

    def detection_texts(self) -> list[str]:
        """'yes 230 at 1530 ms': class, smoothed score on TFLM's 0..255 scale (the threshold's),
        audio time of the decision, from the board's MSG_DETECTION frames."""
        cl = self.rs.classes
        return [f"{cl[d['class_index']] if d['class_index'] < len(cl) else d['class_index']} "
                f"{d['score'] // 257} at {d['time_ms']} ms" for d in self.detections]

    def latency_ms(self) -> tuple[float, float]:
        lat = [f["latency_us"] / 1000 for f in self.inferences.values()]
        return (statistics.median(lat), max(lat)) if lat else (0.0, 0.0)

    def free_heap(self) -> tuple[int, int] | None:
        heaps = [s["free_heap"] for s in self.statuses if s["free_heap"] > 0]
        return (min(heaps), heaps[-1]) if heaps else None

    def shortfall(self) -> str:
        """What the stream missed ("" when every window came over one link and no frame was lost):
        figures from partial data are not the model's, so the demo must not pass for a success."""
        expected = len(self.rs.expected())
        missed = [f"{len(self.inferences)} of {expected} windows inferred"] if len(self.inferences) < expected else []
        missed += [f"{n} {what}" for n, what in ((self.disconnects, "disconnect(s)"),
                                                (self.corrupt, "corrupt frame(s)"),
                                                (self.dropped, "missing frame(s)")) if n]
        return ", ".join(missed)

    # -- text ---------------------------------------------------------------------
    def lines(self) -> list[str]:
        rs = self.rs
        expected = len(rs.expected())
        what = "recording(s)" if rs.kind == "keyword" else "held-out take(s)"
        unit = "samples" if rs.kind == "keyword" else "frames"
        out = [f"replayed {len(rs.segments)} {what}, {rs.frames:,} {unit} ({rs.seconds:.1f} s at "
               f"{rs.replay.rate_hz:g} Hz) from {', '.join(sorted({str(s.parent) for s in rs.sources}))}"]
        card_name, card, card_all = rs.card_accuracy()
        per, (ok, n) = self.accuracy()
        out.append(f"{'class':<10}{'windows':>8}{'correct':>9}{'this board':>12}   model card ({card_name})")
        for c in rs.classes:
            good, tot = per[c]
            if not tot and c not in card:
                continue
            mine = f"{good / tot:.1%}" if tot else "-"
            ref = f"{card[c]:.1%}" if c in card else "-"
            out.append(f"{c:<10}{tot:>8}{good:>9}{mine:>12}   {ref}")
        out.append(f"{'all':<10}{n:>8}{ok:>9}{(f'{ok / n:.1%}' if n else '-'):>12}   {card_all:.1%}")
        same, compared = self.agreement()
        straddle = sum(1 for k in self.inferences if rs.window_label(k) is None)
        out.append(f"board vs {self.runner}: same output on {same} of {compared} windows"
                   + (f" ({straddle} straddle two {what.split('(')[0].split()[-1]}s: run and checked, not scored)"
                      if straddle else ""))
        if rs.kind == "keyword":
            out.append(f"detected   {'; '.join(self.detection_texts()) or 'nothing'} (spotter: "
                       + ", ".join(f"{k} {v}" for k, v in rs.kws.items()) + ")")
            if self.stream_seconds > 1.5 * rs.seconds:
                out.append(f"real time  the board took {self.stream_seconds:.0f} s for {rs.seconds:.0f} s of audio "
                           f"({self.stream_seconds / rs.seconds:.0f}x slower: portable int8 kernels in WebAssembly "
                           "MicroPython); the replay waits for it, a live microphone would drop audio")
        if len(self.inferences) != expected:
            out.append(f"received {len(self.inferences)} of the {expected} windows the replay holds")
        med, worst = self.latency_ms()
        out.append(f"latency    {med:.1f} ms median, {worst:.1f} ms max per window "
                   "(features + inference, board's clock)")
        heap = self.free_heap()
        if heap:
            out.append(f"free heap  {heap[1]:,} bytes at the end, {heap[0]:,} lowest (board's status frames)")
        overruns = max((s["dropped"] for s in self.statuses), default=0)
        out.append(f"frames     {self.frames:,} received in {self.stream_seconds:.1f} s, "
                   f"{self.dropped + self.corrupt} lost ({self.dropped} missing, {self.corrupt} corrupt); "
                   f"{self.disconnects} disconnect(s)")
        if overruns:
            out.append(f"overruns   the board fell {overruns} sample period(s) behind its "
                       f"{rs.replay.rate_hz:g} Hz clock (the replay skips time, not data; a live sensor "
                       "would have lost those samples)")
        if self.db is not None:
            found = f"{len(self.detections)} detections, " if rs.kind == "keyword" else ""
            out.append(f"log        {self.db} (session {self.session_id}: {len(self.inferences)} inferences, "
                       f"{found}{self.samples:,} samples)")
            if rs.kind == "gesture":
                out.append(f"           a retraining set from it: edgeloop export --db {self.db} --format parquet "
                           "--out retrain/")
        out += [f"note: {n}" for n in rs.notes]
        return out
