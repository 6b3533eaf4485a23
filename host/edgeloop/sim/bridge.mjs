// The virtual board's USB side: owns the pty and the watchdog.
//
// Started by edgeloop.sim.VirtualBoard with the pty master (and slave, held
// open so the master never reads EIO when a client disconnects) passed as
// inherited file descriptors. This thread never runs Python: it copies pty
// input into the shared ring, turns Ctrl-C during running code into a flag,
// and restarts the interpreter worker when it stays stuck after a Ctrl-C or
// dies. Status lines for the launcher go to stdout: "READY <n>" after each
// boot, "RESTART <why>" when the worker is replaced.
import { Worker } from "node:worker_threads";
import fs from "node:fs";
import tty from "node:tty";
import { makeShared, views, HEAD, TAIL, STATE, INTR, INTR_POS, RING_SIZE, STATE_BUSY } from "./shared.mjs";

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, "")] = argv[i + 1];
  return out;
}

const a = parseArgs(process.argv.slice(2));
const cfg = {
  fd: Number(a.fd),
  board: a.board,
  title: a.title,
  version: a.version,
  heapBytes: Number(a.heap),
  fsBytes: Number(a.fs),
  flashDir: a.flash,
  pkg: a.pkg,
  window: Number(a.window || 4096),
  cPoolBytes: Number(a["c-pool"] || 65536), // malloc room kept for C once the heap is capped (worker.mjs)
  pystack: Number(a.pystack || 2048),
};
const holdFd = Number(a.hold); // the pty slave, kept open on purpose
const watchdogMs = Number(a.watchdog || 2) * 1000;

const sab = makeShared();
const { hdr, ring } = views(sab);
let worker = null;
let boots = 0;
let intrAt = 0;
let intrCpu = 0;
let stopping = false;

function status(line) {
  process.stdout.write(line + "\n");
}

function startWorker(safe) {
  Atomics.store(hdr, STATE, STATE_BUSY);
  const w = new Worker(new URL("./worker.mjs", import.meta.url), {
    workerData: { ...cfg, sab, safe },
  });
  worker = w;
  w.on("message", (m) => {
    if (m.ready) status(`READY ${++boots}`);
    if (m.error) status(`ERROR ${m.error.replace(/\s+/g, " ")}`);
  });
  w.on("error", (e) => status(`ERROR ${String(e && e.message).slice(0, 300).replace(/\s+/g, " ")}`));
  w.on("exit", () => {
    if (!stopping && worker === w) restart(true, "crashed");
  });
}

function restart(safe, why) {
  const old = worker;
  worker = null;
  Atomics.store(hdr, INTR, 0);
  status(`RESTART ${why}`);
  const go = () => startWorker(safe);
  if (old) old.terminate().then(go, go);
  else go();
}

// ---- pty -> ring ----------------------------------------------------------
const inBuf = Buffer.alloc(4096);

function push(data, done) {
  let i = 0;
  const step = () => {
    while (i < data.length) {
      const c = data[i];
      if (c === 3 && Atomics.load(hdr, STATE) === STATE_BUSY) {
        // Like a UART RX interrupt: Ctrl-C during running code is not input.
        if (!Atomics.load(hdr, INTR)) {
          intrAt = Date.now();
          intrCpu = cpuMs();
        }
        Atomics.store(hdr, INTR_POS, Atomics.load(hdr, HEAD));
        Atomics.store(hdr, INTR, 1);
        i++;
        continue;
      }
      const head = Atomics.load(hdr, HEAD);
      const tail = Atomics.load(hdr, TAIL);
      if (((head - tail) | 0) >= RING_SIZE) {
        Atomics.notify(hdr, HEAD);
        setTimeout(step, 1); // ring full: stop reading, the host's writes block
        return;
      }
      ring[head & (RING_SIZE - 1)] = c;
      Atomics.store(hdr, HEAD, (head + 1) | 0);
      i++;
    }
    Atomics.notify(hdr, HEAD);
    done();
  };
  step();
}

function readLoop() {
  fs.read(cfg.fd, inBuf, 0, inBuf.length, null, (err, n) => {
    if (err) {
      setTimeout(readLoop, err.code === "EAGAIN" ? 2 : 50);
      return;
    }
    if (n === 0) {
      setTimeout(readLoop, 10);
      return;
    }
    push(inBuf.subarray(0, n), readLoop);
  });
}

// The master is non-blocking (board.py: the worker's writes must not block),
// so reads are event-driven through libuv rather than polled: a poll loop
// would add its period to every command's round trip.
function startReader() {
  let stream;
  try {
    stream = new tty.ReadStream(cfg.fd);
  } catch {
    readLoop();
    return;
  }
  stream.on("data", (chunk) => {
    stream.pause();
    push(chunk, () => stream.resume());
  });
  stream.on("error", (e) => {
    status(`ERROR pty read: ${e.code || e.message}`);
    stream.destroy();
    setTimeout(readLoop, 50);
  });
}

// ---- watchdog, lifetime ------------------------------------------------------
// CPU time of this process (the worker is what uses it): the watchdog's clock.
// A stuck loop burns it as fast as the machine gives any; a slow board on a
// loaded machine gets little, and is given correspondingly longer to answer.
function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0); // the launcher died: so do we
  if (worker && Atomics.load(hdr, INTR) && Atomics.load(hdr, STATE) === STATE_BUSY &&
      Date.now() - intrAt > watchdogMs && cpuMs() - intrCpu > watchdogMs) {
    restart(true, "watchdog");
  }
}, 100);

process.on("SIGUSR1", () => restart(false, "hard reset"));
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) {
  process.on(sig, () => {
    stopping = true;
    process.exit(0);
  });
}
void holdFd;

startWorker(false);
startReader();
