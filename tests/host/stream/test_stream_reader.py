"""The host parser under hostile input: property tests and a bounded fuzz run.

Streams are built from the shared protocol vectors' encoder (frame_encode,
itself checked against the independent vectors in test_protocol.py) and then
damaged; what must come back is judged from how the stream was built, not from
the reader's own output.
"""

from __future__ import annotations

import random
import time

from hypothesis import given, settings, strategies as st

from edgeloop_fw import protocol as P
from edgeloop.stream.reader import MAX_WIRE, FrameReader


def make_frames(n, seed=0, start_seq=0):
    rng = random.Random(seed)
    frames = []
    for i in range(n):
        data = [rng.randrange(-32768, 32768) for _ in range(rng.randrange(0, 40) * 3)]
        payload = P.encode_payload(P.MSG_SAMPLES, dict(sample_index=i, rate_hz=100, channels=3, data=data))
        frames.append(P.frame_encode(P.MSG_SAMPLES, start_seq + i, i * 10, payload))
    return frames


def feed_in_chunks(reader, stream, rng):
    out = []
    i = 0
    while i < len(stream):
        n = rng.randrange(1, 300)
        out += reader.feed(stream[i:i + n])
        i += n
    return out


def damage(frame: bytes, rng) -> bytes:
    """Corrupt a frame's body; its trailing delimiter stays, so the next frame stays intact."""
    body = bytearray(frame[:-1])
    op = rng.randrange(4)
    if op == 0 and body:  # flip bits in one byte
        k = rng.randrange(len(body))
        body[k] ^= rng.randrange(1, 256)
    elif op == 1 and body:  # lose a run of bytes
        k = rng.randrange(len(body))
        del body[k:k + rng.randrange(1, 8)]
    elif op == 2:  # bytes inserted (line noise, a stray print)
        k = rng.randrange(len(body) + 1)
        body[k:k] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
    else:  # truncated: the tail of the frame never arrived
        body = body[:rng.randrange(len(body) + 1)]
    return bytes(body) + b"\x00"


@given(st.integers(0, 2**32 - 1), st.integers(5, 60), st.floats(0.05, 0.6))
@settings(max_examples=60, deadline=None)
def test_every_intact_frame_after_corruption_is_recovered(seed, n, p_damage):
    rng = random.Random(seed)
    frames = make_frames(n, seed)
    stream = bytearray(b"\x00")
    intact = []
    for i, f in enumerate(frames):
        if rng.random() < p_damage:
            stream += damage(f, rng)
        else:
            stream += f
            intact.append(i)
    reader = FrameReader()
    got = feed_in_chunks(reader, bytes(stream), rng)
    got_seqs = [fr.seq for fr in got]
    # every intact frame comes back, in order (a damaged one could, in 1 of 65536, pass its CRC too)
    it = iter(got_seqs)
    assert all(any(s == want for s in it) for want in intact)
    good = {fr.seq: fr for fr in got}
    for i in intact:
        assert bytes(good[i].payload) == P.frame_decode(frames[i][:-1])[3]
    # losses are counted: frames missing between the first and last received are "dropped"
    if got_seqs:
        assert reader.counts.dropped == (got_seqs[-1] - got_seqs[0] + 1) - len(got_seqs)
    assert reader.counts.frames == len(got)


@given(st.binary(max_size=4000), st.integers(1, 64))
@settings(max_examples=200, deadline=None)
def test_random_bytes_never_crash(data, chunk):
    reader = FrameReader()
    for i in range(0, len(data), chunk):
        for fr in reader.feed(data[i:i + chunk]):
            assert fr.msg_type in P.MSG_NAMES
    assert reader.counts.bytes == len(data)


def test_garbage_then_frames_resynchronises():
    frames = make_frames(10, 3)
    noise = bytes(random.Random(5).randrange(1, 256) for _ in range(5000))  # no delimiter at all
    reader = FrameReader()
    got = reader.feed(b"OK\r\n" + noise + b"\x00" + b"".join(frames))
    assert [fr.seq for fr in got] == list(range(10))
    assert reader.counts.rejected["overlong"] + reader.counts.corrupt >= 1


def test_endless_text_without_delimiter_stays_bounded():
    reader = FrameReader()
    line = b"Traceback (most recent call last): this is not a frame\r\n"
    for _ in range(2000):
        reader.feed(line)
        assert len(reader._pending) <= MAX_WIRE
    assert reader.counts.rejected["overlong"] == 1  # one run, counted once
    got = reader.feed(b"\x00" + make_frames(1)[0])
    assert len(got) == 1


def test_sequence_gap_and_wrap_counted():
    frames = make_frames(5, 1, start_seq=0xFFFE)  # seqs FFFE, FFFF, 0, 1, 2
    reader = FrameReader()
    got = reader.feed(frames[0] + frames[1] + frames[4])  # 0 and 1 lost across the wrap
    assert [fr.seq for fr in got] == [0xFFFE, 0xFFFF, 2]
    assert reader.counts.dropped == 2


def test_hello_restarts_the_sequence():
    b1 = make_frames(3)
    hello = P.frame_encode(P.MSG_HELLO, 0, 0, P.encode_payload(P.MSG_HELLO, dict(
        rate_hz=100, channels=3, window=1, hop=1, mode=2, scale=1.0, device_id="", board="", firmware="",
        model_hash="", sensor="", units="", classes=[])))
    reader = FrameReader()
    reader.feed(b"".join(b1) + hello + make_frames(2, start_seq=1)[0])
    assert reader.counts.dropped == 0  # a board restart is not loss


def test_bounded_fuzz_run():
    """10 000 mutated streams (fixed seed); none may crash or take long."""
    rng = random.Random(20261122)
    base = b"\x00".join(make_frames(20, 11))
    start = time.monotonic()
    for _ in range(10_000):
        s = bytearray(base)
        for _ in range(rng.randrange(1, 6)):
            k = rng.randrange(len(s))
            r = rng.random()
            if r < 0.4:
                s[k] = rng.randrange(256)
            elif r < 0.7:
                del s[k:k + rng.randrange(1, 30)]
            else:
                s[k:k] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30)))
        reader = FrameReader()
        reader.feed(bytes(s))
        assert reader.counts.frames <= 20 + 5
    assert time.monotonic() - start < 120  # a hang would blow far past this
