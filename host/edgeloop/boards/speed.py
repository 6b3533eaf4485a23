"""What a model costs on a core before it runs there: instructions per layer from counted figures.

The figures are the runtime's own, counted exactly under QEMU inside MicroPython on the
same core (benchmarks/bench_mlperf.py --fit writes them from the four MLPerf Tiny models),
one file per core in boards/speed/. A board profile names its core (`[speed] core`); the
estimate is then arithmetic on the model's layers: a fixed cost per op call, plus
instructions per MAC for ops that multiply, or per output element for those that do not.
Cycles are not instructions: `cycles_per_instruction` says how the core's pipeline is
taken into account, and where that number comes from.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from edgeloop.errors import BoardProfileError
from edgeloop.resources import boards_dir


# Ops whose work is their MACs (weights against inputs); every other op is costed per output element.
MULTIPLY = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL", "CONV_3D"})


@dataclass(frozen=True)
class CoreSpeed:
    core: str
    level: str  # the kernel level the figures were counted at ("native", "viper")
    counted_on: str  # the emulated machine and MicroPython build
    cycles_per_instruction: float
    per_call: float  # instructions an op call costs besides its work (the interpreter's dispatch)
    per_mac: dict[str, float]  # by TFLite op name
    per_element: dict[str, float]  # by op name; "default" for the rest
    sources: dict = field(default_factory=dict)

    def layer(self, op: str, macs: int, elements: int) -> float:
        """Instructions of one op call: per MAC for the ops that multiply (convolutions, fully
        connected), per output element for the rest (pooling, softmax, add: what their MACs
        would mean differs from tool to tool)."""
        if op in self.per_mac:
            return self.per_call + macs * self.per_mac[op]
        if op in MULTIPLY:  # one that multiplies but was not counted: the dearest counted MAC
            return self.per_call + macs * max(self.per_mac.values())
        return self.per_call + elements * self.per_element.get(op, self.per_element["default"])


def speed_dir(directory: Path | None = None) -> Path:
    return (directory or boards_dir()) / "speed"


def _number(data: dict, key: str, where: str) -> float:
    v = data.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise BoardProfileError(f"{where}: field '{key}' must be a number >= 0, got {v!r}; "
                                "see boards/README.md, [speed]")
    return float(v)


def _table(data: dict, key: str, where: str) -> dict[str, float]:
    t = data.get(key)
    if not isinstance(t, dict) or not t:
        raise BoardProfileError(f"{where}: [{key}] must be a table of op name = number; see boards/README.md")
    return {k: _number(t, k, f"{where} [{key}]") for k in t}


def load_core(core: str, directory: Path | None = None) -> CoreSpeed:
    path = speed_dir(directory) / f"{core}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in speed_dir(directory).glob("*.toml"))) or "(none)"
        raise BoardProfileError(f"no counted figures for core {core!r} (boards/speed/{core}.toml); "
                                f"cores with figures: {known}")
    where = str(path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise BoardProfileError(f"{where}: not valid TOML ({e})") from None
    per_element = _table(data, "per_element", where)
    if "default" not in per_element:
        raise BoardProfileError(f"{where}: [per_element] needs a 'default' entry for ops it does not name")
    if data.get("core") != core:
        raise BoardProfileError(f"{where}: core {data.get('core')!r} must match the file name {core!r}")
    for key in ("level", "counted_on"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise BoardProfileError(f"{where}: field '{key}' must be a non-empty string")
    cpi = _number(data, "cycles_per_instruction", where)
    if cpi <= 0:
        raise BoardProfileError(f"{where}: cycles_per_instruction must be above 0")
    return CoreSpeed(core, data["level"], data["counted_on"], cpi, _number(data, "per_call", where),
                     _table(data, "per_mac", where), per_element, dict(data.get("sources", {})))


@dataclass(frozen=True)
class Estimate:
    speed: CoreSpeed
    clock_mhz: int
    layers: list[float]  # instructions per layer
    rows: list  # (op name, output shape, MACs) of each layer, as costed

    @property
    def instructions(self) -> float:
        return sum(self.layers)

    def us(self, instructions: float) -> float:
        return instructions * self.speed.cycles_per_instruction / self.clock_mhz


def estimate(rows, speed: CoreSpeed, clock_mhz: int) -> Estimate:
    """rows: (op name, output shape, MACs) per layer, as the converter reports them."""
    rows = list(rows)
    return Estimate(speed, clock_mhz, [speed.layer(op, macs or 0, math.prod(shape) if shape else 0)
                                       for op, shape, macs in rows], rows)
