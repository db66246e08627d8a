"""Footprint of mpy_ocpp frozen into real MicroPython firmware: `make firmware-bench MICROPY=...`.

    .venv/bin/python tools/firmware_bench.py --micropython PATH [--quick] [--runs N] [--trace]
        [--out docs/BENCHMARKS.md]

PATH is a MicroPython source tree (tried with v1.28.0) with the mpy-cross, micropython-lib and
mbedtls parts. Builds, in the tree's ports (build-mpy_ocpp-* directories, kept: re-runs are
incremental):
- the 32-bit unix port (standard variant) without and with the library frozen, and once more
  with MICROPY_TRACKED_ALLOC and tools/firmware/mbedtls_tracked.h, so that mbedTLS allocates
  from the MicroPython heap as on rp2 (on the plain unix port and ESP32 it does not);
- the qemu Cortex-M3 port (MPS2_AN385) without (tools/firmware/qemu_baseline.py) and with the
  library, both with littlefs and the wall clock of tools/firmware/qemu_clock.
Then checks the manifest chain for the boards (ESP32_GENERIC, RPI_PICO_W, RPI_PICO, unix,
qemu) with the tree's tools/manifestfile.py, runs the standard session (2 connectors, every
profile, the CSMS's calls, two charging sessions; tools/firmware/session.py) on the frozen
unix builds against tools/csms.py over ws:// and wss://, the same session over the in-memory
link on qemu, and bisects the smallest `-X heapsize` that completes the session --runs times
out of --runs. Writes its section of docs/BENCHMARKS.md (between the firmware-bench marker
comments; the rest of the file is `make bench`'s and is kept).
"""

import argparse
import ast
import datetime
import importlib.util
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HERE = ROOT / "tools" / "firmware"
OUT = ROOT / "build" / "firmware"
PKG = "mpy_ocpp"
BEGIN = "<!-- firmware-bench: begin (tools/firmware_bench.py writes this section) -->"
END = "<!-- firmware-bench: end -->"
APT = "apt-get install -y gcc-multilib gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
TRIED = "v1.28.0"
MICROOCPP = {"flash": 121170, "idle": 12308, "peak": 21916}
TARGETS = {"flash": 52 * 1024, "idle": 14 * 1024, "peak": 20 * 1024, "ws": 36 * 1024,
           "wss": 64 * 1024}
UNIX = ["MICROPY_FORCE_32BIT=1", "MICROPY_PY_FFI=0", "MICROPY_PY_BTREE=0"]
QEMU = ["BOARD=MPS2_AN385", "MICROPY_VFS_LFS2=1", "USER_C_MODULES=%s" % HERE]
# (port, board or variant directory) whose manifest chain is checked
BOARDS = (("esp32", "boards/ESP32_GENERIC"), ("rp2", "boards/RPI_PICO_W"), ("rp2", "boards/RPI_PICO"),
          ("unix", "variants/standard"), ("qemu", "boards/MPS2_AN385"))
LOG = []  # commands run, for the report
# OCPP 2.0.1's modules: manifest.py freezes them only with MPY_OCPP_201=1 in the environment
V201 = () if os.environ.get("MPY_OCPP_201") == "1" else ("ocpp201", "schema201", "device_model", "provisioning",
                                                             "availability", "remote_control", "transactions", "negotiation")
# the Security extension, signed meter values, Plug & Charge: frozen only with MPY_OCPP_SECURITY=1
# (certificates.py comes with them, or with 2.0.1)
SEC = () if os.environ.get("MPY_OCPP_SECURITY") == "1" else (
    "security", "certificate_chains", "signed_meter_values", "plug_and_charge") + (("certificates",) if V201 else ())


def say(*a):
    print(*a, flush=True)


def sh(cmd, cwd=None, timeout=1800, env=None):
    LOG.append(" ".join(str(c) for c in cmd))
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout, env=env)
    if p.returncode:
        raise SystemExit("failed (%d): %s\n%s%s" % (p.returncode, " ".join(map(str, cmd)),
                                                    p.stdout[-3000:], p.stderr[-3000:]))
    return p.stdout


# ------------------------------------------------------------------ tools and the tree

def check_tools():
    """The Debian packages the builds need: say which are missing and how to install them."""
    missing = []
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "t.c"
        src.write_text("int main(void) { return 0; }\n")
        if subprocess.run(["gcc", "-m32", str(src), "-o", str(Path(d) / "t")],
                          capture_output=True).returncode:
            missing.append("gcc-multilib (gcc -m32)")
    if not shutil.which("arm-none-eabi-gcc"):
        missing.append("gcc-arm-none-eabi")
    else:
        libc = subprocess.run(["arm-none-eabi-gcc", "-print-file-name=libc.a"],
                              capture_output=True, text=True).stdout.strip()
        if not os.path.isabs(libc):
            missing.append("libnewlib-arm-none-eabi")
    if not shutil.which("qemu-system-arm"):
        missing.append("qemu-system-arm")
    if missing:
        raise SystemExit("firmware-bench needs %s; on Debian/Ubuntu: sudo %s"
                         % (", ".join(missing), APT))


