"""Library entry points behind `edgeloop monitor` and `edgeloop record`.

They assemble link, reader, store and session and return a summary; drawing
is the caller's (a callback gets the LiveStats ~10 times a second).
"""

from __future__ import annotations

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


def _port(port: str | None) -> str:
    from edgeloop.link.discover import resolve_port
    return resolve_port(port)


def monitor(*, port: str | None, db: str | Path | None, seconds: float | None = None, plot: bool = False,
            send_window: bool = False, on_tick: Callable | None = None, link_factory=None,
            silence: float = 3.0, retry: float = 1.0, on_session: Callable | None = None) -> str:
    """Stream and log until `seconds` or Ctrl-C; returns a one-line summary."""
    flags = P.STREAM_INFERENCE | P.STREAM_STATUS
    if plot:
        flags |= P.STREAM_SAMPLES
    if send_window:
        flags |= P.STREAM_WINDOW
    if link_factory is None:
        port = _port(port)
        link_factory = lambda: BoardLink(port, flags=flags, mode=P.MODE_INFER)  # noqa: E731
    session = _run_session(link_factory, db, port, seconds, on_tick, on_session, silence=silence, retry=retry)
    c, s = session.reader.counts, session.stats
    where = f", logged to {db}" if db else ""
    found = f", {s.detections} detections" if s.detections else ""
    return (f"{s.inferences} inferences{found}, {s.samples} samples in {c.frames} frames; "
            f"{c.dropped} dropped, {c.corrupt} corrupt; {s.disconnects} disconnects{where}")


def record(*, port: str | None, label: str, seconds: float, out: str | Path, db: str | Path | None = None,
           edge_impulse: bool = False, on_tick: Callable | None = None, link_factory=None,
           on_session: Callable | None = None) -> Take:
    """Record one labelled take of raw sensor samples into the dataset folder `out`."""
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

    session = _run_session(link_factory, db, port, seconds, on_tick, on_session, on_frame=on_frame)
    if not take.n_samples:
        raise StreamError("the board sent no sensor samples; check the firmware's sensor with "
                          "`edgeloop monitor --plot`")
    take.lost_frames = session.reader.counts.dropped + session.reader.counts.corrupt
    write_take(take, out, edge_impulse=edge_impulse)
    return take


def _run_session(link_factory, db, port, seconds, on_tick, on_session, **options) -> StreamSession:
    """Stream until `seconds` pass, Ctrl-C or SIGTERM; the log is committed and closed either way."""
    store = Store(db) if db else None
    session = StreamSession(link_factory, store, port=port or "", **options)
    if on_session is not None:
        on_session(session)
    try:
        with _sigterm_as_interrupt():
            try:
                session.run(seconds, on_tick=on_tick)
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
