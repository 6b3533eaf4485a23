"""A gateway process fed by made-up board frames, for tests that kill it:
`python -m tests.tools.fleet_gateway_proc URL QUEUE DEVICE INFERENCES RATE`.

It publishes DEVICE's hello and INFERENCES inference frames (a status every 10) at about RATE
frames a second and exits 0 once a collector confirmed everything it queued (INFERENCES 0: it only
drains what an earlier process left in QUEUE). Its stats go to stdout as one line.
"""

from __future__ import annotations

import sys

from edgeloop.fleet.broker import parse_broker
from edgeloop.fleet.gateway import Gateway
from edgeloop.fleet.outbox import Outbox
from edgeloop.fleet.sources import IterableSource
from tests.tools.fleet_frames import board_frames
from tests.tools.fleet_running import paced


def main(url, queue, device, inferences, rate):
    outbox = Outbox(queue, "gw-proc")
    frames = paced(board_frames(device, int(inferences)), float(rate)) if int(inferences) else iter(())
    gw = Gateway(parse_broker(url), outbox, [IterableSource(frames)], retry=0.2,
                 log=lambda text: print(f"gateway: {text}", file=sys.stderr, flush=True))
    stats = gw.run(until_drained=True)
    outbox.close()
    print(stats.summary(), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
