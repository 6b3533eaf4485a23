"""`edgeloop demo`: the end-to-end tour, on a virtual board unless a port is given."""

from __future__ import annotations

import time

import click


@click.command()
@click.option("--board", "-b", default="rp2040", show_default=True,
              help="Board profile the virtual board pretends to be (see `edgeloop boards`).")
@click.option("--port", "-p", help="Run on the board at this port instead of starting a virtual one.")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True),
              help="Gesture: replay at most this many seconds of each take (default: whole takes, as the "
                   "model card).")
@click.option("--keyword", is_flag=True,
              help="Keyword spotting instead: models/keyword/ on TFLM's real recordings through the simulated microphone.")
@click.option("--model", "model_dir", type=click.Path(file_okay=False, exists=True),
              help="A gesture model folder to replay through instead of models/gesture/ (CNN or trees, "
                   "e.g. models/gesture_trees).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=None),
              help="Folder holding the recordings (default: ../shared/data next to the checkout).")
@click.option("--db", default="edgeloop-log.sqlite", show_default=True, type=click.Path(dir_okay=False),
              help="SQLite log every inference is written to (appended to; one session per run).")
def demo(board, port, seconds, keyword, model_dir, data_dir, db):
    """Replay real held-out gesture takes through a board running the shipped model.

    Starts a virtual board (real MicroPython, WebAssembly, behind a
    pseudo-terminal), deploys the firmware and models/gesture/, plays the
    takes the model card holds out through the simulated IMU at their real
    rate, shows the live monitor, logs every inference to SQLite, and ends
    with the accuracy per class next to the model card's, whether the board
    agrees with the int8 model on the host window by window, latency, free
    heap, frames received/lost and where the log is.

    \b
    Examples:
      edgeloop demo
      edgeloop demo --seconds 2 --db /tmp/demo.sqlite
      edgeloop demo --keyword               # yes/no/silence/noise through models/keyword/
      edgeloop demo --model models/gesture_trees   # the tree ensemble instead of the CNN
      edgeloop demo --port /dev/ttyACM0     # the same steps on a real board
    """
    from pathlib import Path

    from edgeloop.boards import profiles as boards
    from edgeloop.cli.deploy import progress_bar
    from edgeloop.demo.steps import DemoContext, prepare, run_demo

    boards.load(board)  # an unknown name fails before anything starts
    bar, update = progress_bar()
    view = _LiveView(Path(db), plot=not keyword)

    def on_step(i, n, title):
        view.stop()
        click.secho(f"[{i}/{n}] {title}", bold=True)

    def on_lines(lines):
        if bar.live.is_started:
            bar.stop()
        view.stop()
        for line in lines:
            click.echo(f"      {line}")

    def progress(done, total, label):
        if not bar.live.is_started:
            bar.start()
        update(done, total, label)

    if keyword and model_dir:
        raise click.UsageError("--model picks a gesture model; --keyword uses models/keyword/")
    ctx = DemoContext(board=board, port=port, seconds=seconds, keyword=keyword,
                      model_dir=Path(model_dir) if model_dir else None,
                      data_dir=Path(data_dir) if data_dir else None,
                      db=Path(db), progress=progress, on_stream=view.start, on_tick=view.tick)
    prepare(ctx)  # missing recordings or port: one line, before any step starts
    try:
        run_demo(ctx, on_step=on_step, on_lines=on_lines)
    finally:
        view.stop()


class _LiveView:
    """The monitor's rich view on a terminal; elsewhere a plain line every few seconds."""

    def __init__(self, db, plot=True):
        self.db = db
        self.plot = plot
        self.live = None
        self.session = None
        self._next = 0.0

    def start(self, session):
        from rich.console import Console

        self.session = session
        console = Console(stderr=True)
        if console.is_terminal:
            from rich.live import Live

            self.live = Live(console=console, refresh_per_second=8, transient=False)
            self.live.start()
        self._t0 = time.monotonic()

    def tick(self, session):
        if self.live is not None:
            from edgeloop.stream.view import render

            self.live.update(render(session.stats, session.reader.counts, port=session.port, plot=self.plot,
                                    db=str(self.db)))
            return
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + 2.0
        st, c = session.stats, session.reader.counts
        inf = st.last_inference
        classes = st.classes
        top = (f"window {inf['window_index']}: {classes[inf['top']] if inf['top'] < len(classes) else inf['top']} "
               f"{inf['scores'][inf['top']] / 65535:.0%}, {inf['latency_us'] / 1000:.1f} ms") if inf else "waiting"
        click.echo(f"      {now - self._t0:5.1f} s  {top}; {st.inferences} inferences, {c.frames} frames, "
                   f"{c.dropped + c.corrupt} lost")

    def stop(self):
        if self.live is not None:
            self.live.stop()
            self.live = None
