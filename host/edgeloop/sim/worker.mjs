// The virtual board's CPU: one MicroPython (WebAssembly) interpreter.
//
// Runs in a worker thread so that the main thread can keep reading the pty
// (and notice Ctrl-C) while Python code runs. Input arrives through the
// shared ring (see shared.mjs); output goes to the pty master (non-blocking:
// board.py sets O_NONBLOCK) through a 16 KB buffer. print() blocks when that
// buffer is full, as a full USB buffer would on hardware; the edgeloop app
// instead asks edgeloopTxRoom() first and drops frames (USB CDC's POLLOUT).
//
// What this file adds to the stock interpreter, each for a quirk listed in
// shared/notes/virtual-board-facts.md:
//   - raw-paste answered here (the port's own raw-paste reads stdin, which
//     always returns 0, and spins forever);
//   - Ctrl-C delivered through mp_sched_keyboard_interrupt from the only
//     places running code calls out to JS (stdout and the clock);
//   - soft reset (Ctrl-D, sys.exit) = a fresh interpreter on the same files;
//   - the board's filesystem is a host folder: loaded into MEMFS at start,
//     every change mirrored to the host as it happens (a file on close);
//   - the heap cannot grow past the board profile's figure;
//   - OSError numbers translated from emscripten's to MicroPython's.
import { workerData, parentPort } from "node:worker_threads";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { views, HEAD, TAIL, STATE, INTR, INTR_POS, RING_SIZE, STATE_BUSY, STATE_IDLE } from "./shared.mjs";

const cfg = workerData;
const { hdr, ring } = views(cfg.sab);
const FD = cfg.fd;
const BLOCK = 4096;
const realNow = Date.now;

// ---- output -------------------------------------------------------------
const OUT_SIZE = 16384;
const outBuf = Buffer.alloc(OUT_SIZE);
let outLen = 0;
let lastFlush = 0;
let mute = false;
let swallow = null; // bytes to drop from the front of the next output ("OK")
let running = false; // Python code is executing (hooks may interrupt it)

function writeAll(buf, len) {
  let off = 0;
  while (off < len) {
    try {
      off += fs.writeSync(FD, buf, off, len - off);
    } catch (e) {
      if (e.code !== "EAGAIN") throw e;
      Atomics.wait(hdr, 7, 0, 2); // pty full and non-blocking: back off
    }
  }
}

function flush() {
  if (outLen) {
    writeAll(outBuf, outLen);
    outLen = 0;
  }
  lastFlush = realNow();
}

// Write what the pty takes now and keep the rest: the periodic flushes while
// code runs must not stall the board when the host has stopped reading.
function flushSome() {
  let off = 0;
  try {
    while (off < outLen) off += fs.writeSync(FD, outBuf, off, outLen - off);
  } catch (e) {
    if (e.code !== "EAGAIN") throw e;
  }
  if (off) {
    outBuf.copy(outBuf, 0, off, outLen);
    outLen -= off;
  }
  lastFlush = realNow();
}

function writeNow(bytes) {
  flush();
  const b = Buffer.from(bytes);
  writeAll(b, b.length);
}

// A Ctrl-C byte the running code asked to receive as data
// (micropython.kbd_intr(-1)), as a board's UART handler would pass it on.
// Kept with its place in the input so it is read in order.
const ctrlCData = [];

function takeCtrlC() {
  if (ctrlCData.length && ((Atomics.load(hdr, TAIL) - ctrlCData[0]) | 0) >= 0) {
    ctrlCData.shift();
    return true;
  }
  return false;
}

function checkInterrupt() {
  if (running && Atomics.load(hdr, INTR)) {
    Atomics.store(hdr, INTR, 0);
    if (M._mp_hal_get_interrupt_char() === 3) M._mp_sched_keyboard_interrupt();
    else ctrlCData.push(Atomics.load(hdr, INTR_POS));
  }
}

