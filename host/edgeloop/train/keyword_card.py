"""The keyword model card: what the model was trained on and how well each runner does, per class.

Markdown, written next to the model so the numbers travel with it. Accuracy
comes in two sets that measure different things: voices held out from
training (same synthesizer, timbres never heard) and TFLM's real
recordings (real microphones and people, only four clips: a sanity check,
not a statistic).
"""

from __future__ import annotations

from .keyword_data import BACKGROUNDS, UNKNOWN_WORDS


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def _accuracy_table(acc) -> list[str]:
    runners = list(acc.per_class)
    lines = ["| class | clips | " + " | ".join(runners) + " |",
             "|---|---:|" + "---:|" * len(runners)]
    for i, name in enumerate(acc.classes):
        lines.append(f"| {name} | {acc.counts[i]} | " + " | ".join(_pct(acc.per_class[r][i]) for r in runners) + " |")
    lines.append(f"| **all** | {acc.samples} | " + " | ".join(f"**{_pct(acc.overall[r])}**" for r in runners) + " |")
    if acc.identical_to_tflm is not None:
        lines.append("")
        lines.append(f"edgeloop's int8 output bytes equal TFLM's on {acc.identical_to_tflm} of {acc.samples} clips.")
    return lines


def model_card(recipe, result, command: str) -> str:
    r = recipe
    fillers = [w for w in UNKNOWN_WORDS if w not in r.words]
    out = [
        "# Keyword model card",
        "",
        f"Classes (output order): {', '.join(f'`{c}`' for c in result.classes)}.",
        "",
        "Reproduce with:",
        "",
        "```",
        command or "edgeloop train keyword --words " + ",".join(r.words),
        "```",
        "",
        "## Data",
        "",
        "- Speech: synthesized with espeak-ng (English accents x voice variants, random speed 120-200 wpm "
        "and pitch 25-75 per utterance), resampled to 16 kHz, trimmed.",
        f"- Each clip is 1 s: the utterance at a random level (peak 15-95 % of full scale), centred "
        f"with a random shift of up to 100 ms, over background noise (80 % of clips) from TFLM's "
        f"{' and '.join(BACKGROUNDS)} recordings, circularly shifted and scaled, plus faint white noise.",
        f"- `unknown`: {r.unknown_per_voice} other words per voice, drawn from: {', '.join(fillers)}.",
        f"- `silence`: background-only clips ({_pct(r.silence_fraction)} of the word clips).",
        f"- Training voices ({len(result.train_voices)}): {', '.join(result.train_voices)}; "
        f"{r.renditions} speed/pitch renditions per keyword, {r.augment} noisy copies each.",
        f"- Held-out voices ({len(result.test_voices)}, variants never used in training): "
        f"{', '.join(result.test_voices)}; {r.test_renditions} renditions per keyword, one copy each.",
        "- Clips per class: " + "; ".join(
            f"{split}: " + ", ".join(f"{c} {n}" for c, n in zip(result.classes, counts))
            for split, counts in result.counts.items()) + ".",
        "- Features: edgeloop_fw.audio.AudioFrontend, bit-exact with TFLM's micro_speech front end: "
        "49 frames x 40 channels of int8 (30 ms windows, 20 ms apart), reset per clip. The model's "
        "int8 input is that byte (scale 1/128, zero point 0).",
        "",
        "## Model",
        "",
        "Conv2D 8 x (10x8) stride 2 + ReLU, "
        + (f"Conv2D {r.conv2_filters} x (5x5) stride 2 + ReLU, " if r.conv2_filters else "")
        + "dropout 0.25, dense softmax; "
        f"Adam (lr {r.learning_rate}), {r.epochs} epochs, batch {r.batch_size}, class-balanced weights, seed {r.seed}. "
        "Quantized to full int8 by TFLite's converter through `edgeloop.convert.keras`.",
        "",
        "| | |",
        "|---|---|",
        f"| parameters | {result.params} |",
        f"| model file (.elm) | {result.model_bytes} bytes |",
        f"| int8 .tflite | {result.tflite_bytes} bytes |",
        f"| arena (edgeloop) | {result.arena} bytes |",
        f"| arena (TFLM, smallest that loads) | {result.tflm_arena if result.tflm_arena is not None else 'n/a'} bytes |",
        f"| MACs per inference | {result.macs} |",
        f"| training run | {result.seconds} s |",
        "",
        "## Accuracy",
        "",
        "Float = the Keras model; int8 = the quantized .tflite under TFLM (the reference); "
        "edgeloop = the .elm under edgeloop's runtime (CPython, the same code as the board's).",
        "",
    ]
    for title, acc in result.accuracy.items():
        out += [f"### {title}", ""] + _accuracy_table(acc) + [""]
    if result.real:
        out += ["Real recordings, one by one (edgeloop runtime; score = int8 output + 128, of 255):", "",
                "| recording | expected | edgeloop | score | float |", "|---|---|---|---:|---|"]
        for row in result.real:
            out.append(f"| {row['file']} | {row['expected']} | {row['edgeloop']} | {row['score']} | {row['float']} |")
        out.append("")
    st = result.stream
    if st:
        cfg = st["settings"]
        out += ["## Continuous recognition (board code, CPython)", "",
                f"`edgeloop_fw.kws.KeywordSpotter` with every={cfg['every']} frames, average_ms={cfg['average_ms']}, "
                f"threshold={cfg['threshold']}, suppression_ms={cfg['suppression_ms']} (also in model.json, `kws`), "
                f"over TFLM's recordings back to back: {', '.join(st['parts'])} (1 s each).", "",
                f"Keywords detected where spoken: {st['hits']} of {len(st['expected'])}; false alarms: {st['false_alarms']}.", "",
                "| detected | score (of 255) | at (ms of stream) |", "|---|---:|---:|"]
        out += [f"| {d['class']} | {d['score']} | {d['ms']} |" for d in st["detections"]] or ["| (none) | | |"]
        out.append("")
    out += ["## Limits", "",
            "Trained only on synthetic voices: real speakers, rooms and microphones differ, and the four "
            "real recordings are far too few to measure that. Record real clips with `edgeloop record` "
            "and retrain before relying on it.", ""]
    return "\n".join(out)
