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


def _opt(v) -> str:
    return "n/a" if v is None else _pct(v)


def field_section(recipe, result) -> list[str]:
    """Held-out speakers: per class, class-balanced, false keyword, the threshold table and the stream."""
    f = result.held_out
    s, top = f["summary"], f["top1"]
    out = ["## Held-out speakers (real recordings)", "",
           f"{f['speakers']['held-out']} speakers never heard in training ({f['speakers']['train']} trained on); "
           "int8 under TFLM, whose output bytes equal edgeloop's runtime (above). A keyword counts when it "
           f"is the top class and its score (of 255) is above the spotter's threshold ({s['threshold']}); "
           "\"top-1\" counts the top class alone.", "",
           "| class | clips | top-1 | at threshold |", "|---|---:|---:|---:|"]
    for name, v in top["per_class"].items():
        out.append(f"| {name} | {v['clips']} | {_pct(v['accuracy'])} | {_pct(s['per_class'][name]['accuracy'])} |")
    out += [f"| **class-balanced** | {top['clips']} | **{_pct(top['balanced_accuracy'])}** | "
            f"**{_pct(s['balanced_accuracy'])}** |",
            f"| false keyword on unknown words | | {_opt(top['false_keyword_unknown'])} | {_opt(s['false_keyword_unknown'])} |",
            f"| false keyword on noise (silence) | | {_opt(top['false_keyword_silence'])} | {_opt(s['false_keyword_silence'])} |",
            "", "Threshold trade-off (held-out clips):", "",
            "| threshold | keywords right | wrong keyword | false keyword: unknown | false keyword: noise | class-balanced |",
            "|---:|---:|---:|---:|---:|---:|"]
    for t in f["thresholds"]:
        out.append(f"| {t['threshold']} | {_opt(t['keyword_detected'])} | {_opt(t['wrong_keyword'])} | "
                   f"{_opt(t['false_keyword_unknown'])} | {_opt(t['false_keyword_silence'])} | {_pct(t['balanced_accuracy'])} |")
    st = f["stream"]
    cfg = st["settings"]
    out += ["", "### Streaming (held-out speakers)", "",
            f"Every held-out keyword clip and unknown-word clip, in a seeded order with 1-2 s gaps, over the held-out "
            f"background clips at random levels: {st['hours'] * 60:.1f} minutes played continuously through "
            f"`edgeloop_fw.kws.KeywordSpotter` (every={cfg['every']}, average_ms={cfg['average_ms']}, "
            f"threshold={cfg['threshold']}, suppression_ms={cfg['suppression_ms']}; inferences by TFLM). "
            "A keyword is detected when its class is reported between its start and 750 ms after its end; "
            "every other report is a false alarm.", "",
            "| keywords | detected | missed | false alarms | false alarms per hour |", "|---:|---:|---:|---:|---:|",
            f"| {st['keywords']} | {st['detected']} ({_opt(st['detected_rate'])}) | {st['missed']} | "
            f"{st['false_alarms']} | {st['false_alarms_per_hour']:.1f} |", ""]
    ins = result.instructions
    if ins and "instructions" in ins:
        out += [f"Cost on the {ins['board']} profile: about {ins['instructions']:,} instructions per inference "
                f"(~{ins['ms']} ms at its clock, boards/speed estimate), heap {ins['heap_bytes']:,} bytes.", ""]
    return out


def model_card(recipe, result, command: str) -> str:
    r = recipe
    if getattr(result, "held_out", None):
        return real_card(recipe, result, command)
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
        *_size_rows(result),
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


def _net(r) -> str:
    if r.arch == "dscnn":
        return (f"DS-CNN: Conv2D {r.width} x (10x4) stride 2, then {r.blocks} depthwise-separable blocks "
                f"(3x3 depthwise, the first with stride 2, + 1x1 conv of {r.width}), batch norm folded, ReLU, "
                f"global average pool, dropout {r.dropout}, dense softmax")
    return (f"Conv2D {r.width} x (10x8) stride 2 + ReLU, "
            + (f"Conv2D {r.conv2_filters} x (5x5) stride 2 + ReLU, " if r.conv2_filters else "")
            + f"dropout {r.dropout}, dense softmax")


