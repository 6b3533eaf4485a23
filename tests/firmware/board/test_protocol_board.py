"""protocol.py on the rp2040 virtual board (real MicroPython, heap capped): the shared vectors, both ways.

The vectors come from an independent implementation (tests/vectors/
generate_protocol.py: the `cobs` package + binascii CRC). Here the board's
own interpreter decodes every frame, re-encodes it through the
allocation-free FrameEncoder, un-escapes every command through CommandReader,
and shows that encoding frames in the hot path allocates nothing. protocol.py
gets there as `edgeloop deploy` puts it (compiled to .mpy), the vectors
through the same deploy library, and the script runs over the pty.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.tools.paths import REPO, VECTORS

VECTORS = REPO / "tests" / "vectors" / "protocol.json"

pytestmark = pytest.mark.sim

# In parts: this board collects garbage only between raw-REPL executions.
SETUP = r"""
import json, struct, gc
from edgeloop_fw import protocol as P
from array import array

V = json.load(open('/vectors.json'))

def unhex(s):
    return bytes(int(s[i:i + 2], 16) for i in range(0, len(s), 2))

def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1e-6 * max(1.0, abs(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    return a == b

def encode(enc, v):
    f = v['fields']
    k = v['kind']
    t = v['t_ms']
    if k == 'samples':
        return enc.samples(t, f['sample_index'], f['rate_hz'], f['channels'], struct.pack('<%dh' % len(f['data']), *f['data']))
    if k == 'inference':
        w = f['window']
        return enc.inference(t, f['window_index'], f['latency_us'], f['top'], array('H', f['scores']), len(f['scores']),
                             f['model_hash'].encode(), None if w is None else struct.pack('<%dh' % len(w), *w),
                             f.get('window_channels', 0))
    if k == 'status':
        return enc.status(t, f['capture_us'], f['features_us'], f['inference_us'], f['free_heap'], f['dropped'], f['mode'])
    if k == 'log':
        return enc.log(t, f['level'], f['text'].encode())
    if k == 'pong':
        return enc.pong(t, f['token'])
    if k == 'ack':
        return enc.ack(t, f['command'], f['command_seq'], f['status'], f['text'].encode())
    if k == 'features':
        c = {1: 'b', 2: 'h', 3: 'f'}[f['dtype']]
        return enc.features(t, f['window_index'], f['dtype'], struct.pack('<%d%s' % (len(f['data']), c), *f['data']))
    return enc.message(v['type'], t, f)

def check(v):
    name = v['name']
    wire = unhex(v['wire_hex'])
    try:
        typ, seq, t, payload = P.frame_decode(wire[:-1])
        fields = P.decode_payload(typ, payload)
        want = dict(v['fields'])
        if v['kind'] == 'inference' and want['window'] is None:
            want.pop('window_channels', None)
        assert (typ, seq, t) == (v['type'], v['seq'], v['t_ms']), 'header'
        assert same(fields, want), 'fields %r' % (fields,)
        enc = P.FrameEncoder(1024)
        enc.seq = v['seq']
        n = encode(enc, v)
        assert bytes(enc.wire[:n]) == wire, 'encoder bytes'
        assert P.frame_encode(v['type'], v['seq'], v['t_ms'], P.encode_payload(v['type'], v['fields'])) == wire, 'frame_encode'
        if 'escaped_hex' in v:
            r = P.CommandReader(512)
            got = [x for x in (r.feed(b) for b in unhex(v['escaped_hex'])) if x is not None]
            assert len(got) == 1 and got[0][0] == v['type'] and got[0][1] == v['seq'], 'command reader'
            assert same(P.decode_payload(got[0][0], got[0][3]), v['fields']), 'command fields'
        print('PASS', name)
    except Exception as e:
        print('FAIL', name, repr(e))

"""

FRAME = "check(V['frames'][%d])"

BAD = r"""
for b in V['bad']:
    try:
        P.frame_decode(unhex(b['wire_hex'])[:-1])
        print('FAIL', b['name'], 'accepted')
    except P.ProtocolError as e:
        print('PASS' if e.kind == b['error'] else 'FAIL', b['name'], e.kind)

"""

HOT_PATH = r"""
# The hot path: samples, inference and status frames, 200 each, with GC off.
enc = P.FrameEncoder(512)
data = bytearray(struct.pack('<30h', *range(-15, 15)))
mv = memoryview(data)
scores = array('H', [1000, 2000, 60000, 0, 2535])
mh = b'3f2a9c01'
i = grown = before = 0  # bound before measuring: a new global grows the globals dict, not the encoder
gc.collect()
gc.disable()
before = gc.mem_alloc()
for i in range(200):
    enc.samples(i, i, 100, 3, mv)
    enc.inference(i, i, 1234, 2, scores, 5, mh)
    enc.status(i, 1, 2, 3, 4, 5, 2)
grown = gc.mem_alloc() - before
gc.enable()
print('ALLOC', grown)
"""


def test_protocol_vectors_on_micropython(any_board):
    fw_board = any_board
    vectors = json.loads(VECTORS.read_text())
    fw_board.put({"/vectors.json": VECTORS.read_bytes()})
    frames = [FRAME % i for i in range(len(vectors["frames"]))]
    out = fw_board.run([SETUP, *frames, BAD, HOT_PATH])
    lines = [ln for ln in out.splitlines() if ln.startswith(("PASS", "FAIL", "ALLOC"))]
    fails = [ln for ln in lines if ln.startswith("FAIL")]
    assert not fails, "\n".join(fails) + "\n" + out[-2000:]
    passed = {ln.split()[1] for ln in lines if ln.startswith("PASS")}
    assert passed == {v["name"] for v in vectors["frames"]} | {b["name"] for b in vectors["bad"]}
    alloc = [int(ln.split()[1]) for ln in lines if ln.startswith("ALLOC")]
    assert alloc == [0], f"encoding 600 frames allocated {alloc} bytes on the board"
