"""gateway -> real Mosquitto -> collector -> SQLite, end to end: the sequence numbers the gateway
gave each board's frames are compared with those the log holds, and the frames' own content
(window_index) is counted, so a frame stored twice under two keys would show too."""

from __future__ import annotations

import sqlite3

from tests.tools.fleet_frames import board_frames, stored_sequences, wait_for

from tests.tools.fleet_running import DEADLINE, RunningCollector, RunningGateway, paced

N = 600  # inferences per board


def frames_of(device_id, n=N):
    return list(board_frames(device_id, n, status_every=10))


def expect_all_once(db, devices: dict, gateway_id="gw-test"):
    """Every frame stored once: sequences 0..n-1 per device, and each window_index once."""
    seqs = stored_sequences(db)
    for device_id, frames in devices.items():
        assert seqs.get((device_id, gateway_id)) == list(range(len(frames))), device_id
    con = sqlite3.connect(db)
    try:
        for device_id, frames in devices.items():
            n_inf = sum(1 for f in frames if f[0] == 4)
            got = con.execute("SELECT count(*), count(DISTINCT window_index) FROM inferences WHERE device_id = ?",
                              (device_id,)).fetchone()
            assert got == (n_inf, n_inf), (device_id, got)
    finally:
        con.close()


def all_stored(db, devices, gateway_id="gw-test"):
    seqs = stored_sequences(db)
    return all(len(seqs.get((d, gateway_id), [])) == len(f) for d, f in devices.items())


def queued_frames(queue_path) -> int:
    """Frames waiting in a gateway's queue file, read from the file (each row's header says how many
    frames its batch carries: docs/fleet.md's payload table, read by hand here)."""
    db = sqlite3.connect(f"file:{queue_path}?mode=ro", uri=True)
    try:
        heads = [bytes(h) for (h,) in db.execute("SELECT substr(payload, 1, 30) FROM outbox")]
    finally:
        db.close()
    return sum(1 if h[2] == 1 else int.from_bytes(h[28:30], "little") for h in heads)


def test_two_boards_through_gateway_broker_and_collector(broker, tmp_path):
    db = tmp_path / "fleet.sqlite"
    devices = {"dev-a": frames_of("dev-a"), "dev-b": frames_of("dev-b")}
    with RunningCollector(broker.url, db) as col:
        gw = RunningGateway(broker.url, tmp_path / "q.sqlite", list(devices.values()), until_drained=True)
        with gw:
            wait_for(lambda: col.check() and gw.check() and all_stored(db, devices), DEADLINE, "every frame stored")
            wait_for(lambda: gw.stats().confirmed == sum(map(len, devices.values())), DEADLINE,
                     "the confirmations to reach the gateway")
    expect_all_once(db, devices)
    assert gw.gateway.stats.queued == gw.gateway.stats.confirmed == sum(map(len, devices.values()))
    assert gw.gateway.stats.waiting == 0


def test_frames_wait_on_disk_while_the_broker_is_down_and_go_in_order(broker, tmp_path):
    db = tmp_path / "fleet.sqlite"
    devices = {"dev-a": frames_of("dev-a", 300)}
    with RunningCollector(broker.url, db) as col:  # its persistent session exists from now on
        broker.stop()
        with RunningGateway(broker.url, tmp_path / "q.sqlite", list(devices.values())) as gw:
            wait_for(lambda: gw.stats() and gw.stats().queued == len(devices["dev-a"]), DEADLINE, "all queued")
            # nothing left the queue without a broker
            assert queued_frames(tmp_path / "q.sqlite") == len(devices["dev-a"]) and gw.stats().published == 0
            broker.start()
            wait_for(lambda: col.check() and gw.check() and all_stored(db, devices), DEADLINE, "every frame stored")
    expect_all_once(db, devices)
    con = sqlite3.connect(db)
    order = [s for (s,) in con.execute("SELECT sequence FROM fleet_messages ORDER BY rowid")]
    assert order == sorted(order)  # sent in order when the broker came back


def test_broker_stopped_and_restarted_mid_stream_loses_and_doubles_nothing(broker, tmp_path):
    db = tmp_path / "fleet.sqlite"
    devices = {"dev-a": frames_of("dev-a", 1500), "dev-b": frames_of("dev-b", 1500)}
    n = sum(map(len, devices.values()))
    with RunningCollector(broker.url, db) as col:
        sources = [paced(f, 1000) for f in devices.values()]
        with RunningGateway(broker.url, tmp_path / "q.sqlite", sources) as gw:
            wait_for(lambda: col.check() and sum(map(len, stored_sequences(db).values())) > n // 4, DEADLINE,
                     "a quarter of the frames")
            broker.stop()
            wait_for(lambda: gw.stats().lost >= 1 and gw.gateway.outbox.size > 50, DEADLINE,
                     "the gateway to queue while the broker is down")
            broker.start()
            wait_for(lambda: col.check() and gw.check() and all_stored(db, devices), DEADLINE, "every frame stored")
            assert gw.stats().dropped == 0
    expect_all_once(db, devices)
    assert col.collector.stats.lost >= 1



