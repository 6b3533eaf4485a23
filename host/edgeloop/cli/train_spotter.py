"""`edgeloop train spotter`: a keyword model's spotter settings tuned on its training speakers, reported on held-out ones."""

from __future__ import annotations

import click


def _line(name: str, st: dict) -> str:
    s = st["settings"]
    return (f"{name:<12} every {s.get('every', 4)}, average {s.get('average_ms', 1000)} ms, threshold "
            f"{s.get('threshold', 200)}, suppression {s.get('suppression_ms', 1500)} ms, minimum "
            f"{s.get('minimum_count', 3)}: {st['detected']} of {st['keywords']} detected "
            f"({100 * st['detected_rate']:.1f} %), {st['false_alarms']} false alarms ({st['false_alarms_per_hour']:.1f}/h)")


@click.command()
@click.option("--model", "model_dir", default="models/keyword", show_default=True, type=click.Path(file_okay=False),
              help="A keyword model folder written by `train keyword --recordings`.")
@click.option("--recordings", default="../shared/data/speech_commands", show_default=True,
              type=click.Path(file_okay=False), help="The folder the model was trained on.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False),
              help="Folder for the streams' features and model outputs (reused by the next run).")
@click.option("--alarm-cost", "costs", type=float, multiple=True,
              help="Missed keywords one false alarm is worth when choosing  [default: 2]; repeat to compare.")
def spotter(model_dir, recordings, cache_dir, costs):
    """Tune the board spotter's settings (every, average, threshold, suppression, minimum count).

    The settings are chosen on a stream of the model's TRAINING speakers (as
    many keywords and unknown words as the held-out stream, over training
    background noise); the held-out speakers' stream only reports the choice,
    beside model.json's current settings. Prints; writes nothing: the settings
    a board runs are model.json's `kws`.

    \b
    Example:
      edgeloop train spotter --model models/keyword --cache /tmp/kws-cache --alarm-cost 2 --alarm-cost 0.5
    """
    from edgeloop.cli.train import step_progress
    from edgeloop.train import kws_tune as T

    costs = list(costs) or [T.ALARM_COST]
    with step_progress() as progress:
        rep = T.tune_model(model_dir, recordings, cache_dir, costs, progress=progress)
    for name, st in rep.streams.items():
        click.echo(f"{name} stream: {len(st.x) / 16000 / 60:.1f} min, {len(st.marks)} keywords, "
                   f"{len(st.speakers)} speakers")
    click.echo(f"\ntraining speakers, {len(rep.rows)} settings; best 5 (detected - {costs[0]:g} x false alarms):")
    for r in rep.rows[:5]:
        click.echo(_line("  train", r))
    for c in costs[1:]:
        click.echo(_line(f"  x {c:g}", rep.chosen[c]))
    click.echo(_line("  current", rep.current_train))
    click.echo(f"\n{len(rep.better)} settings beat the current ones on the training stream on both figures"
               + (":" if rep.better else ""))
    for r in rep.better[:5]:
        click.echo(_line("  train", r))
    click.echo("\nheld-out speakers (never used for choosing):")
    click.echo(_line("current", rep.held_out["current"]))
    for c in costs:
        click.echo(_line(f"tuned x {c:g}", rep.held_out[c]))
    if "better" in rep.held_out:
        click.echo(_line("beats", rep.held_out["better"]))