def tree_version(tree):
    for mod in ("lib/micropython-lib/README.md", "lib/mbedtls/include/mbedtls/ssl.h",
                "tools/manifestfile.py", "ports/qemu/Makefile"):
        if not (tree / mod).exists():
            raise SystemExit("%s: no %s (a MicroPython source tree with its micropython-lib "
                             "and mbedtls submodules is needed)" % (tree, mod))
    git = ["git", "-C", str(tree)]
    desc = subprocess.run(git + ["describe", "--tags", "--always"], capture_output=True,
                          text=True).stdout.strip()
    commit = subprocess.run(git + ["rev-parse", "--short=10", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    if not desc:  # not a git checkout: py/mpconfig.h has the version
        h = (tree / "py" / "mpconfig.h").read_text()
        desc = "v" + ".".join(re.search(r"MICROPY_VERSION_%s \((\d+)\)" % k, h).group(1)
                              for k in ("MAJOR", "MINOR", "MICRO"))
    return desc, commit or "?"


def library_version():
    """The library's commit, '+' if mpy_ocpp/ or the manifests differ from it."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(git + ["status", "--porcelain", PKG, "manifest.py", "boards"],
                           capture_output=True, text=True).stdout.strip()
    return (head or "?") + ("+" if dirty else "")


def build(tree, port, name, args):
    """make in tree/ports/port into build-mpy_ocpp-name; a change of arguments starts afresh
    (make does not notice changed flags). Returns the binary's path."""
    pdir = tree / "ports" / port
    bdir = pdir / ("build-mpy_ocpp-" + name)
    args = args + ["BUILD=" + bdir.name]
    stamp = bdir / "mpy_ocpp-args.txt"
    if stamp.exists() and stamp.read_text() != "\n".join(args):
        shutil.rmtree(bdir)
    # makemanifest.py recompiles a frozen module only when its .py is newer than its .mpy: a
    # changed opt= in a manifest would go unnoticed (compiling them all again takes seconds)
    shutil.rmtree(bdir / "frozen_mpy", ignore_errors=True)
    t = time.monotonic()
    sh(["make", "-C", pdir, "-j%d" % min(4, os.cpu_count() or 1)] + args)
    stamp.write_text("\n".join(args))
    say("built %s/%s (%.0f s)" % (port, bdir.name, time.monotonic() - t))
    return bdir / ("micropython" if port == "unix" else "firmware.elf")


def text_size(binary, tool="size"):
    return int(sh([tool, binary]).splitlines()[1].split()[0])


def build_all(tree):
    sh(["make", "-C", tree / "mpy-cross", "-j%d" % min(4, os.cpu_count() or 1)])
    man = str(ROOT / "manifest.py")
    tracked = ["CFLAGS_EXTRA=-DMICROPY_TRACKED_ALLOC=1",
               'MBEDTLS_CONFIG_FILE=\\"%s\\"' % (HERE / "mbedtls_tracked.h")]  # quoted for the recipe's shell
    frozen = ["FROZEN_MANIFEST=" + man, "BOARD_DIR=variants/standard"]
    b = {"unix_plain": build(tree, "unix", "plain", UNIX),
         "unix": build(tree, "unix", "frozen", UNIX + frozen),
         "unix_tracked": build(tree, "unix", "tracked", UNIX + frozen + tracked),
         "qemu_plain": build(tree, "qemu", "plain",
                             QEMU + ["FROZEN_MANIFEST=%s" % (HERE / "qemu_baseline.py")]),
         "qemu": build(tree, "qemu", "frozen", QEMU + ["FROZEN_MANIFEST=" + man])}
    return b


# ------------------------------------------------------------------ manifests

def manifest_files(tree, port, board, manifest):
    """Target paths a manifest freezes for port/board, by the tree's tools/manifestfile.py."""
    spec = importlib.util.spec_from_file_location("manifestfile", tree / "tools" / "manifestfile.py")
    mf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mf)
    pdir = tree / "ports" / port
    m = mf.ManifestFile(mf.MODE_FREEZE, {
        "MPY_DIR": str(tree), "PORT_DIR": str(pdir), "MPY_LIB_DIR": str(tree / "lib" / "micropython-lib"),
        "BOARD_DIR": str(pdir / board) if board else ""})
    if manifest:
        cwd = os.getcwd()
        try:
            m.execute(str(manifest))
        finally:
            os.chdir(cwd)
    return sorted(f.target_path for f in m.files())


def own_manifest(tree, port, board):
    """The manifest port/board freezes without FROZEN_MANIFEST, as its build picks it: the one
    its mpconfigboard.cmake / .mk (mpconfigvariant.mk on unix) names, else the port's
    boards/manifest.py; None if none (qemu's default freezes the test suite's modules)."""
    pdir = tree / "ports" / port
    for f in ("mpconfigboard.cmake", "mpconfigboard.mk", "mpconfigvariant.mk"):
        p = pdir / board / f
        m = re.search(r"^[^#\n]*FROZEN_MANIFEST\s*(?:\?=|=|\s)[ \t]*(\S*)",
                      p.read_text() if p.exists() else "", re.M)
        if m:
            v = m.group(1)[:-1] if f.endswith(".cmake") else m.group(1)  # set(... x)
            for var in ("${MICROPY_BOARD_DIR}", "$(BOARD_DIR)", "$(VARIANT_DIR)"):
                v = v.replace(var, str(pdir / board))
            v = v.replace("${MICROPY_PORT_DIR}", str(pdir))
            return pdir / v if v else None
    return pdir / "boards" / "manifest.py" if (pdir / "boards" / "manifest.py").exists() else None


def check_manifests(tree):
    """Per board: what it freezes alone, what ours and boards/manifest.py freeze; ours must be
    exactly the board's own plus the library (plus boards/ for boards/manifest.py)."""
    lib = sorted("%s/%s" % (PKG, p.name) for p in (ROOT / PKG).glob("*.py") if p.stem not in V201 + SEC)
    rows = []
    for port, board in BOARDS:
        own = manifest_files(tree, port, board, own_manifest(tree, port, board))
        ours = manifest_files(tree, port, board, ROOT / "manifest.py")
        full = manifest_files(tree, port, board, ROOT / "boards" / "manifest.py")
        extra = sorted(set(full) - set(ours))
        ok = (sorted(set(own) | set(lib)) == ours and len(ours) == len(set(ours))
              and all(f.startswith("boards/") for f in extra) and set(ours) <= set(full))
        notable = [f for f in own if f.split("/")[0].split(".")[0] in
                   ("network", "ntptime", "aioble", "requests", "ssl", "asyncio", "mip",
                    "webrepl", "umqtt")]
        rows.append({"board": "%s %s" % (port, board.split("/")[-1]), "own": len(own),
                     "ours": len(ours), "with_boards": len(full), "ok": ok,
                     "kept": sorted({f.split("/")[0].split(".")[0] for f in notable})})
        say("manifest %-22s own %3d, manifest.py %3d, boards/manifest.py %3d: %s %s"
            % (rows[-1]["board"], len(own), len(ours), len(full), "ok" if ok else "WRONG",
               ",".join(rows[-1]["kept"])))
    return rows


# ------------------------------------------------------------------ the sessions

def import_order():
    """The library's modules, each after the modules it imports at load time."""
    def imported(body):
        for n in body:  # module level, and inside try/if there (not in functions)
            if isinstance(n, ast.ImportFrom) and n.level == 1:
                yield from [n.module] if n.module else [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom) and (n.module or "").startswith(PKG + "."):
                yield n.module.split(".")[1]
            elif isinstance(n, (ast.Try, ast.If)):
                yield from imported(n.body + n.orelse + sum([h.body for h in getattr(n, "handlers", [])], []))
    deps = {p.stem: set(imported(ast.parse(p.read_text()).body))
            for p in sorted((ROOT / PKG).glob("*.py")) if p.stem != "__init__" and p.stem not in V201 + SEC}
    order = []

    def visit(m):
        if m not in order and m in deps:
            for d in sorted(deps[m]):
                visit(d)
            order.append(m)
    for m in sorted(deps):
        visit(m)
    return order


def calls():
    """The CSMS's calls in the standard session: every full-size message the library takes."""
    from mpy_ocpp.metering import MEASURANDS
    periods = [{"startPeriod": 900 * i, "limit": 16.0 + i % 8} for i in range(24)]
    profile = {"chargingProfileId": 7, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
               "chargingProfileKind": "Absolute",
               "chargingSchedule": {"chargingRateUnit": "A", "startSchedule": "2026-12-01T00:00:00Z",
                                    "duration": 86400, "chargingSchedulePeriod": periods}}
    entries = [{"idTag": "LIST%04d" % i, "idTagInfo": {"status": "Accepted"}} for i in range(50)]
    return [
        ("GetConfiguration", {}),
        ("ChangeConfiguration", {"key": "MeterValuesSampledData",
                                 "value": ",".join(m for m, _ in MEASURANDS)}),
        ("ChangeConfiguration", {"key": "StopTxnSampledData",
                                 "value": "Energy.Active.Import.Register,Power.Active.Import"}),
        ("SendLocalList", {"listVersion": 1, "updateType": "Full", "localAuthorizationList": entries}),
        ("GetLocalListVersion", {}),
        ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile}),
        ("GetCompositeSchedule", {"connectorId": 1, "duration": 3600}),
        ("ReserveNow", {"connectorId": 2, "expiryDate": "2027-01-01T00:00:00Z", "idTag": "TAG0002",
                        "reservationId": 5}),
        ("CancelReservation", {"reservationId": 5}),
        ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}),
        ("TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 1}),
        ("DataTransfer", {"vendorId": "mpy_ocpp", "messageId": "bench", "data": "x" * 200}),
    ]


