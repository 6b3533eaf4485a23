"""`edgeloop bench`: where a model's time goes on a board, layer by layer.

The board runs its own runtime on one input from the host and times each op with
its own clock through `Interpreter.invoke(probe)`; the whole model is timed again
without the probe (input copy included), so the total is what the app pays. Per-layer times include
one probe call each (measured on the board and printed beside them), and a board
whose clock ticks in milliseconds (the virtual board) is averaged over enough
runs to read below one. The output bytes come back too: a caller can check the
run against TFLM (the tests do), so a figure is never of a model that went wrong.

MACs per layer come from the model's TFLite reference beside it (model.json
`model.reference`), through the converter's own op summaries.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .predict import Target, model_on_board

# The board side. One exec; the interpreter allocates nothing per inference on the
# runtime's own models (tests/firmware/board/test_kws_board.py measures it), and
# runs stop at `cap` anyway: a board that collects garbage only between executions
# then cannot run out of heap on a model whose wide accumulators allocate.
_BOARD_BENCH = """
def _elbench(path, data, seconds_ms, cap):
    from array import array
    from binascii import hexlify, unhexlify
    try:
        from edgeloop_fw.port import ticks_us, ticks_diff
    except ImportError:
        from time import ticks_us, ticks_diff
    from edgeloop_fw.runtime.loader import Model
    from edgeloop_fw.runtime.interpreter import Interpreter
    f = open(path, 'rb')
    try:
        it = Interpreter(Model(f))
        # The arena reuses the input's bytes for later tensors, as TFLM's does: the input is
        # copied in before every run (through a view made once, as the app does).
        view = it.input_view()
        src = bytearray(unhexlify(data))
        try:
            src = memoryview(src).cast('b')
        except (AttributeError, NotImplementedError, TypeError, ValueError):
            pass
        end = len(src)
        n = len(it.steps)
        acc = array('i', bytes(4 * n))
        mark = array('i', [0])
        def probe(i):
            t = ticks_us()
            acc[i] += ticks_diff(t, mark[0])
            mark[0] = ticks_us()
        runs = 0
        t0 = ticks_us()
        while runs < cap and (runs < 3 or ticks_diff(ticks_us(), t0) < seconds_ms * 1000):
            view[0:end] = src
            mark[0] = ticks_us()
            it.invoke(probe)
            runs += 1
        whole = 0
        t0 = ticks_us()
        while whole < runs and (whole < 3 or ticks_diff(ticks_us(), t0) < seconds_ms * 1000):
            view[0:end] = src
            it.invoke()
            whole += 1
        whole_us = ticks_diff(ticks_us(), t0)
        keep = acc[0]  # the probe's own cost: the same calls with no op between them
        k = 0
        t0 = ticks_us()
        mark[0] = t0
        while k < 20 * n:
            probe(0)
            k += 1
        probe_us = ticks_diff(ticks_us(), t0)
        acc[0] = keep
        print(hexlify(bytes(it.get_output())).decode())
        print(runs, whole, whole_us, k, probe_us)
        print(' '.join(str(v) for v in acc))
        print(' '.join(str(op[0]) for op in it.model.ops))
    finally:
        f.close()
try:
    _elbench({path!r}, {data!r}, {seconds_ms}, {cap})
finally:
    del _elbench
    __import__('gc').collect()