function putByte(c) {
  if (mute) return;
  if (swallow) {
    if (c === swallow[0]) {
      swallow = swallow.length > 1 ? swallow.subarray(1) : null;
      return;
    }
    swallow = null;
  }
  outBuf[outLen++] = c;
  if (outLen === OUT_SIZE) flush();
  else if (realNow() - lastFlush > 20) {
    flushSome();
    checkInterrupt();
  }
}

// time.sleep busy-waits on the clock, and ticks_ms reads it: the one place a
// quiet loop calls out to JS, so Ctrl-C and streaming output are handled here.
Date.now = function () {
  const t = realNow();
  if (running) {
    checkInterrupt();
    if (outLen && t - lastFlush > 20) flushSome();
  }
  return t;
};

// The edgeloop app's serial port (firmware/edgeloop_fw/serial_link.py). This
// port's sys.stdin never returns data, so host bytes come from the input ring
// directly: the next byte, or -1 (never waits). A Ctrl-C is not in the ring
// (the main thread turns it into the interrupt flag), so it still interrupts.
globalThis.edgeloopReadByte = () => {
  checkInterrupt();
  if (takeCtrlC()) return 3;
  const tail = Atomics.load(hdr, TAIL);
  if (Atomics.load(hdr, HEAD) === tail) return -1;
  const c = ring[tail & (RING_SIZE - 1)];
  Atomics.store(hdr, TAIL, (tail + 1) | 0);
  return c;
};

// Bytes the board can write now without blocking (POLLOUT on a USB CDC port):
// what is left of the output buffer after pushing what the pty takes.
globalThis.edgeloopTxRoom = () => {
  if (outLen) flushSome();
  return OUT_SIZE - outLen;
};

// ---- input --------------------------------------------------------------
function readByte() {
  if (takeCtrlC()) return 3;
  for (;;) {
    const head = Atomics.load(hdr, HEAD);
    const tail = Atomics.load(hdr, TAIL);
    if (head !== tail) {
      const c = ring[tail & (RING_SIZE - 1)];
      Atomics.store(hdr, TAIL, (tail + 1) | 0);
      return c;
    }
    flushSome();
    syncDirty();
    Atomics.store(hdr, STATE, STATE_IDLE);
    if (Atomics.load(hdr, INTR)) {
      // A Ctrl-C that raced with the end of the last command.
      Atomics.store(hdr, INTR, 0);
      Atomics.store(hdr, STATE, STATE_BUSY);
      return 3;
    }
    // Output the host has not taken yet is retried every few ms meanwhile.
    Atomics.wait(hdr, HEAD, head, outLen ? 5 : 500);
    Atomics.store(hdr, STATE, STATE_BUSY);
  }
}

// ---- the interpreter ----------------------------------------------------
let mp = null;
let M = null;
let memCap = 0; // bytes of wasm memory the current instance may use (0: no cap yet)
let wasmModule = null;
let memory = null;
let rawMode = false;
let rawLineStart = false;
let resetPending = false;

const realInstantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async (bin, imports) => {
  // Compile once per worker; a soft reset only instantiates again.
  if (!(bin instanceof WebAssembly.Module)) {
    wasmModule ??= await WebAssembly.compile(bin);
    bin = wasmModule;
  }
  const grow = imports.env.emscripten_resize_heap;
  imports.env.emscripten_resize_heap = (size) => (memCap && size > memCap ? 0 : grow(size));
  const instance = await realInstantiate(bin, imports);
  memory = instance.exports.memory;
  return { module: bin, instance };
};

const { loadMicroPython } = await import(pathToFileURL(path.join(cfg.pkg, "micropython.mjs")).href);

// emscripten (WASI) errno -> MicroPython (Linux numbering) errno.
const ERRNO = {
  63: 1, 44: 2, 29: 5, 8: 9, 6: 11, 48: 12, 2: 13, 20: 17, 43: 19, 54: 20, 31: 21,
  28: 22, 51: 28, 69: 30, 37: 36, 55: 39, 58: 95, 75: 18, 10: 16, 33: 24, 52: 38,
};