# The heap figures depend on the layout of the bench's own script, which is compiled on the
# board (a firmware freezes its main): its names are interned first, so they decide whether the
# qstr pool doubles (80 -> 160 entries, ~600 B) inside the window measured, while the library's
# module names are interned; and the conservative collector may find a stale word of its frames
# that keeps a dead object. So the ws:// figures are taken with the script after 0, 6, ... 54
# dummy names, and given as the median and the range (the smallest-heap search uses the first).
LAYOUTS = (0, 6, 12, 18, 24, 30, 36, 42, 48, 54)

OPTIONAL = ("local_auth_list", "reservation", "smart_charging", "remote_trigger",
            "firmware_management", "http", "security", "certificates", "certificate_chains", "signed_meter_values",
            "plug_and_charge")  # http, certificates: helpers


def script(name, core=False, pad=0):
    """tools/firmware/<name> with its preamble, written to build/firmware/<name>; core: the
    library without its optional profiles (session.py then stops after the boot); pad: dummy
    names first (see LAYOUTS)."""
    order = [m for m in import_order() if not (core and (m in OPTIONAL or m[:-6] in OPTIONAL))]  # with *_calls
    parts = ["".join(["_pad%d = 0\n" % i for i in range(pad)]) + 'ORDER = "%s"\n' % ",".join(order)]
    if name != "session.py":  # the in-memory sessions
        frames = [(a, '[2,"bench-%d",%s,%s]' % (i, json.dumps(a), json.dumps(p, separators=(",", ":"))))
                  for i, (a, p) in enumerate(calls())]  # (action, frame)
        parts.append("CALLS = %r\n" % frames)
    lazy = tuple([m for m in order if m in ("http", "core", "authorization_cache") or m.endswith("_calls")])  # ocpp16.load's
    parts.append((HERE / "common.py").read_text().replace('LAZY = ("http",)', "LAZY = %r" % (lazy,)))
    if name != "session.py":
        parts.append((ROOT / "tools" / "bench" / "fake.py").read_text())
    parts.append((HERE / name).read_text())
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / (("core_" if core else "") + name)
    path.write_text("\n".join(parts))
    return path


