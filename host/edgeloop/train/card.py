"""The model card: model.json's facts as a page a person reads before flashing.

Every number on the card is read from the evaluation dict the trainer built
(tests parse the card and compare it with a fresh evaluation), so the page
cannot say something the run did not measure.
"""

from __future__ import annotations

from ..modelinfo import ModelInfo


def pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def _kb(n) -> str:
    if n is None:
        return "n/a"
    return f"{n:,} B" if n < 10240 else f"{n / 1024:,.1f} KiB"


def accuracy_table(info: ModelInfo) -> list[str]:
    ev = info.evaluation
    runners = list(ev["runners"])
    head = "| class | windows | " + " | ".join(ev["runners"][r] for r in runners) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(runners)]
    for c in info.classes:
        lines.append(f"| {c} | {ev['windows_per_class'][c]} | "
                     + " | ".join(pct(ev["per_class"][r][c]) for r in runners) + " |")
    lines.append(f"| **all** | **{ev['windows']}** | "
                 + " | ".join(f"**{pct(ev['overall'][r])}**" for r in runners) + " |")
    return lines


def gesture_card(info: ModelInfo, recipe: dict) -> str:
    m, d, s, ev = info.model, info.data, info.split, info.evaluation
    rate = info.rate_hz
    ms = lambda frames: f"{1000 * frames / rate:.0f} ms" if rate else "?"  # noqa: E731
    kind = "1D CNN, int8" if info.kind == "cnn" else "random forest (emlearn trees, int16 features)"
    out = [
        f"# Gesture model: {kind}",
        "",
        f"Classes ({len(info.classes)}): {', '.join(info.classes)}. "
        f"On-board model file: `{m['file']}`.",
        "",
        "Reproduce (see recipe.json for versions):",
        "",
        "```",
        recipe["command"],
        "```",
        "",
        "## Data",
        f"- Source: `{d['path']}` ({len(d['tables'])} table{'s' if len(d['tables']) != 1 else ''}), "
        f"{d['takes']} takes, {d['frames']:,} frames at {rate:g} Hz.",
        "- Takes per class: " + ", ".join(f"{c} {n}" for c, n in d["takes_per_class"].items()) + ".",
        f"- Channels: {', '.join(info.channels)} in the board's int16 units ({', '.join(info.units)}); "
        f"recorded in {', '.join(sorted(set(info.source_units)))} and converted by edgeloop_fw.features.",
        "",
        "## Window and split",
        f"- Window {info.window} frames ({ms(info.window)}), hop {info.hop} frames ({ms(info.hop)}) "
        f"on the board and for scoring; training windows overlap more (hop {info.train_hop}).",
        f"- Split by recording take, never by window (seed {s['seed']}, {s['test_fraction']:g} of each class's "
        f"takes held out): {len(s['train'])} training takes ({s['train_windows']} windows), "
        f"{len(s['test'])} held-out takes ({s['test_windows']} windows).",
        "- Held-out takes: " + ", ".join(f"`{t}`" for t in s["test"]) + ".",
        "",
        f"## Accuracy on the {ev['windows']} held-out windows",
        "",
        *accuracy_table(info),
        "",
    ]
    if "identical_outputs" in ev:
        out += [f"edgeloop's runtime gave output bytes identical to TFLM's on {ev['identical_outputs']} of "
                f"{ev['windows']} windows (the int8 input bytes computed by the board's own feature code).", ""]
    out += ["## Size and cost", ""]
    if info.kind == "cnn":
        tflm = m.get("tflm_arena_bytes")
        out += [
            f"- Model file {_kb(m['bytes'])} (int8 .tflite {_kb(m['tflite_bytes'])}), "
            f"{m['parameters']:,} parameters.",
            f"- Arena {_kb(m['arena_bytes'])} (TFLM's smallest arena for the same model: {_kb(tflm)}); "
            f"op params in RAM {_kb(m['params_bytes'])}; weights stay in the file.",
            f"- Estimated cost: {m['macs']:,} MACs per inference; ops {', '.join(m['ops'])}.",
            f"- Input: int8 {m['input']['shape']}, scale {m['input']['scale']:.6g}, zero point "
            f"{m['input']['zero_point']} (board: q = ((mg * {m['input']['multiplier']} + 2^14) >> 15) "
            f"{m['input']['zero_point']:+d}).",
        ]
    else:
        out += [
            f"- Model file {_kb(m['bytes'])}: {m['trees']} trees, {m['nodes']} nodes, {m['leaves']} leaves, "
            f"depth at most {m['max_depth']}.",
            f"- Heap for the pure-Python evaluator about {_kb(m['heap_bytes_estimate'])}.",
            f"- Estimated cost: at most {m['comparisons_max']} comparisons per window, plus the "
            f"{len(m['features'])} window features ({', '.join(m['features'])}).",
        ]
    board = info.board
    if board and "error" in board:
        out.append(f"- Time on a board: not measured ({board['error']}).")
    elif board:
        out.append(f"- Measured on the virtual board ({board['board']}, real MicroPython, WebAssembly): "
                   f"{board['ms_per_inference']:.1f} ms per inference ({board['note']}).")
    else:
        out.append("- Time on a board: not measured by this run (--no-board-time; see benchmarks/bench_gesture.py).")
    out += ["", "## Recipe", "", f"Seed {recipe['seed']}; versions: "
            + ", ".join(f"{k} {v}" for k, v in recipe["versions"].items() if v) + ".", ""]
    return "\n".join(out)