def test_a_full_queue_drops_the_oldest_frames_and_counts_them(broker, tmp_path):
    db = tmp_path / "fleet.sqlite"
    frames = frames_of("dev-a", 900)  # 1 hello + 900 inferences + 90 status = 991
    with RunningCollector(broker.url, db) as col:
        broker.stop()
        # one frame per message: the limit counts messages, and this checks exactly which frames go
        with RunningGateway(broker.url, tmp_path / "q.sqlite", [frames], limit=400, batch_frames=1) as gw:
            wait_for(lambda: gw.stats() and gw.stats().queued == len(frames), DEADLINE, "all queued")
            assert gw.gateway.outbox.size == 400 and gw.gateway.outbox.dropped == len(frames) - 400
            broker.start()
            wait_for(lambda: col.check() and len(stored_sequences(db).get(("dev-a", "gw-test"), [])) == 400,
                     DEADLINE, "the newest 400 stored")
    # exactly the oldest were dropped: the log holds the last 400 sequences, each once
    assert stored_sequences(db)[("dev-a", "gw-test")] == list(range(len(frames) - 400, len(frames)))
    assert gw.gateway.stats.dropped == len(frames) - 400


def test_a_hello_that_does_not_parse_is_counted_not_fatal(broker, tmp_path):
    db = tmp_path / "fleet.sqlite"
    good = frames_of("dev-a", 20)
    bad_hello = (good[0][0], good[0][1], good[0][2], good[0][3][:5])
    with RunningCollector(broker.url, db) as col:
        with RunningGateway(broker.url, tmp_path / "q.sqlite", [[bad_hello] + good[1:5] + good],
                            until_drained=True) as gw:
            wait_for(lambda: col.check() and gw.check() and all_stored(db, {"dev-a": good}), DEADLINE,
                     "the frames after the good hello")
    assert gw.gateway.stats.no_device == 1 + 4
    expect_all_once(db, {"dev-a": good})


def test_what_the_broker_took_stays_queued_until_a_collector_confirms_it(broker, tmp_path):
    """No collector session yet: the broker acknowledges every message and gives it to nobody. The
    gateway keeps them all (PUBACK is not enough), and a restarted gateway sends them from its file."""
    db = tmp_path / "fleet.sqlite"
    devices = {"dev-a": frames_of("dev-a", 200)}
    n = len(devices["dev-a"])
    with RunningGateway(broker.url, tmp_path / "q.sqlite", list(devices.values()), confirm_wait=3600) as gw:
        wait_for(lambda: gw.stats() and gw.stats().queued == n and gw.stats().acked == gw.gateway.outbox.size,
                 DEADLINE, "the broker to acknowledge everything")
        assert queued_frames(tmp_path / "q.sqlite") == n and gw.stats().confirmed == 0
    with RunningCollector(broker.url, db) as col:
        with RunningGateway(broker.url, tmp_path / "q.sqlite", [], until_drained=True) as gw:
            wait_for(lambda: col.check() and gw.check() and all_stored(db, devices), DEADLINE, "every frame stored")
            wait_for(lambda: gw.stats().confirmed == n, DEADLINE, "the confirmations to reach the gateway")
    expect_all_once(db, devices)
    assert gw.gateway.stats.queued == 0 and gw.gateway.stats.confirmed == n


def test_an_unconfirmed_message_is_sent_again_after_the_wait(broker, tmp_path):
    """The same gateway, connected all along: what the broker took before any collector existed is
    resent once `confirm_wait` passed without a confirmation, and a collector that came later stores it."""
    db = tmp_path / "fleet.sqlite"
    devices = {"dev-a": frames_of("dev-a", 200)}
    n = len(devices["dev-a"])
    with RunningGateway(broker.url, tmp_path / "q.sqlite", list(devices.values()), confirm_wait=1.0) as gw:
        wait_for(lambda: gw.stats() and gw.stats().queued == n and gw.stats().acked >= gw.gateway.outbox.size,
                 DEADLINE, "the broker to acknowledge everything")
        messages = gw.gateway.outbox.size
        assert queued_frames(tmp_path / "q.sqlite") == n
        with RunningCollector(broker.url, db) as col:
            wait_for(lambda: col.check() and gw.check() and all_stored(db, devices), DEADLINE, "every frame stored")
            wait_for(lambda: gw.gateway.outbox.size == 0, DEADLINE, "the queue emptied by confirmations")
    expect_all_once(db, devices)
    assert gw.gateway.stats.lost == 0 and gw.gateway.stats.resent >= messages