"""


@dataclass
class Layer:
    index: int
    op: str
    shape: tuple[int, ...] | None  # the op's output, from the TFLite reference
    macs: int | None
    us: float  # per inference, one probe call included


@dataclass
class Bench:
    target: Target
    where: str
    runs: int  # probed inferences the layer times are averaged over
    whole_runs: int
    whole_us: float  # per inference, without the probe
    probe_us: float  # one probe call
    layers: list[Layer] = field(default_factory=list)
    output: bytes = b""
    input: bytes = b""

    @property
    def macs(self) -> int | None:
        m = [layer.macs for layer in self.layers]
        return None if any(v is None for v in m) else sum(m)


def bench_input(target: Target, seed: int = 0) -> bytes:
    """A fixed pseudo-random int8 input: kernels run the same work whatever the values, and
    one input the caller can replay (under TFLM, in the tests) checks the run."""
    t = target.model.inputs[0]
    return np.random.default_rng(seed).integers(-128, 128, t.nbytes, dtype=np.int8).tobytes()


def reference_layers(target: Target) -> list[tuple[str, tuple[int, ...], int]] | None:
    """(op, output shape, MACs) per op from the TFLite reference beside the model, or None."""
    info = target.info
    ref = (info.model or {}).get("reference") if info else None
    if not ref or not (target.path.parent / ref).is_file():
        return None
    from ..convert.int8 import convert_tflite
    from ..report.data import layer_rows

    rows = layer_rows(convert_tflite(target.path.parent / ref))
    return [(r.op, r.shape, r.macs) for r in rows]


def run_bench(port: str, target: Target, *, seconds: float = 2.0, cap: int = 1000, where: str | None = None,
              seed: int = 0) -> Bench:
    """Copy the model to the board's /models/ (only if changed) and time it there."""
    if target.kind == "trees":
        raise ModelError(f"{target.path} is a tree ensemble: it has no layers to time; "
                         "`edgeloop predict --port` prints its latency")
    from edgeloop.link.device import BoardException, Device

    data = bench_input(target, seed)
    with Device(port) as dev:
        remote = model_on_board(dev, port, target)
        try:
            out = dev.exec(_BOARD_BENCH.format(path=remote, data=data.hex(), seconds_ms=int(seconds * 1000),
                                               cap=cap), timeout=600).decode()
        except BoardException as e:
            raise ModelError(f"the board could not run {remote}: {str(e).strip().splitlines()[-1]}") from None
    lines = out.strip().splitlines()
    output = bytes.fromhex(lines[0])
    runs, whole, whole_us, k, probe_us = (int(v) for v in lines[1].split())
    acc = [int(v) for v in lines[2].split()]
    from ..convert.tflite import op_name

    names = [op_name(int(v)) for v in lines[3].split()]
    ref = reference_layers(target)
    if ref is not None and [r[0] for r in ref] != names:
        ref = None  # a reference that is not this model's: no MACs rather than wrong ones
    layers = [Layer(i, name, ref[i][1] if ref else None, ref[i][2] if ref else None, acc[i] / runs)
              for i, name in enumerate(names)]
    return Bench(target, where or port, runs, whole, whole_us / whole, probe_us / k, layers, output, data)


@contextlib.contextmanager
def virtual_board(board: str):
    """A virtual board of this profile with the firmware deployed, for a bench without hardware."""
    import tempfile

    from edgeloop.deploy.firmware import deploy_firmware
    from edgeloop.link.device import Device
    from edgeloop.sim import VirtualBoard

    with tempfile.TemporaryDirectory(prefix="edgeloop-bench-") as tmp, \
            VirtualBoard(board=board, flash_dir=Path(tmp) / "flash", register=False) as vb:
        with Device(vb.port) as dev:
            deploy_firmware(dev, board=board, cache_dir=Path(tmp) / "mpy")
        yield vb.port


def estimate_for(target: Target, board: str, rows=None):
    """The instruction estimate of `target` on `board`'s core (boards/speed/), or a line saying why
    there is none: no counted figures for that core, or no TFLite reference to take layers from.
    `rows`: the layers when the caller has them already (a bench's), else read from the reference."""
    from ..boards import profiles
    from ..boards.speed import estimate, load_core

    profile = profiles.load(board)
    if profile.speed_core is None:
        return (f"no instruction estimate for {board} ({profile.cpu}): the runtime's kernels have not been "
                "counted on that core (docs/mlperf.md)")
    if target.kind == "trees":
        return f"no instruction estimate for {target.path}: a tree ensemble has no layers to count"
    if rows is None:
        rows = reference_layers(target)
    if rows is None:
        return (f"no instruction estimate for {target.path}: its model.json names no TFLite reference "
                "to take the layers' MACs from")
    return estimate(rows, load_core(profile.speed_core), profile.clock_mhz), profile


