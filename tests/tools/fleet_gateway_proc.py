"""A gateway process fed by made-up board frames, for tests that kill it:
`python -m tests.tools.fleet_gateway_proc URL QUEUE DEVICE INFERENCES RATE [BOARDS [AUTH]]`.

It publishes DEVICE's hello and INFERENCES inference frames (a status every 10) at about RATE
frames a second and exits 0 once a collector confirmed everything it queued (INFERENCES 0: it only
drains what an earlier process left in QUEUE). Its stats go to stdout as one line. With BOARDS > 1
it reads that many boards at once, DEVICE-0, DEVICE-1, ..., each with INFERENCES // BOARDS
inferences at RATE, each in its own reader thread as a gateway's serial ports are. AUTH: a JSON
object of parse_broker's credential keywords (ca, cert, key, username, password_file).
"""

from __future__ import annotations

import sys

from edgeloop.fleet.broker import parse_broker
from edgeloop.fleet.gateway import Gateway
from edgeloop.fleet.outbox import Outbox
from edgeloop.fleet.sources import IterableSource
from tests.tools.fleet_frames import board_frames
from tests.tools.fleet_running import paced


def main(url, queue, device, inferences, rate, boards="1", auth="{}"):
    import json

    outbox = Outbox(queue, "gw-proc")
    n, boards = int(inferences), int(boards)
    if boards > 1:
        sources = [IterableSource(paced(board_frames(f"{device}-{i}", n // boards), float(rate)))
                   for i in range(boards)]
    else:
        sources = [IterableSource(paced(board_frames(device, n), float(rate)) if n else iter(()))]
    gw = Gateway(parse_broker(url, **json.loads(auth)), outbox, sources, retry=0.2,
                 log=lambda text: print(f"gateway: {text}", file=sys.stderr, flush=True))
    stats = gw.run(until_drained=True)
    outbox.close()
    print(stats.summary(), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
