// Layout of the SharedArrayBuffer the bridge's two threads share.
// The main thread only moves bytes from the pty into the ring and turns a
// Ctrl-C that arrives while code runs into a flag, the way a UART RX
// interrupt would; everything else happens in the worker.
export const RING_SIZE = 1 << 16;
export const HEAD = 0;        // next write index (main thread)
export const TAIL = 1;        // next read index (worker)
export const STATE = 2;       // worker state, see below
export const INTR = 3;        // 1 while a Ctrl-C waits to be delivered
export const INTR_AT = 4;     // seconds*10 (low 31 bits) when the Ctrl-C came
export const INTR_POS = 5;    // ring HEAD when that Ctrl-C came (its place in the data)
export const HEADER_INTS = 8;

export const STATE_BUSY = 0;  // running Python or starting up
export const STATE_IDLE = 1;  // blocked waiting for input

export function makeShared() {
  const sab = new SharedArrayBuffer(HEADER_INTS * 4 + RING_SIZE);
  return sab;
}

export function views(sab) {
  return {
    hdr: new Int32Array(sab, 0, HEADER_INTS),
    ring: new Uint8Array(sab, HEADER_INTS * 4, RING_SIZE),
  };
}
