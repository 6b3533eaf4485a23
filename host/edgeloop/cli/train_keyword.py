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
def keyword(words, out, voices, voice_names, seed, epochs, renditions, augment, data_dir, cache_dir, jobs):
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
    """
    from edgeloop.cli.train import step_progress

    from edgeloop.train.keyword import KeywordRecipe, train_keyword

    recipe = KeywordRecipe(words=words.split(","), voices=voices, voice_names=list(voice_names) or None,
                           seed=seed, epochs=epochs, renditions=renditions, augment=augment)
    command = "edgeloop " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["train"] else \
        f"edgeloop train keyword --words {words} --out {out} --voices {voices} --seed {seed} --epochs {epochs}"
    with step_progress() as progress:
        res = train_keyword(recipe, out, data_dir=data_dir, cache_dir=cache_dir or _cache_dir(), jobs=jobs,
                            command=command, progress=progress)
    click.echo(f"wrote {out}: keyword.elm ({res.model_bytes:,} bytes, arena {res.arena:,}, {res.macs:,} MACs), "
               f"keyword.tflite, MODEL_CARD.md, model.json, recipe.json in {res.seconds} s")
    click.echo(f"classes {', '.join(res.classes)}; voices {len(res.train_voices)} trained, "
               f"{len(res.test_voices)} held out")
    for title, acc in res.accuracy.items():
        click.echo(f"{title} ({acc.samples} clips): " +
                   ", ".join(f"{r} {100 * v:.1f} %" for r, v in acc.overall.items()))
    if res.stream:
        st = res.stream
        click.echo(f"continuous recognition over TFLM's recordings back to back: {st['hits']} of "
                   f"{len(st['expected'])} keywords detected, {st['false_alarms']} false alarms")