def keyed(text):
    d = {}
    for line in text.splitlines():
        w = line.split()
        if w and re.fullmatch(r"[A-Z_]+", w[0]):
            d.setdefault(w[0], []).append([int(x) if re.fullmatch(r"-?\d+", x) else x for x in w[1:]])
    return d


class Certs:
    """A test CA and a server certificate for 127.0.0.1 (trustme), the CA in DER for
    MicroPython (mbedTLS there is built without PEM)."""

    def __init__(self, d):
        import trustme
        ca = trustme.CA()
        self.server = ca.issue_cert("127.0.0.1")
        self.der = Path(d) / "ca.der"
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding
        pem = ca.cert_pem.bytes()
        self.der.write_bytes(x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER))

    def context(self):
        import ssl
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(ctx)
        return ctx


def session(binary, csms, ca, mode, heap=None, timeout=60, pad=0):
    """One standard session on a unix build against csms (a running tools/csms.CSMS): the
    charge point boots, the CSMS sends calls(), then the charging; (completed, {KEY: [values
    ...]}, output). A CALLERROR or a lost link during the calls counts as not completed."""
    state = tempfile.mkdtemp(prefix="fwbench-")
    cmd = [binary] + (["-X", "heapsize=%d" % heap] if heap else []) + [
        str(script("session.py", pad=pad)), csms.url, state, mode] + ([str(ca)] if ca else [])
    p = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=dict(os.environ, MICROPYPATH=".frozen"),
                         cwd=state)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(p.stdout.readline, "")), daemon=True)
    reader.start()
    t = time.monotonic()
    ok = False
    try:
        while time.monotonic() - t < timeout and p.poll() is None:
            if any(ln.strip() == "BOOTED" for ln in lines):
                break
            time.sleep(0.02)
        if p.poll() is None and any(ln.strip() == "BOOTED" for ln in lines):
            for action, payload in calls():
                try:
                    csms.call("CP_1", action, payload, timeout=10)
                except Exception as e:
                    raise RuntimeError("%s: %s" % (action, e))
            p.stdin.write("go\n")
            p.stdin.flush()
            p.wait(timeout=max(1, timeout - (time.monotonic() - t)))
            ok = p.returncode == 0
    except Exception as e:  # the charge point died mid-call (MemoryError...) or hung
        lines.append("bench: %s: %s\n" % (type(e).__name__, e))
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        reader.join(5)
        shutil.rmtree(state, ignore_errors=True)
    text = "".join(lines)
    return ok and "DONE" in text.split(), keyed(text), text


