"""Run Python code on the 32-bit MicroPython webassembly port (tools/wasm/run.mjs) from tests.

Lines starting with `#--- step` split the script into top-level steps; a gc.collect() runs
between them, so gc.mem_alloc() at the start of a step is the heap retained so far.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "tools" / "wasm" / "run.mjs"
PORT = ROOT / "tools/wasm/node_modules/@micropython/micropython-webassembly-pyscript"
NODE = shutil.which("node")
AVAILABLE = bool(NODE) and PORT.is_dir()  # `make wasm` installs the port


def run_wasm(script_text, heap="512k", mpy_dir=None, timeout=60, files=()):
    """Run script_text with mpy_ocpp (from .py, or from the .mpy files under mpy_dir, e.g.
    build/mpy) importable, and `files` ((host path, absolute path in the port) pairs) copied
    in; return (returncode, stdout, stderr)."""
    fd, script = tempfile.mkstemp(suffix=".py", prefix="wasm_")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(script_text)
        cmd = [NODE or "node", str(RUNNER), "--heap", str(heap)]
        if mpy_dir is not None:
            cmd += ["--mpy", str(mpy_dir)]
        for src, dest in files:
            cmd += ["--file", "%s=%s" % (src, dest)]
        proc = subprocess.run(cmd + [script], cwd=ROOT, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)
        return proc.returncode, proc.stdout, proc.stderr
    finally:
        os.unlink(script)