const PRELUDE = `
def _vboard_setup(block, fs_blocks, split):
    import os, sys, gc
    errno_map = ERRNO_MAP
    import _vboard
    posix = os.VfsPosix('/flash')
    rootless = os.VfsPosix()

    def err(e):
        n = e.errno
        return OSError(errno_map.get(n, n))

    class FlashVFS:
        # The board's filesystem: the host folder (mirrored into /flash),
        # mounted at / with MicroPython's errno numbers and 4-tuple listings.
        def __init__(self):
            self.cwd = '/'

        def _abs(self, p):
            # Already normal (the common case): no lists, no join. This port
            # cannot collect garbage inside one exec, so every call's
            # allocation counts against the board's heap until the exec ends.
            if p[:1] == '/' and '//' not in p and '/./' not in p and '/../' not in p \\
                    and p[-2:] != '/.' and p[-3:] != '/..' and (p[-1] != '/' or p == '/'):
                return p
            if not p.startswith('/'):
                p = self.cwd + '/' + p
            parts = []
            for s in p.split('/'):
                if s == '..':
                    if parts:
                        parts.pop()
                elif s and s != '.':
                    parts.append(s)
            return '/' + '/'.join(parts)

        def mount(self, readonly, mkfs):
            pass

        def umount(self):
            pass

        def ilistdir(self, p):
            p = self._abs(p)
            try:
                entries = list(posix.ilistdir(p))
            except OSError as e:
                raise err(e)
            base = p.rstrip('/') + '/'
            for e in entries:
                size = 0 if e[1] == 0x4000 else posix.stat(base + e[0])[6]
                yield (e[0], e[1], e[2], size)

        def open(self, p, mode):
            try:
                return posix.open(self._abs(p), mode)
            except OSError as e:
                raise err(e)

        def stat(self, p):
            try:
                return posix.stat(self._abs(p))
            except OSError as e:
                raise err(e)

        def statvfs(self, p):
            free = max(0, fs_blocks - _vboard.used_blocks())
            return (block, block, fs_blocks, free, free, 0, 0, 0, 0, 255)

        def _do(self, fn, *paths):
            try:
                return fn(*[self._abs(p) for p in paths])
            except OSError as e:
                raise err(e)

        def mkdir(self, p):
            return self._do(posix.mkdir, p)

        def rmdir(self, p):
            return self._do(posix.rmdir, p)

        def remove(self, p):
            return self._do(posix.remove, p)

        def rename(self, a, b):
            # VfsPosix('/flash').rename builds both paths in one shared
            # buffer (MicroPython 1.27), so it renames the target onto itself;
            # a root-less VfsPosix takes the full paths unchanged.
            try:
                return rootless.rename('/flash' + self._abs(a), '/flash' + self._abs(b))
            except OSError as e:
                raise err(e)

        def chdir(self, p):
            p = self._abs(p)
            if self.stat(p)[0] & 0x4000 == 0:
                raise OSError(20)
            self.cwd = p

        def getcwd(self):
            return self.cwd

    os.umount('/')
    os.mount(FlashVFS(), '/')
    os.chdir('/')

    # gc.mem_free() counts the heap the port could still add (max new split);
    # that growth is capped here, so report what the board really has left.
    class GC:
        collect = gc.collect
        enable = gc.enable
        disable = gc.disable
        isenabled = gc.isenabled
        mem_alloc = gc.mem_alloc
        threshold = gc.threshold

        @staticmethod
        def mem_free():
            return max(0, gc.mem_free() - split)

    GC.__name__ = 'gc'
    sys.modules['gc'] = GC


def _vboard_run(name):
    import sys, micropython
    # As pyexec does for boot.py/main.py on a board: Ctrl-C interrupts.
    micropython.kbd_intr(3)
    try:
        exec(open(name).read(), globals())
    except SystemExit:
        return 1
    except BaseException as e:
        sys.print_exception(e)
    return 0
`;