def real_card(recipe, result, command: str) -> str:
    """The card of a model trained on real recordings: data, split by speaker, field scores."""
    r = recipe
    f = result.held_out
    out = [
        "# Keyword model card", "",
        f"Classes (output order): {', '.join(f'`{c}`' for c in result.classes)}.", "",
        "Reproduce with:", "", "```", command, "```", "",
        "## Data", "",
        f"- Real speech from `{r.recordings}` (sha256 of its clips {f['data_sha256'][:16]}...), one folder per "
        "word; `unknown`: " + ", ".join(f["words_in_unknown"]) + "; `silence`: background clips.",
        f"- Split by speaker (the file-name prefix before `_nohash_`), never by clip: {f['speakers']['train']} "
        f"speakers train, {f['speakers']['held-out']} held out (their names are in recipe.json); background "
        f"clips split by file, {_pct(r.held_out)} held out.",
        f"- Training copies: each clip as recorded plus {r.copies} augmented copies ({r.unknown_copies} of each "
        "unknown clip): speed/pitch x0.85-1.15, time shift up to 150 ms, gain x0.25-2, and in 80 % of copies "
        "background noise at 0/5/10/20/30 dB SNR from the training background clips and TFLM's noise_1000ms.wav.",
        (f"- Mixed with espeak-ng speech from {len(result.train_voices)} voices." if r.synthetic else
         "- No synthetic speech."),
        "- Clips per class: " + "; ".join(
            f"{split}: " + ", ".join(f"{c} {n}" for c, n in zip(result.classes, counts))
            for split, counts in result.counts.items()) + ".",
        "- Features: edgeloop_fw.audio.AudioFrontend, bit-exact with TFLM's micro_speech front end: 49 frames x "
        "40 channels of int8, reset per clip; the model's int8 input is that byte (scale 1/128, zero point 0).",
        "", "## Model", "",
        _net(r) + f"; Adam (lr {r.learning_rate}), {r.epochs} epochs, batch {r.batch_size}, class-balanced "
        f"weights, seed {r.seed}. Quantized to full int8 by TFLite's converter through `edgeloop.convert.keras`.",
        *_teacher_lines(result),
        "", "| | |", "|---|---|",
        *_size_rows(result),
        f"| training run | {result.seconds} s |", "",
        "## Accuracy, three runners", "",
        "Float = the Keras model; int8 = the quantized .tflite under TFLM (the reference); edgeloop = the "
        ".elm under edgeloop's runtime (CPython, the same code as the board's). Top class per clip.", ""]
    for title, acc in result.accuracy.items():
        out += [f"### {title}", ""] + _accuracy_table(acc) + [""]
    out += field_section(recipe, result)
    out += ["## Limits", "",
            "Speech Commands clips are read-speech in quiet-to-moderate rooms on phones and laptops; the stream is "
            "made of the same held-out clips, not a real conversation. A board's microphone, room and talkers "
            "differ: record with `edgeloop record --mic` and retrain.", ""]
    return "\n".join(out)


def _teacher_lines(result) -> list[str]:
    """Distillation: which teacher, its settings, and its own held-out figures (the same table)."""
    t = (result.held_out or {}).get("teacher")
    if not t:
        return []
    top = t["top1"]
    return ["", f"Distilled from `{t['model']}` (MLPerf Tiny's DS-CNN on 49x10 MFCC, run int8 under TFLM on "
            "every training copy): loss = alpha x cross-entropy with the true label + (1 - alpha) x T^2 x "
            f"cross-entropy with the teacher's outputs, both softened at T = {t['temperature']}, alpha = "
            f"{t['alpha']}. The teacher itself on the held-out speakers (top-1): class-balanced "
            f"{_pct(top['balanced_accuracy'])}, false keyword on unknown words {_opt(top['false_keyword_unknown'])}, "
            f"on noise {_opt(top['false_keyword_silence'])}; it does not run on the board."]


def _size_rows(result) -> list[str]:
    """The model's size table, the same in the synthetic and the real-speech card."""
    return [
        f"| parameters | {result.params} |",
        f"| model file (.elm) | {result.model_bytes} bytes |",
        f"| int8 .tflite | {result.tflite_bytes} bytes |",
        f"| arena (edgeloop) | {result.arena} bytes |",
        f"| arena (TFLM, smallest that loads) | {result.tflm_arena if result.tflm_arena is not None else 'n/a'} bytes |",
        f"| MACs per inference | {result.macs} |",
    ]