def core_idle(binary, csms, timeout=60, pad=0):
    """The idle heap after boot of the library without its optional profiles, over ws://."""
    state = tempfile.mkdtemp(prefix="fwbench-")
    p = subprocess.Popen([binary, str(script("session.py", core=True, pad=pad)), csms.url, state, "measure"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, env=dict(os.environ, MICROPYPATH=".frozen"), cwd=state)
    lines = []
    try:
        t = time.monotonic()
        while time.monotonic() - t < timeout:
            ln = p.stdout.readline()  # the script waits for "go" after BOOTED: it cannot end first
            lines.append(ln)
            if not ln or ln.strip() == "BOOTED":
                break
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(state, ignore_errors=True)
    d = keyed("".join(lines))
    if "IDLE" not in d:
        raise SystemExit("core-only boot failed:\n" + "".join(lines)[-3000:])
    return d["IDLE"][0][0]


def smallest_heap(binary, csms, ca, runs, lo=16 * 1024, hi=160 * 1024, step=1024):
    """The smallest -X heapsize (a multiple of step) with `runs` completed sessions in a row,
    by bisection. Fragmentation makes success not quite monotonic in the heap size, so the
    sizes 1, 2 and 4 steps above the result must pass too, else the search goes on above the
    one that failed. (bytes, {failing heap size: the end of that failure's output}, [smaller
    sizes that passed all the same])."""
    def passes(heap):
        for _ in range(runs):
            ok, _, text = session(binary, csms, ca, "run", heap)
            if not ok:
                why[heap] = " / ".join(ln.strip() for ln in text.strip().splitlines()[-2:])
                break
        else:
            good.add(heap)
        say("  heap %6d: %s" % (heap, "ok" if heap in good else "fails: " + why[heap][-150:]))
        return heap in good
    why, good = {}, set()
    if not passes(hi):
        raise SystemExit("the session fails even with -X heapsize=%d: %s" % (hi, why[hi]))
    while True:
        while hi - lo > step:
            mid = (lo + hi) // 2 // step * step
            if passes(mid):
                hi = mid
            else:
                lo = mid
        above = [hi + k * step for k in (1, 2, 4)]
        bad = [h for h in above if h not in good and (h in why or not passes(h))]
        if not bad:
            return hi, why, sorted(h for h in good if h < hi)
        lo = max(bad)
        hi = min(h for h in good if h > lo)


def alloc_trace(binary):
    """[(bytes, times, phase, 'file:line function')]: the lines of the in-memory session that
    allocated the most at once, on a unix build with sys.settrace."""
    state = tempfile.mkdtemp(prefix="fwbench-")
    try:
        text = sh([binary, "-X", "heapsize=8M", script("alloc_trace.py"), state], cwd=state,
                  env=dict(os.environ, MICROPYPATH=".frozen"), timeout=300)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    if "DONE" not in text.split():
        raise SystemExit("alloc_trace did not complete:\n" + text[-3000:])
    return [(n, t, ph, w.replace("|", " ")) for n, t, ph, w in keyed(text).get("BIG", [])
            if "build/firmware/" not in w]  # the bench's own lines


# ------------------------------------------------------------------ qemu

def qemu(elf, timeout=240):
    """The in-memory session on the qemu firmware through its raw REPL; {KEY: [values...]}."""
    cmd = ["qemu-system-arm", "-machine", "mps2-an385", "-nographic", "-monitor", "null",
           "-semihosting", "-serial", "stdio", "-kernel", str(elf)]
    LOG.append(" ".join(cmd) + "  < raw REPL: build/firmware/qemu_session.py")
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    buf = bytearray()
    end = time.monotonic() + timeout

    def until(marker):
        while marker not in buf:
            if time.monotonic() > end or p.poll() is not None:
                raise SystemExit("qemu: no %r; got: %s" % (marker, bytes(buf[-2000:])))
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                buf.extend(os.read(p.stdout.fileno(), 65536))
        i = buf.index(marker) + len(marker)
        got = bytes(buf[:i])
        del buf[:i]
        return got

    def send(data):
        for i in range(0, len(data), 256):
            p.stdin.write(data[i:i + 256])
            p.stdin.flush()
            time.sleep(0.002)
    try:
        time.sleep(0.5)
        send(b"\r\x03\x03\x01")
        until(b"raw REPL; CTRL-B to exit\r\n>")
        send(script("qemu_session.py").read_bytes() + b"\x04")
        until(b"OK")
        output = until(b"\x04").decode(errors="replace")
        error = until(b"\x04").decode(errors="replace")
    finally:
        p.kill()
        p.wait()
    if error.strip("\x04 \r\n") or "DONE" not in output:
        raise SystemExit("qemu session failed:\n%s%s" % (output[-3000:], error[-3000:]))
    return keyed(output.replace("\r", ""))


# ------------------------------------------------------------------ report

def kb(n):
    return "{:,} B".format(n)


def ran(vals):
    vals = sorted(vals)
    return kb(vals[0]) if vals[0] == vals[-1] else "%s–%s" % ("{:,}".format(vals[0]), kb(vals[-1]))


def med(vals):  # the median of the layouts' figures, and their range
    vals = sorted(vals)
    n = len(vals)
    m = (vals[(n - 1) // 2] + vals[n // 2]) // 2
    return kb(m) if vals[0] == vals[-1] else "%s (%s)" % (kb(m), ran(vals))


def report(r, args):
    t = lambda k: "≤ %d KB" % (TARGETS[k] // 1024)  # noqa: E731
    m = r["measure"]
    rows = [
        ("Flash: Cortex-M3 firmware text, with minus without the library", kb(r["flash"]),
         t("flash"), kb(MICROOCPP["flash"]) + " (ESP32, C++)"),
        ("Frozen import, %d modules (32-bit unix / Cortex-M3)" % len(r["imports"]),
         "%s / %s" % (kb(r["import_unix"]), kb(r["import_qemu"])), "", ""),
        ("Idle after boot over the in-memory link, Cortex-M3 (import + state)", kb(r["qemu"]["IDLE"][0][0]), "", ""),
        ("Idle after boot over a real `ws://` link (import + state)", med(m["ws"]["idle"]), t("idle"),
         kb(MICROOCPP["idle"])),
        ("The same, the library without its five optional profiles", med(r["core_idle"]), t("idle"),
         kb(MICROOCPP["idle"])),
        ("Peak live heap between `loop()` calls, real `ws://` session", med(m["ws"]["live"]), t("peak"),
         kb(MICROOCPP["peak"])),
        ("The same over `wss://` (mbedTLS outside the heap, as on ESP32)", med(m["wss"]["live"]), "", ""),
        ("Retained + everything one `loop()` allocates, real `ws://` session", med(m["ws"]["top"]), "", ""),
        ("Peak live heap / retained + one `loop()`, in-memory session, Cortex-M3",
         "%s / %s" % (kb(r["qemu"]["LIVE_MAX"][0][0]), kb(r["qemu"]["LOOP_TOP"][0][0])), "", ""),
        ("Smallest heap completing the session %d/%d, `ws://`" % (args.runs, args.runs),
         kb(r["heap_ws"]), t("ws"), ""),
        ("The same, `wss://` (mbedTLS outside the heap)", kb(r["heap_wss"]), "", ""),
        ("The same, `wss://` with mbedTLS in the heap (as on rp2)", kb(r["heap_tracked"]), t("wss"), ""),
        ("Bytes allocated per idle `loop()`: unix `ws://` / Cortex-M3 in-memory",
         "%d / %d (1000 calls)" % (max(m["ws"]["idle_alloc"]), r["qemu"]["IDLE_ALLOC"][0][0]), "0", ""),
    ]
    head = ("figure (frozen, 32-bit, 2 connectors, all five profiles)", "mpy_ocpp", "target",
            "MicroOcpp (published)")
    w = [max(len(str(x[i])) for x in rows + [head]) for i in range(4)]
    line = lambda x: "| " + " | ".join(str(v).ljust(w[i]) for i, v in enumerate(x)) + " |"  # noqa: E731
    out = [BEGIN, "", "## On real firmware (`make firmware-bench`)", "",
           "Generated by `make firmware-bench MICROPY=...` (`tools/firmware_bench.py`%s) on %s, the "
           "library at %s (+: with uncommitted changes), MicroPython %s (commit %s), 32-bit unix port (standard variant, `MICROPY_FORCE_32BIT=1`) and qemu "
           "`mps2-an385` (Cortex-M3) port; tried with MicroPython %s. %d runs per heap size, %s."
           % (" --quick" if args.quick else "", datetime.date.today().isoformat(), r["library"], r["version"][0],
              r["version"][1], TRIED, args.runs, "%.0f s in all" % r["seconds"]),
           "", line(head), "|" + "|".join("-" * (n + 2) for n in w[:1]) + "|"
           + "|".join("-" * (n + 1) + ":" for n in w[1:]) + "|"]
    out += [line(x) for x in rows]
    out += ["", "The session: boot (BootNotification, StatusNotifications), then the CSMS sends "
            "GetConfiguration (every key), ChangeConfiguration (MeterValuesSampledData = every "
            "measurand), SendLocalList (Full, 50 entries), GetLocalListVersion, SetChargingProfile "
            "(24 periods), GetCompositeSchedule, ReserveNow, CancelReservation, TriggerMessage "
            "(StatusNotification, MeterValues) and a DataTransfer; then on each connector plug, "
            "card, StartTransaction, 3 MeterValues each, card again, StopTransaction, unplug. "
            "Heap figures are `gc.mem_alloc()` after `gc.collect()`, above what was allocated "
            "before the library was imported. Over `ws://` and `wss://` the figures are the "
            "median of %d and %d runs, and their range: the runs differ only in the layout of "
            "the bench's own script, which is compiled on the board (a firmware freezes its main) "
            "and interns its names first. That decides whether MicroPython's qstr pool doubles "
            "(80 to 160 entries, about 600 B) inside the window measured, while the library's "
            "module names are interned, and where the conservative collector finds stale words "
            "that keep a dead object (up to about 700 B at the peak): the same library measures "
            "up to about 700 B apart (`LAYOUTS` in tools/firmware_bench.py)."
            % (len(m["ws"]["idle"]), len(m["wss"]["live"])), "",
            "Success is not monotonic in the heap size: what fails first is a block of a few "
            "hundred bytes in a fragmented heap (a long incoming message comes in 256-byte blocks "
            "when no block its size is free, an outgoing one in 128-byte blocks when no 512-byte "
            "one is), and where it fits depends on fragmentation. The smallest heap is therefore "
            "taken where the size and those 1, 2 and 4 KB above it all passed %d/%d; smaller sizes "
            "that passed all the same, and how the session failed at each size tried (the end of "
            "its output; `message too large, dropped`: an incoming message there was no memory "
            "for, answered FormationViolation; `no memory for an outgoing message`: refused, "
            "retried by the charge point until the bench gave up):" % (args.runs, args.runs), ""]
    for key, label in (("heap_ws", "ws://"), ("heap_wss", "wss://"), ("heap_tracked", "wss://, mbedTLS in the heap")):
        if r["lucky_" + key]:
            out.append("- %s passed below the smallest at: %s" % (label, ", ".join(kb(h) for h in r["lucky_" + key])))
        for heap, why in sorted(r["why_" + key].items(), reverse=True):
            out.append("- %s, %s: %s" % (label, kb(heap), why.replace("|", "/")[-220:]))
    if r.get("trace"):
        out += ["", "The lines of the in-memory session that allocated the most at once (a unix "
                "build with `sys.settrace`, collection off; `--trace`). What a built-in (json.loads, "
                "json.dumps, str.encode) allocates counts on the line traced just before its call:", "",
                "| bytes at once | times ≥ 256 B | during | where |", "|---:|---:|---|---|"]
        out += ["| %s | %d | %s | %s |" % (kb(n), t, ph, w) for n, t, ph, w in r["trace"][:12]]
    out += ["",
            "| frozen import per module | 32-bit unix | Cortex-M3 |", "|---|---:|---:|"]
    for name, u in sorted(r["imports"].items(), key=lambda x: -x[1]):
        out.append("| %s | %s | %s |" % (name, kb(u), kb(r["imports_qemu"].get(name, 0))))
    out += ["", "Each module is imported after those it imports, under a stand-in package (the "
            "`__init__` row is the package itself). A module may carry the growth of `sys.modules`'s "
            "table (a few hundred bytes) that its import happened to trigger. `http` is imported by "
            "the library only when a firmware transfer starts, `core` and the `*_calls` modules for "
            "one call from the CSMS (`ocpp16.run_in`): they are let go once measured, and the "
            "frozen-import and idle figures, those of a real boot, do not hold them."]
    out += ["", "Manifests, checked with the tree's `tools/manifestfile.py` (files frozen: the "
            "board's own manifest / `manifest.py` / `boards/manifest.py`; ok = ours is the "
            "board's own plus the library, nothing lost):", "",
            "| port, board | own | manifest.py | boards/manifest.py | ok | kept from the board's own |",
            "|---|---:|---:|---:|---|---|"]
    for x in r["manifests"]:
        out.append("| %s | %d | %d | %d | %s | %s |" % (x["board"], x["own"], x["ours"], x["with_boards"],
                                                      "yes" if x["ok"] else "**NO**", ", ".join(x["kept"]) or "-"))
    out += ["", "Builds (in the MicroPython tree): " + "; ".join(
        "%s: text %s" % (k, kb(v)) for k, v in r["texts"].items()), "", END]
    return "\n".join(out) + "\n"


def write(section, path):
    p = Path(path)
    old = p.read_text() if p.exists() else ""
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + section + old[old.index(END) + len(END):].lstrip("\n")
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + section
    p.write_text(new)


# ------------------------------------------------------------------ main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--micropython", required=True, help="a MicroPython source tree")
    ap.add_argument("--quick", action="store_true", help="3 runs per heap size, 2 KB steps")
    ap.add_argument("--runs", type=int, help="completed sessions needed per heap size (10)")
    ap.add_argument("--trace", action="store_true",
                    help="also a unix build with sys.settrace: the lines that allocate the most")
    ap.add_argument("--out", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    args.runs = args.runs or (3 if args.quick else 10)
    step = 2048 if args.quick else 1024
    t0 = time.monotonic()
    tree = Path(args.micropython).resolve()
    check_tools()
    r = {"version": tree_version(tree), "library": library_version()}
    say("MicroPython %s (%s) in %s%s" % (r["version"] + (tree, "" if r["version"][0].startswith(TRIED)
                                                       else "; tried with %s only" % TRIED)))
    r["manifests"] = check_manifests(tree)
    b = build_all(tree)
    r["texts"] = {"unix plain": text_size(b["unix_plain"]), "unix frozen": text_size(b["unix"]),
                  "qemu plain": text_size(b["qemu_plain"], "arm-none-eabi-size"),
                  "qemu frozen": text_size(b["qemu"], "arm-none-eabi-size")}
    r["flash"] = r["texts"]["qemu frozen"] - r["texts"]["qemu plain"]
    say("flash (Cortex-M3 text delta): %d" % r["flash"])
    q = r["qemu"] = qemu(b["qemu"])
    r["imports_qemu"] = {x[0]: x[1] for x in q["IMPORT_MOD"]}
    r["import_qemu"] = q["IMPORT"][0][0]
    say("qemu: import %d, idle %d, live max %d (%s), idle alloc %d"
        % (q["IMPORT"][0][0], q["IDLE"][0][0], q["LIVE_MAX"][0][0], q["LIVE_MAX"][0][1], q["IDLE_ALLOC"][0][0]))
    from tools.csms import CSMS
    tmp = tempfile.mkdtemp(prefix="fwbench-certs-")
    certs = Certs(tmp)
    servers = {"ws": CSMS(), "wss": CSMS(ssl_context=certs.context())}
    for s in servers.values():
        s.start()
    try:
        m = r["measure"] = {}
        for name, csms, ca in (("ws", servers["ws"], None), ("wss", servers["wss"], certs.der)):
            m[name] = {"idle": [], "live": [], "top": [], "idle_alloc": []}
            for pad in LAYOUTS if name == "ws" else LAYOUTS[::3]:
                ok, d, text = session(b["unix"], csms, ca, "measure", pad=pad)
                if not ok:
                    raise SystemExit("%s session failed:\n%s" % (name, text[-3000:]))
                m[name]["idle"].append(d["IDLE"][0][0])
                m[name]["live"].append(d["LIVE_MAX"][0][0])
                m[name]["top"].append(d["LOOP_TOP"][0][0])
                m[name]["idle_alloc"].append(d["IDLE_ALLOC"][0][0])
            say("%s: idle %s, live max %s (%s), idle alloc %s" % (name, m[name]["idle"], m[name]["live"],
                                                                   d["LIVE_MAX"][0][1], m[name]["idle_alloc"]))
        ok, d, text = session(b["unix"], servers["ws"], None, "measure")  # the per-module figures: layout 0
        r["imports"] = {x[0]: x[1] for x in d["IMPORT_MOD"]}
        r["core_idle"] = [core_idle(b["unix"], servers["ws"], pad=pad) for pad in LAYOUTS]
        say("ws, no optional profile: idle %s" % r["core_idle"])
        r["import_unix"] = d["IMPORT"][0][0]
        for key, binary, name in (("heap_ws", b["unix"], "ws"), ("heap_wss", b["unix"], "wss"),
                                  ("heap_tracked", b["unix_tracked"], "wss")):
            t = time.monotonic()
            ca = certs.der if name == "wss" else None
            r[key], r["why_" + key], r["lucky_" + key] = smallest_heap(binary, servers[name], ca,
                                                                        args.runs, step=step)
            say("%s: smallest heap %d (%.0f s)" % (key, r[key], time.monotonic() - t))
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.trace:
        r["trace"] = alloc_trace(build(tree, "unix", "trace", UNIX + [
            "FROZEN_MANIFEST=" + str(ROOT / "manifest.py"), "BOARD_DIR=variants/standard",
            "CFLAGS_EXTRA=-DMICROPY_PY_SYS_SETTRACE=1"]))
        say("trace: " + "; ".join("%d B %s" % (n, w) for n, _, _, w in r["trace"][:5]))
    r["seconds"] = time.monotonic() - t0
    section = report(r, args)
    write(section, args.out)
    print(section)
    print("wrote %s (%.0f s)" % (os.path.relpath(args.out), r["seconds"]))


if __name__ == "__main__":
    main()
