// Run one script in the real MicroPython (WebAssembly build) with given files
// on its filesystem, without a pty: the runtime tests' direct path to the
// interpreter. stdin: JSON {"files": {"/path": "<base64>"}, "code": "...", "heap": bytes}.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript/micropython.mjs";

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const job = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const out = [];
const mp = await loadMicroPython({
  stdout: (t) => out.push(typeof t === "string" ? t : Buffer.from(t).toString("latin1")),
  stderr: (t) => out.push(typeof t === "string" ? t : Buffer.from(t).toString("latin1")),
  heapsize: job.heap || 512 * 1024,
  linebuffer: false,
});
const setup = ["import os, binascii", "def _mk(p):", "  d=''",
  "  for part in p.split('/')[1:-1]:", "    d += '/' + part", "    try: os.mkdir(d)", "    except OSError: pass"];
for (const [path, b64] of Object.entries(job.files || {})) {
  setup.push(`_mk(${JSON.stringify(path)})`);
  setup.push(`with open(${JSON.stringify(path)}, 'wb') as f: f.write(binascii.a2b_base64(b${JSON.stringify(b64)}))`);
}
setup.push("del _mk");
try {
  mp.runPython(setup.join("\n"));
  // "#--- gc" splits the script: GC only runs when control is back in JS.
  for (const part of job.code.split("\n#--- gc\n")) mp.runPython(part);
  process.stdout.write(out.join(""));
} catch (e) {
  process.stdout.write(out.join(""));
  process.stderr.write(String(e && e.message || e));
  process.exit(1);
}
