"""A collector and a gateway on their own threads, for the fleet tests (not a test module)."""

from __future__ import annotations

import threading
import time

from edgeloop.fleet.broker import parse_broker
from edgeloop.fleet.collector import Collector
from edgeloop.fleet.gateway import Gateway
from edgeloop.fleet.outbox import Outbox
from edgeloop.fleet.sources import IterableSource
from edgeloop.log.store import Store
from tests.tools.fleet_frames import wait_for

DEADLINE = 180  # seconds; conditions are polled, this only bounds a broken run


class _Thread:
    def __init__(self):
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._guard, daemon=True)
        self.error = None
        self.logs: list[str] = []

    def _guard(self):
        try:
            self._run()
        except BaseException as e:  # surfaced by check() and __exit__
            self.error = e

    def check(self):
        if self.error:
            raise self.error
        return True

    def __enter__(self):
        self.thread.start()
        return self

    def stop(self):
        self._stop.set()
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive(), "did not stop"
        self.check()

    def __exit__(self, *exc):
        self.stop()


class RunningCollector(_Thread):
    def __init__(self, url, db, client_id="c-test", auth=None, check=None):
        super().__init__()
        self.url, self.db, self.client_id = url, db, client_id
        self.auth, self.check_message = auth or {}, check  # broker credential (parse_broker's), identity check
        self.collector = None

    def _run(self):
        if str(self.db).startswith("postgresql://"):
            from edgeloop.log.pgstore import PgStore as open_store
        else:
            open_store = Store
        with open_store(self.db) as store:  # SQLite connections belong to the thread that made them
            self.collector = Collector(parse_broker(self.url, **self.auth), store, client_id=self.client_id,
                                       retry=0.2, log=self.logs.append, check=self.check_message)
            self.collector.run(should_stop=self._stop.is_set)

    def connected(self):
        self.check()
        return self.collector is not None and self.collector.stats.connects

    def __enter__(self):
        super().__enter__()
        wait_for(self.connected, DEADLINE, "the collector to connect")
        return self


class RunningGateway(_Thread):
    def __init__(self, url, queue_path, frames, gateway_id="gw-test", limit=1_000_000, until_drained=False,
                 auth=None, **options):
        super().__init__()
        self.auth = auth or {}  # broker credential (parse_broker's keywords)
        self.options = options  # more Gateway keywords (confirm_wait)
        self.url, self.queue_path, self.frames = url, queue_path, frames
        self.gateway_id, self.limit, self.until_drained = gateway_id, limit, until_drained
        self.gateway = None

    def _run(self):
        outbox = Outbox(self.queue_path, self.gateway_id, limit=self.limit)
        try:
            sources = [IterableSource(f, name=f"src{i}") for i, f in enumerate(self.frames)]
            self.gateway = Gateway(parse_broker(self.url, **self.auth), outbox, sources, retry=0.2, log=self.logs.append,
                                   **self.options)
            self.gateway.run(should_stop=self._stop.is_set, until_drained=self.until_drained)
        finally:
            outbox.close()

    def stats(self):
        self.check()
        return self.gateway.stats if self.gateway else None


def paced(frames, per_second: float):
    """Frames at about `per_second` (pacing only: no test result depends on the timing)."""
    start = time.monotonic()
    for i, f in enumerate(frames):
        delay = start + i / per_second - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield f