def estimate_table(target: Target, board: str) -> list[str]:
    """`edgeloop bench --estimate`: the layers and what they would cost on the board, no board needed."""
    got = estimate_for(target, board)
    if isinstance(got, str):
        raise ModelError(got + "; run `edgeloop bench` without --estimate to time it on a (virtual) board")
    est, profile = got
    rows = est.rows
    head = f"{target.path}: {len(rows)} ops, {sum(r[2] or 0 for r in rows):,} MACs, estimated for {_on(profile, est)}"
    out = [head, f"  {'#':>3}  {'op':<18} {'output':<14} {'MACs':>10} {'instructions':>13} {'est. µs':>10}"]
    for i, ((op, shape, macs), n) in enumerate(zip(rows, est.layers)):
        shape_s = "x".join(str(d) for d in shape) if shape else "-"
        out.append(f"  {i:>3}  {op:<18} {shape_s:<14} {macs or 0:>10,} {n:>13,.0f} {est.us(n):>10.0f}")
    out.append(_whole(est))
    return out


def _on(profile, est) -> str:
    s = est.speed
    return (f"{profile.name} ({profile.cpu}, {profile.clock_mhz} MHz; the runtime's {s.level} kernels, "
            f"counted on {s.counted_on}; {s.cycles_per_instruction:g} cycles per instruction)")


def _whole(est) -> str:
    us = est.us(est.instructions)
    return (f"estimate: {est.instructions / 1e6:,.2f} M instructions per inference ≈ {us / 1000:,.2f} ms "
            f"≈ {1e6 / us if us else 0:,.1f} inferences/s at {est.clock_mhz} MHz")


def table(b: Bench, estimate=None) -> list[str]:
    """The per-layer table and the whole-model line, as the CLI prints them; with `estimate` (what
    `estimate_for` returns), each layer's estimated µs on that board's chip beside the measured."""
    total = sum(layer.us for layer in b.layers) or 1.0
    macs = b.macs
    est = estimate[0] if isinstance(estimate, tuple) and len(estimate[0].layers) == len(b.layers) else None
    head = (f"{b.target.path}: {len(b.layers)} ops"
            + (f", {macs:,} MACs" if macs is not None else " (no TFLite reference beside it: MACs unknown)")
            + f", on {b.where}")
    out = [head, f"  {'#':>3}  {'op':<18} {'output':<14} {'MACs':>10} {'µs':>10} {'share':>6} {'MACs/µs':>8}"
           + (f" {'est. µs':>10}" if est else "")]
    for layer in b.layers:
        shape = "x".join(str(d) for d in layer.shape) if layer.shape else "-"
        m = f"{layer.macs:,}" if layer.macs is not None else "-"
        rate = f"{layer.macs / layer.us:.1f}" if layer.macs and layer.us > 0 else "-"
        out.append(f"  {layer.index:>3}  {layer.op:<18} {shape:<14} {m:>10} {layer.us:>10.1f} "
                   f"{100 * layer.us / total:>5.1f}% {rate:>8}"
                   + (f" {est.us(est.layers[layer.index]):>10.0f}" if est else ""))
    out.append(f"whole model: {b.whole_us / 1000:.3f} ms per inference (mean of {b.whole_runs} runs, no probe); "
               f"layers: mean of {b.runs} runs, each including one probe call of ~{b.probe_us:.1f} µs")
    if est:
        out.append(f"est. µs: {_on(estimate[1], est)}")
        out.append(_whole(est))
    elif isinstance(estimate, str):
        out.append(estimate)
    return out
