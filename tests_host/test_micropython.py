"""The library on real MicroPython: tests_host/mpy/test_*.py through tools/mptest.py on the
unix port, every module through mpy-cross, and no `machine` imports in mpy_ocpp/."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MICROPYTHON = BIN / "micropython"
MPY_CROSS = BIN / "mpy-cross"
MPY_TESTS = sorted((ROOT / "tests_host" / "mpy").glob("test_*.py"))

# The unix port's default path is ['', '.frozen', '~/.micropython/lib', '/usr/lib/micropython']
# ('' becomes the script's directory). MICROPYPATH replaces all but the first entry: keep
# '.frozen' first (the port's frozen modules, e.g. the ssl/asyncio wrappers), then the repo
# root; leaving out ~/.micropython/lib keeps the run independent of the user's home.
MICROPYPATH = ".frozen:" + str(ROOT)


def _sources():
    files = sorted((ROOT / "mpy_ocpp").rglob("*.py"))
    if (ROOT / "boards").is_dir():
        files += sorted((ROOT / "boards").rglob("*.py"))
    return files


@pytest.mark.skipif(not MICROPYTHON.exists(), reason="no micropython next to python")
@pytest.mark.parametrize("path", MPY_TESTS, ids=lambda p: p.name)
def test_mpy_file(path):
    env = dict(os.environ, MICROPYPATH=MICROPYPATH)
    proc = subprocess.run(
        [str(MICROPYTHON), str(ROOT / "tools" / "mptest.py"), str(path)],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail("mptest exited %d\n%s%s" % (proc.returncode, proc.stdout, proc.stderr),
                    pytrace=False)


@pytest.mark.skipif(not MPY_CROSS.exists(), reason="no mpy-cross next to python")
def test_mpy_cross_compiles_everything(tmp_path):
    sources = _sources()
    assert sources, "no modules under mpy_ocpp/"
    procs = []
    for src in sources:
        out = tmp_path / src.relative_to(ROOT).with_suffix(".mpy")
        out.parent.mkdir(parents=True, exist_ok=True)
        procs.append((src, out, subprocess.Popen(
            [str(MPY_CROSS), "-O2", "-o", str(out), str(src.relative_to(ROOT))],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)))
    errors = []
    for src, out, proc in procs:
        text = proc.communicate(timeout=120)[0]
        if proc.returncode != 0 or not out.exists():
            errors.append("%s: %s" % (src.relative_to(ROOT), text.strip()))
    assert not errors, "\n".join(errors)


# `import machine`, `import os, machine as m`, `from machine import Pin`, `__import__("machine")`
_MACHINE = re.compile(r"^[ \t]*(?:from[ \t]+machine[ \t]+import\b"
                      r"|import[ \t]+(?:[^#\n]*,[ \t]*)?machine\b)"
                      r"|__import__\(\s*['\"]machine['\"]", re.M)


def test_library_never_imports_machine():
    offenders = []
    for src in sorted((ROOT / "mpy_ocpp").rglob("*.py")):
        text = src.read_text(encoding="utf-8")
        for m in _MACHINE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            offenders.append("%s:%d: %s" % (src.relative_to(ROOT), line, m.group(0).strip()))
    assert not offenders, "mpy_ocpp/ must not import machine:\n" + "\n".join(offenders)