function underFlash(p) {
  return p === "/flash" || p.startsWith("/flash/");
}

function hostPath(p) {
  return path.join(cfg.flashDir, p.slice("/flash".length));
}

function absPath(p) {
  return path.posix.resolve(mp.FS.cwd(), p);
}

function usedBlocks() {
  const FS = mp.FS;
  let n = 2; // littlefs keeps two blocks for its superblock
  const walk = (node) => {
    for (const child of Object.values(node.contents || {})) {
      if (FS.isDir(child.mode)) {
        n += 1;
        walk(child);
      } else {
        n += Math.max(1, Math.ceil((child.usedBytes || 0) / BLOCK));
      }
    }
  };
  walk(FS.lookupPath("/flash").node);
  return n;
}

// Files written but not closed yet (`open(p, 'w').write(s)` is common on
// MicroPython) reach the host when the command ends, not only on close.
const dirty = new Set();

function syncFile(p) {
  const h = hostPath(p);
  const tmp = h + ".~vb";
  fs.writeFileSync(tmp, mp.FS.readFile(p));
  fs.renameSync(tmp, h);
}

function syncDirty() {
  for (const stream of dirty) {
    try {
      if (stream.node && mp.FS.isFile(stream.node.mode)) syncFile(stream.path);
    } catch {
      // deleted or renamed since: the unlink/rename hook mirrored that already
    }
  }
  dirty.clear();
}

function loadFlash() {
  const FS = mp.FS;
  FS.mkdir("/flash");
  const copy = (host, dest) => {
    for (const ent of fs.readdirSync(host, { withFileTypes: true })) {
      if (ent.name.endsWith(".~vb")) continue;
      const h = path.join(host, ent.name);
      const d = dest + "/" + ent.name;
      if (ent.isDirectory()) {
        FS.mkdir(d);
        copy(h, d);
      } else if (ent.isFile()) {
        FS.writeFile(d, fs.readFileSync(h));
      }
    }
  };
  copy(cfg.flashDir, "/flash");
}

// Mirror every change under /flash to the host folder as it happens.
function hookFlash() {
  const FS = mp.FS;
  const fsBlocks = Math.floor(cfg.fsBytes / BLOCK);
  const mirror = (fn) => {
    try {
      fn();
    } catch (e) {
      throw new FS.ErrnoError(29); // EIO
    }
  };
  const { close, write, unlink, rmdir, mkdir, rename } = FS;
  FS.close = (stream) => {
    const p = stream.path;
    const wrote = (stream.flags & 3) !== 0 && p && underFlash(p);
    const r = close(stream);
    dirty.delete(stream);
    if (wrote) mirror(() => syncFile(p));
    return r;
  };
  FS.write = (stream, buffer, offset, length, position, canOwn) => {
    if (stream.path && underFlash(stream.path) && stream.node) {
      const pos = position ?? stream.position;
      const cur = stream.node.usedBytes || 0;
      if (pos + length > cur) {
        const extra = Math.ceil((pos + length) / BLOCK) - Math.max(1, Math.ceil(cur / BLOCK));
        if (extra > 0 && usedBlocks() + extra > fsBlocks) throw new FS.ErrnoError(28); // MicroPython's ENOSPC
      }
      dirty.add(stream);
      // flush() (MicroPython's MP_STREAM_FLUSH -> fsync -> WASI fd_sync -> stream_ops.fsync) makes
      // what was written durable, as on a board's flash filesystem: the open file reaches the host
      // folder now, not only on close or at the end of the command.
      const ops = stream.stream_ops;
      if (ops && !ops.edgeloopFsync) {
        const inner = ops.fsync;
        ops.fsync = (st) => {
          if (st.path && underFlash(st.path) && dirty.has(st)) {
            mirror(() => syncFile(st.path));
            dirty.delete(st);
          }
          return inner ? inner(st) : 0;
        };
        ops.edgeloopFsync = true;
      }
    }
    const r = write(stream, buffer, offset, length, position, canOwn);
    // A write to the console goes out when it ends, as USB sends what it is given while
    // the CPU moves on: a frame written just before a long computation must not wait
    // in the buffer for the computation's next print or clock read.
    if (outLen && (stream.fd === 1 || stream.fd === 2)) flushSome();
    return r;
  };
  FS.unlink = (p) => {
    const r = unlink(p);
    const a = absPath(p);
    if (underFlash(a)) mirror(() => fs.rmSync(hostPath(a), { force: true }));
    return r;
  };
  FS.rmdir = (p) => {
    const r = rmdir(p);
    const a = absPath(p);
    if (underFlash(a)) mirror(() => fs.rmSync(hostPath(a), { recursive: true, force: true }));
    return r;
  };
  FS.mkdir = (p, mode) => {
    const r = mkdir(p, mode);
    const a = absPath(p);
    if (underFlash(a)) mirror(() => fs.mkdirSync(hostPath(a), { recursive: true }));
    return r;
  };
  FS.rename = (a, b) => {
    const r = rename(a, b);
    const aa = absPath(a);
    const bb = absPath(b);
    if (underFlash(aa) && underFlash(bb)) mirror(() => fs.renameSync(hostPath(aa), hostPath(bb)));
    return r;
  };
}

