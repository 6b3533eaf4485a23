"""`edgeloop train keyword`: words in, keyword model + MODEL_CARD.md + recipe.json out."""

from __future__ import annotations

import shlex
import sys

import click

DEFAULT_DATA = "../shared/data/tflm/micro_speech"


def _cache_dir() -> str:
    import platformdirs
    return platformdirs.user_cache_dir("edgeloop") + "/keyword"


@click.command()
@click.option("--words", required=True, help="Keywords, comma-separated (English words, letters only).")
@click.option("--out", default="models/keyword", show_default=True, type=click.Path(file_okay=False),
              help="Folder for keyword.elm, keyword.tflite, MODEL_CARD.md, model.json and recipe.json.")
@click.option("--voices", type=int, default=32, show_default=True,
              help="espeak-ng voices to draw (accent + variant); a quarter of them are held out for scoring.")
@click.option("--voice", "voice_names", multiple=True,
              help="Use these voices instead of a seeded draw (repeatable), e.g. --voice en-us+m3 --voice en-gb+f2.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for voices, speeds, noise and training.")
@click.option("--epochs", type=int, default=40, show_default=True, help="Training epochs.")
@click.option("--renditions", type=int, default=3, show_default=True,
              help="Speed/pitch draws per training voice and keyword.")
@click.option("--augment", type=int, default=2, show_default=True, help="Noisy, shifted copies of each training utterance.")
@click.option("--data", "data_dir", default=DEFAULT_DATA, show_default=True, type=click.Path(file_okay=False),
              help="Folder with TFLM's micro_speech recordings: background noise for training, real clips for scoring.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False),
              help="Where synthesized audio and features are cached  [default: the user cache folder].")
@click.option("--jobs", type=int, help="Processes computing features  [default: all cores].")
@click.option("--recordings", type=click.Path(file_okay=False),
              help="Real speech instead of espeak-ng: one folder per word of 16 kHz mono WAV/FLAC clips, the "
                   "Speech Commands layout (_unknown_/, _silence_/, other words count as unknown); a quarter of "
                   "the speakers are held out for scoring.")
@click.option("--synthetic", is_flag=True, help="With --recordings: mix espeak-ng speech of --words into training.")
@click.option("--copies", type=int, default=2, show_default=True,
              help="With --recordings: augmented copies of each training clip (noise, shift, gain, speed).")
@click.option("--arch", type=click.Choice(["tiny", "dscnn"]), default="tiny", show_default=True,
              help="tiny: one strided conv + dense (micro_speech); dscnn: conv + depthwise-separable blocks.")
@click.option("--width", type=int, default=8, show_default=True, help="Filters of the convolutions.")
@click.option("--blocks", type=int, default=2, show_default=True, help="dscnn: depthwise-separable blocks.")
@click.option("--threshold", type=click.IntRange(0, 255), default=200, show_default=True,
              help="The spotter's detection threshold (of 255) written to model.json and scored.")
@click.option("--teacher", type=click.Path(dir_okay=False),
              help="With --recordings: distil from this bigger model (MLPerf Tiny's kws_ref_model.tflite): every "
                   "training copy is also labelled by its softened outputs.")
@click.option("--temperature", type=click.FloatRange(min=0.1), default=4.0, show_default=True,
              help="With --teacher: softening temperature of the teacher's and the student's outputs.")
@click.option("--alpha", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
              help="With --teacher: weight of the true label in the loss (the teacher gets 1 - alpha).")
