"""tools/sim.py as a child process, on CPython or on the MicroPython unix port."""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MICROPYTHON = str(Path(sys.executable).parent / "micropython")
RUNTIMES = ("cpython", "micropython")


class Sim:
    def __init__(self, runtime, url, state, cp_id="CP_1", connectors=2, **opts):
        exe = sys.executable if runtime == "cpython" else MICROPYTHON
        args = [exe, str(ROOT / "tools" / "sim.py"), "--url", url, "--id", cp_id,
                "--connectors", str(connectors), "--state", str(state)]
        for k, v in opts.items():
            args += ["--" + k.replace("_", "-"), str(v)]
        self.out = []  # stdout lines: frames and status answers
        self.err = []
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, lines), daemon=True).start()

    @staticmethod
    def _read(stream, lines):
        for line in stream:
            lines.append(line.rstrip("\n"))

    def cmd(self, *lines):
        for line in lines:
            self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def status(self, timeout=5):
        n = len(self.out)
        self.cmd("status")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in self.out[n:]:
                if line.startswith("{"):
                    return json.loads(line)
            time.sleep(0.02)
        raise AssertionError("no status from the simulator; stderr:\n" + "\n".join(self.err[-20:]))

    def wait_status(self, pred, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.status()
            if pred(s):
                return s
            time.sleep(0.1)
        raise AssertionError("simulator never reached the state; last: %s" % s)

    def frames(self, direction=">"):
        return [json.loads(line[2:]) for line in self.out if line.startswith(direction + " [")]

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.cmd("quit")
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def start(runtime, csms, tmp_path, cp_id="CP_1", boot=True, **opts):
    """A simulator connected to `csms` (waits for its BootNotification when `boot`)."""
    sim = Sim(runtime, csms.url, os.path.join(str(tmp_path), "state-" + cp_id), cp_id, **opts)
    if boot:
        csms.wait_action(cp_id, "BootNotification", timeout=15)
    return sim


def statuses(csms, cid, since=0):
    """The statuses CP_1 reported for connector `cid` (since a csms.mark())."""
    return [p["status"] for p in csms.received("CP_1", "StatusNotification", since)
            if p["connectorId"] == cid]