// The C pool: what libc (opendir's DIR, stdio), the JS glue (code strings,
// proxies, exception text) and this bridge may malloc once the heap is
// capped. A quarter of the heap at most: see capHeap for why that matters.
function cPoolBytes() {
  return Math.min(cfg.cPoolBytes, Math.floor(cfg.heapBytes / 4));
}

// Cap MicroPython's heap at the profile's figure while keeping the C pool.
//
// The GC heap grows only through gc_try_add_heap, which mallocs a new area
// of at least the current total heap (it doubles; py/gc.c, SPLIT_HEAP_AUTO).
// So: take the pool as one block first, then use up every other free block
// of 4 KB or more and refuse to grow wasm memory, then give the pool back.
// The largest free chunk is then the pool plus at most two sub-4 KB
// neighbours it merges with: far below the heap, so any growth request
// fails (MemoryError, as on the board) while every C allocation still fits.
function capHeap() {
  const pool = M._malloc(cPoolBytes()); // may still grow memory: not capped yet
  memCap = memory.buffer.byteLength;
  for (let size = 1 << 24; size >= 4096; ) {
    if (!M._malloc(size)) size >>= 1;
  }
  if (!pool) throw new Error(`cannot reserve the ${cPoolBytes()} B C pool`);
  M._free(pool);
}

function runTop(code) {
  running = true;
  try {
    return mp.runPython(code);
  } catch (e) {
    if (e && e.name === "PythonError") {
      for (const c of Buffer.from(String(e.message).replace(/\n/g, "\r\n"))) putByte(c);
      return null;
    }
    throw e;
  } finally {
    running = false;
  }
}

function runFile(name) {
  if (!fs.existsSync(path.join(cfg.flashDir, name))) return false;
  return runTop(`_vboard_run(${JSON.stringify(name)})`) === 1;
}

