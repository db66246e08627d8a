// Run a Python script on the 32-bit MicroPython webassembly port (npm), with this repo's
// mpy_ocpp package in its filesystem:
//   node tools/wasm/run.mjs [--heap 512k] [--mpy build/mpy] [--file SRC=DEST ...] script.py
// --heap    initial heap (bytes, or with a k/m suffix); the port grows it on demand.
// --mpy DIR copy the .mpy files of DIR/mpy_ocpp (DIR = build/mpy after `make mpy`; or DIR is
//           the mpy_ocpp directory itself) instead of the .py sources.
// --file    copy the host file SRC to DEST (an absolute path) in MicroPython's filesystem.
// The package lands in /lib/mpy_ocpp (/lib is on sys.path).
//
// Steps: a line starting with `#--- step` splits the script into parts that run as separate
// top-level runPython calls sharing __main__'s globals. gc.collect() only takes effect once
// control is back in JS, so a collection runs on its own between steps: gc.mem_alloc() at the
// start of a step is the heap retained by the previous ones.
// Exit status: 0, the script's sys.exit() code, or 1 if it raised (traceback on stderr,
// with line numbers of the whole file).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const PKG = "mpy_ocpp";
const STEP = /^#--- step/;

function usage(msg) {
  process.stderr.write(`${msg}\n` +
    "usage: node tools/wasm/run.mjs [--heap 512k] [--mpy DIR] [--file SRC=DEST ...] script.py\n");
  process.exit(2);
}

function parseSize(text) {
  const m = /^(\d+)([km]?)$/i.exec(text || "");
  if (!m) usage(`bad heap size: ${text}`);
  return parseInt(m[1], 10) * { "": 1, k: 1024, m: 1048576 }[m[2].toLowerCase()];
}

function parseArgs(argv) {
  const opts = { heap: 512 * 1024, mpy: null, files: [], script: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--heap") opts.heap = parseSize(argv[++i]);
    else if (argv[i] === "--mpy") opts.mpy = argv[++i] || usage("--mpy needs a directory");
    else if (argv[i] === "--file") opts.files.push(/^(.+?)=(\/.+)$/.exec(argv[++i] || "")
      || usage("--file needs SRC=DEST"));
    else if (argv[i].startsWith("--")) usage(`unknown option ${argv[i]}`);
    else if (opts.script) usage("one script only");
    else opts.script = argv[i];
  }
  if (!opts.script) usage("no script given");
  if (!fs.existsSync(opts.script)) usage(`no such script: ${opts.script}`);
  return opts;
}

// Collects the port's output bytes and writes whole lines (stdout/stderr writes to pipes
// and files are synchronous in node, so nothing is lost at exit).
function sink(stream) {
  let bytes = [];
  const flush = () => {
    if (bytes.length) stream.write(Buffer.from(bytes));
    bytes = [];
  };
  const put = (data) => {
    for (const b of data) {
      bytes.push(b);
      if (b === 10) flush();
    }
  };
  return { put, flush };
}

// [relative path, absolute path] of every file under dir whose name ends with ext
function walk(dir, ext, rel = "") {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, entry.name);
    const r = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(...walk(abs, ext, r));
    else if (entry.name.endsWith(ext)) found.push([r, abs]);
  }
  return found;
}

function installPackage(FS, mpyDir) {
  let src = path.join(ROOT, PKG);
  let ext = ".py";
  if (mpyDir) {
    src = path.resolve(mpyDir);
    if (path.basename(src) !== PKG) src = path.join(src, PKG);
    ext = ".mpy";
  }
  if (!fs.existsSync(src)) usage(`no package directory ${src}`);
  const files = walk(src, ext);
  if (!files.length) usage(`no ${ext} files under ${src}`);
  for (const [rel, abs] of files) {
    const dest = `/lib/${PKG}/${rel}`;
    FS.mkdirTree(dest.slice(0, dest.lastIndexOf("/")));
    FS.writeFile(dest, fs.readFileSync(abs));
  }
}

// The script's parts, each padded with blank lines so tracebacks show the file's line numbers.
function steps(text) {
  const lines = text.split("\n");
  const parts = [];
  let start = 0;
  for (let i = 0; i <= lines.length; i++) {
    if (i === lines.length || STEP.test(lines[i])) {
      parts.push("\n".repeat(start) + lines.slice(start, i).join("\n") + "\n");
      start = i + 1;
    }
  }
  return parts;
}

// exit status for a PythonError, writing its traceback (or SystemExit message) to err
function exitStatus(error, err, script) {
  if (error.name !== "PythonError") throw error;
  if (error.type === "SystemExit") {
    const arg = /SystemExit: ?(.*)\n?$/.exec(error.message)?.[1] ?? "";
    if (arg === "" || arg === "None") return 0;
    if (/^-?\d+$/.test(arg)) return parseInt(arg, 10) & 0xff;
    err.put(Buffer.from(arg + "\n"));
    return 1;
  }
  err.put(Buffer.from(error.message.replaceAll('File "<stdin>"', `File "${script}"`)));
  return 1;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const text = fs.readFileSync(opts.script, "utf8");
  const out = sink(process.stdout);
  const err = sink(process.stderr);
  const mp = await loadMicroPython({
    heapsize: opts.heap, linebuffer: false, stdout: out.put, stderr: err.put,
  });
  installPackage(mp.FS, opts.mpy);
  for (const [, src, dest] of opts.files) {
    mp.FS.mkdirTree(dest.slice(0, dest.lastIndexOf("/")) || "/");
    mp.FS.writeFile(dest, fs.readFileSync(src));
  }
  let status = 0;
  for (const [i, part] of steps(text).entries()) {
    try {
      if (i > 0) mp.runPython("__import__('gc').collect()");
      mp.runPython(part);
    } catch (error) {
      status = exitStatus(error, err, opts.script);
      break;
    }
  }
  out.flush();
  err.flush();
  process.exitCode = status;
}

await main();
