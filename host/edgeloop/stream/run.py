"""Library entry points behind `edgeloop monitor` and `edgeloop record`.

They assemble link, reader, store and session and return a summary; drawing
is the caller's (a callback gets the LiveStats ~10 times a second).
"""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path
from typing import Callable

from edgeloop_fw import protocol as P

from ..errors import StreamError
from edgeloop.log.store import Store
from .link import BoardLink
from .recording import Take, write_take
from .session import StreamSession


def check_seconds(seconds: float | None) -> None:
    """--seconds must be a positive, finite number (nan slips through every comparison)."""
    if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
        raise StreamError(f"--seconds {seconds:g} is not a length of time; give a positive number of seconds, "
                          "e.g. --seconds 10")


def _port(port: str | None) -> str:
    from edgeloop.link.discover import resolve_port
    return resolve_port(port)


def monitor(*, port: str | None, db: str | Path | None, seconds: float | None = None, plot: bool = False,
            send_window: bool = False, on_tick: Callable | None = None, link_factory=None,
            silence: float = 3.0, retry: float = 1.0, on_session: Callable | None = None,
            count: int | None = None) -> str:
    """Stream and log until `seconds` (of streaming), `count` inferences or Ctrl-C; returns a one-line summary.

    `count` is board work, not host time: a board that runs slower than its sensor (a busy
    machine, a slow model) still delivers that many, where `seconds` would cut it short.

    StreamError when the app fails to start (the board's own error line) or when
    nothing worth monitoring arrived: no inference, no sample.
    """
    check_seconds(seconds)
    flags = P.STREAM_INFERENCE | P.STREAM_STATUS
    if plot:
        flags |= P.STREAM_SAMPLES
    if send_window:
        flags |= P.STREAM_WINDOW
    if link_factory is None:
        port = _port(port)
        link_factory = lambda: BoardLink(port, flags=flags, mode=P.MODE_INFER)  # noqa: E731
    def enough(session) -> bool:
        return count is not None and session.stats.inferences >= count

    session = _run_session(link_factory, db, port, seconds, on_tick, on_session, should_stop=enough,
                           silence=silence, retry=retry)
    c, s = session.reader.counts, session.stats
    if not (s.inferences or s.samples or s.detections or s.kept):
        raise StreamError(_nothing_arrived(session, seconds, db))
    where = f", logged to {db}" if db else ""
    found = f", {s.detections} detections" if s.detections else ""
    found += f", {s.kept} kept windows" if s.kept else ""
    return (f"{s.inferences} inferences{found}, {s.samples} samples in {c.frames} frames; "
            f"{c.dropped} dropped, {c.corrupt} corrupt; {s.disconnects} disconnects{where}")


def _nothing_arrived(session: StreamSession, seconds: float | None, db) -> str:
    """Why a monitor run ended without an inference, from what the board did send."""
    c, hello = session.reader.counts, session.stats.hello
    got = f"the board at {session.port} sent {c.frames} frame(s) but no inference"
    got += f" in {seconds:g} s of streaming" if seconds else ""
    kept = f" (what came is in {db})" if db and c.frames else ""
    if not hello:
        return f"{got}{kept}; it never said hello: redeploy with `edgeloop deploy --model DIR`"
    if not hello.get("model_hash"):
        return f"{got}{kept}: its /edgeloop.json names no model; deploy one with `edgeloop deploy --model DIR`"
    rate = hello.get("rate_hz") or 0
    need = f" = {hello['window'] / rate:g} s" if rate else ""
    return (f"{got}{kept}: the first inference needs a full window ({hello['window']} frames at {rate} Hz{need}) "
            "and the model's time; stream longer with --seconds")


def record(*, port: str | None, label: str, seconds: float, out: str | Path, db: str | Path | None = None,
           edge_impulse: bool = False, on_tick: Callable | None = None, link_factory=None,
           on_session: Callable | None = None) -> Take:
    """Record one labelled take of raw sensor samples into the dataset folder `out`.

    The take is `seconds` of the sensor's samples, counted from the first frame
    (starting the app takes seconds) and by samples at the board's rate, so a short
    take is not cut by start-up or by the last batch still in flight.
    """
    check_seconds(seconds)
    if not label or any(c in label for c in "/\\\0") or label.startswith("."):
        raise StreamError(f"label {label!r} cannot name a file; use letters, digits, '-' or '_' (e.g. --label wave)")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StreamError(f"cannot create the dataset folder {out}: {e.strerror}; pass --out with a writable folder") from None
    if link_factory is None:
        port = _port(port)
        link_factory = lambda: BoardLink(port, flags=P.STREAM_SAMPLES | P.STREAM_STATUS,  # noqa: E731
                                         mode=P.MODE_RECORD)
    take = Take(label=label, started=time.time())

    def on_frame(msg_type, seq, t_ms, f):
        if msg_type == P.MSG_HELLO:
            take.hello = f
        elif msg_type == P.MSG_SAMPLES:
            take.add(f)

    def take_done(session) -> bool:
        started = session.first_frame_at
        if started is None:
            return False
        elapsed = time.monotonic() - started
        rate = take.rate_hz or (take.hello or {}).get("rate_hz") or 0
        enough = rate and take.n_samples >= math.ceil(seconds * rate)
        return elapsed >= seconds and (enough or elapsed >= seconds + max(2.0, seconds))

    session = _run_session(link_factory, db, port, None, on_tick, on_session, on_frame=on_frame, should_stop=take_done)
    if not take.n_samples:
        raise StreamError("the board sent no sensor samples; check the firmware's sensor with "
                          "`edgeloop monitor --plot`")
    take.lost_frames = session.reader.counts.dropped + session.reader.counts.corrupt
    write_take(take, out, edge_impulse=edge_impulse)
    return take


def _run_session(link_factory, db, port, seconds, on_tick, on_session, should_stop=lambda session: False,
                 **options) -> StreamSession:
    """Stream until `seconds` pass, `should_stop(session)`, Ctrl-C or SIGTERM; the log is committed and closed
    either way."""
    store = Store(db) if db else None
    session = StreamSession(link_factory, store, port=port or "", **options)
    if on_session is not None:
        on_session(session)
    try:
        with _sigterm_as_interrupt():
            try:
                session.run(seconds, on_tick=on_tick, should_stop=lambda: should_stop(session))
            except KeyboardInterrupt:
                pass  # Ctrl-C is the normal way to stop; run() committed everything
    finally:
        if store:
            store.close()
    return session


class _sigterm_as_interrupt:
    """SIGTERM (a service manager, `timeout`) stops like Ctrl-C: commit, then exit."""

    def __enter__(self):
        try:
            self._old = signal.signal(signal.SIGTERM, self._raise)
        except ValueError:  # not the main thread
            self._old = None
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)