async function boot({ safe, soft }) {
  memCap = 0;
  mp = await loadMicroPython({
    stdout: (b) => putByte(b[0]),
    stderr: (b) => putByte(b[0]),
    linebuffer: false,
    heapsize: cfg.heapBytes,
    pystack: cfg.pystack,
  });
  M = mp._module;
  loadFlash();
  hookFlash();
  mp.registerJsModule("_vboard", {
    board: cfg.board,
    title: cfg.title,
    heap_bytes: cfg.heapBytes,
    fs_bytes: cfg.fsBytes,
    bridge: "edgeloop-sim 1",
    used_blocks: usedBlocks,
  });
  runTop(PRELUDE.replace("ERRNO_MAP", JSON.stringify(ERRNO).replace(/"/g, "")));
  mp.globals.get("_vboard_setup")(BLOCK, Math.floor(cfg.fsBytes / BLOCK), 134217728);
  capHeap();
  // Ready means "input is being taken": main.py may run forever.
  parentPort.postMessage({ ready: true });
  if (soft) writeNow("MPY: soft reboot\r\n");
  if (safe) {
    writeNow("edgeloop sim: the interpreter was stuck and has been restarted (files kept; boot.py and main.py skipped)\r\n");
  } else {
    let exitRequested = runFile("boot.py");
    if (!rawMode && !exitRequested) exitRequested = runFile("main.py");
    if (exitRequested) return boot({ safe: false, soft: true });
  }
  mute = true;
  mp.replInit();
  if (rawMode) M._mp_js_repl_process_char(1);
  mute = false;
  if (rawMode) {
    writeNow("raw REPL; CTRL-B to exit\r\n>");
    rawLineStart = true;
  } else {
    writeNow(`MicroPython v${cfg.version} on ${cfg.title} (edgeloop virtual board) with webassembly\r\n` +
      `Type "help()" for more information.\r\n>>> `);
  }
}

function processChar(c) {
  running = true;
  let r;
  try {
    r = M._mp_js_repl_process_char(c);
  } finally {
    running = false;
  }
  if (r) resetPending = true;
}

function feed(c) {
  if (c === 1) {
    rawMode = true;
    rawLineStart = true;
  } else if (c === 2) {
    rawMode = false;
  } else if (rawMode) {
    rawLineStart = c === 3 || c === 4;
  }
  processChar(c);
  if (Atomics.load(hdr, INTR)) {
    Atomics.store(hdr, INTR, 0);
    if (!resetPending) feed(3);
  }
}

// Raw-paste as MicroPython's pyexec does it: R\x01 + window, \x01 per window
// consumed, \x04 to acknowledge the end; then the code runs with the usual
// raw-REPL framing minus its "OK".
function rawPaste() {
  const W = cfg.window;
  writeNow([0x52, 0x01, W & 0xff, W >> 8]);
  let code = Buffer.alloc(W * 4);
  let n = 0;
  let sinceAck = 0;
  for (;;) {
    const c = readByte();
    if (c === 4) break;
    if (c === 3) {
      // As pyexec's stdin reader: Ctrl-C ends the paste (\x04) and raises
      // KeyboardInterrupt, so a host that died mid-paste can re-enter the REPL.
      writeNow(Buffer.from("\x04\x04KeyboardInterrupt: \r\n\x04>"));
      rawLineStart = true;
      return;
    }
    if (n === code.length) {
      const bigger = Buffer.alloc(code.length * 2);
      code.copy(bigger);
      code = bigger;
    }
    code[n++] = c;
    if (++sinceAck === W) {
      sinceAck = 0;
      writeNow([1]);
    }
  }
  writeNow([4]);
  for (let i = 0; i < n; i++) processChar(code[i]);
  swallow = Buffer.from("OK");
  feed(4);
  swallow = null;
}

async function main() {
  await boot({ safe: cfg.safe, soft: false });
  for (;;) {
    const c = readByte();
    if (c === 5 && rawMode && rawLineStart) {
      const a = readByte();
      if (a === 0x41) {
        const b = readByte();
        if (b === 1) {
          rawPaste();
        } else {
          feed(5); feed(a); feed(b);
        }
      } else {
        feed(5); feed(a);
      }
    } else {
      feed(c);
    }
    if (resetPending) {
      resetPending = false;
      flush();
      syncDirty();
      await boot({ safe: false, soft: true });
    }
  }
}

main().catch((e) => {
  try { flush(); } catch {}
  parentPort.postMessage({ error: String(e && e.stack ? e.stack.split("\n").slice(0, 3).join(" | ") : e).slice(0, 500) });
  process.exit(70);
});