def keyword(words, out, voices, voice_names, seed, epochs, renditions, augment, data_dir, cache_dir, jobs,
            recordings, synthetic, copies, arch, width, blocks, threshold, teacher, temperature, alpha):
    """Train a keyword spotter for your own words from synthetic speech.

    Speech comes from espeak-ng (many accents, voices, speeds and pitches),
    mixed with real background noise; features come from the board's own
    audio front end (bit-exact with TFLM's micro_speech), so the model sees on
    the board exactly what it was trained on. Classes are `silence`,
    `unknown` (other words), then your words. Accuracy is reported for
    float, int8 under TFLM and int8 under edgeloop's runtime, per class, on
    voices held out from training and on TFLM's real recordings.

    \b
    Examples:
      edgeloop train keyword --words yes,no,up,down --out models/keyword/
      edgeloop train keyword --words on,off --voices 16 --epochs 20 --out models/onoff/
      edgeloop train keyword --words yes,no,up,down --recordings ../shared/data/speech_commands --epochs 30
    """
    from edgeloop.cli.train import step_progress

    from edgeloop.train.keyword import KeywordRecipe, train_keyword

    if teacher and not recordings:
        raise click.UsageError("--teacher labels real recordings: give --recordings too")

    recipe = KeywordRecipe(words=words.split(","), voices=voices, voice_names=list(voice_names) or None,
                           seed=seed, epochs=epochs, renditions=renditions, augment=augment,
                           recordings=recordings, synthetic=synthetic, copies=copies, arch=arch, width=width,
                           blocks=blocks, kws_threshold=threshold, teacher=teacher, teacher_temperature=temperature,
                           teacher_alpha=alpha)
    command = "edgeloop " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["train"] else \
        f"edgeloop train keyword --words {words} --out {out} --voices {voices} --seed {seed} --epochs {epochs}"
    with step_progress() as progress:
        res = train_keyword(recipe, out, data_dir=data_dir, cache_dir=cache_dir or _cache_dir(), jobs=jobs,
                            command=command, progress=progress)
    click.echo(f"wrote {out}: keyword.elm ({res.model_bytes:,} bytes, arena {res.arena:,}, {res.macs:,} MACs), "
               f"keyword.tflite, MODEL_CARD.md, model.json, recipe.json in {res.seconds} s")
    if res.held_out:
        f = res.held_out
        click.echo(f"classes {', '.join(res.classes)}; speakers {f['speakers']['train']} trained, "
                   f"{f['speakers']['held-out']} held out")
    else:
        click.echo(f"classes {', '.join(res.classes)}; voices {len(res.train_voices)} trained, "
                   f"{len(res.test_voices)} held out")
    for title, acc in res.accuracy.items():
        click.echo(f"{title} ({acc.samples} clips): " +
                   ", ".join(f"{r} {100 * v:.1f} %" for r, v in acc.overall.items()))
    if res.held_out:
        if res.held_out.get("teacher"):
            t = res.held_out["teacher"]
            click.echo(f"teacher {t['model']} on the held-out speakers: class-balanced "
                       f"{100 * t['top1']['balanced_accuracy']:.1f} %, false keyword on unknown words "
                       f"{100 * t['top1']['false_keyword_unknown']:.1f} % (T {t['temperature']}, alpha {t['alpha']})")
        _print_field(res)
    if res.stream:
        st = res.stream
        click.echo(f"continuous recognition over TFLM's recordings back to back: {st['hits']} of "
                   f"{len(st['expected'])} keywords detected, {st['false_alarms']} false alarms")


def _print_field(res) -> None:
    """The held-out speakers' figures, as the card has them."""
    f = res.held_out
    top, s = f["top1"], f["summary"]
    pct = lambda v: "n/a" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    click.echo("held-out speakers, per class (top-1 / at threshold %d): " % s["threshold"] + ", ".join(
        f"{n} {pct(v['accuracy'])} / {pct(s['per_class'][n]['accuracy'])}" for n, v in top["per_class"].items()))
    click.echo(f"class-balanced accuracy {pct(top['balanced_accuracy'])} / {pct(s['balanced_accuracy'])}; "
               f"false keyword on unknown words {pct(top['false_keyword_unknown'])} / {pct(s['false_keyword_unknown'])}, "
               f"on noise {pct(top['false_keyword_silence'])} / {pct(s['false_keyword_silence'])}")
    click.echo("threshold  keywords right  wrong keyword  false kw unknown  false kw noise  balanced")
    for t in f["thresholds"]:
        click.echo(f"{t['threshold']:>9}  {pct(t['keyword_detected']):>14}  {pct(t['wrong_keyword']):>13}  "
                   f"{pct(t['false_keyword_unknown']):>16}  {pct(t['false_keyword_silence']):>14}  "
                   f"{pct(t['balanced_accuracy']):>8}")
    st = f["stream"]
    click.echo(f"stream of held-out speakers ({st['hours'] * 60:.1f} min): {st['detected']} of {st['keywords']} "
               f"keywords detected ({pct(st['detected_rate'])}), {st['missed']} missed, {st['false_alarms']} false "
               f"alarms ({st['false_alarms_per_hour']:.1f} per hour)")
    ins = res.instructions
    if ins.get("instructions"):
        click.echo(f"about {ins['instructions']:,} instructions per inference on {ins['board']} "
                   f"(~{ins['ms']} ms), heap {ins['heap_bytes']:,} bytes")
