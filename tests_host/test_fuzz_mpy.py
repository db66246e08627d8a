"""The fuzz test on both runtimes: hypothesis cannot run on MicroPython, so a fixed corpus is
drawn here from test_fuzz.py's strategies (deep frames, huge numbers, schema-valid payloads of
every CSMS-initiated action and mutations of them, random text and JSON, answers to calls never
made, oversized heads) and tests_host/mpy/fuzz_replay.py replays it, with test_fuzz.py's checks
and a flat heap, on the MicroPython unix port and on CPython, and on the 32-bit wasm port."""
import os
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests_host.test_fuzz import ACTIONS, DEEP, EXAMPLES, FRAMES, huge_call
from tests_host.test_micropython import MICROPYPATH, MICROPYTHON, ROOT

sys.path.insert(0, str(ROOT / "tests_host"))  # tests_host/wasm.py, as test_wasm.py imports it
import wasm  # noqa: E402

# Cases of 1-6 frames: of every kind, and only deep or with a huge number. Derandomized: the
# same corpus every run; FUZZ_EXAMPLES=N draws new ones.
HOSTILE = DEEP | st.sampled_from(ACTIONS).flatmap(huge_call)
CASES = ((FRAMES, 200), (HOSTILE, 100))
REPLAY = ROOT / "tests_host" / "mpy" / "fuzz_replay.py"


def corpus():
    cases = []
    for frames, n in CASES:
        @settings(max_examples=EXAMPLES or n, derandomize=not EXAMPLES, deadline=None,
                  database=None, suppress_health_check=list(HealthCheck))
        @given(st.lists(frames, min_size=1, max_size=6))
        def collect(case):
            cases.append(case)
        collect()
    return cases


def write(cases, path):
    """One line per case (see fuzz_replay.py): deep frames stay text, never parsed here."""
    with open(path, "w") as f:
        for frames in cases:
            f.write(" ".join(("t" + x.encode().hex()) if isinstance(x, str) else ("b" + x.hex())
                             for x in frames) + "\n")


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "corpus.txt"
    cases = corpus()
    texts = [f for c in cases for f in c if isinstance(f, str)]
    assert sum('"deep"' in f[:12] for f in texts) >= 50, "too few deep frames"
    assert sum(bool(re.search(r"[0-9]{11}|1e400|NaN|Infinity", f)) for f in texts) >= 50
    write(cases, path)
    return path


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_fuzz_corpus_on_both_runtimes(runtime, corpus_file):
    if runtime == "micropython" and not MICROPYTHON.exists():
        pytest.skip("no micropython next to python")
    # room for the corpus's long lines next to the charger; the heap check is on its growth
    exe = [str(MICROPYTHON), "-X", "heapsize=8m"] if runtime == "micropython" else [sys.executable]
    env = dict(os.environ, MICROPYPATH=MICROPYPATH, PYTHONPATH=str(ROOT))
    proc = subprocess.run(exe + [str(REPLAY), str(corpus_file)], cwd=ROOT, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="backslashreplace", timeout=300)  # logged frames: any bytes
    _check(runtime, proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.skipif(not wasm.AVAILABLE, reason="no node or no wasm port (make wasm)")
def test_fuzz_corpus_on_the_32_bit_wasm_port(corpus_file):
    """Numbers past 2**30 are bigints there, as on a board. The heap is not measured (see
    fuzz_replay.main)."""
    files = [(REPLAY.parent / n, "/fuzz/tests_host/mpy/" + n) for n in ("fakes.py", REPLAY.name)]
    rc, out, err = wasm.run_wasm(
        'import sys\nsys.path.append("/fuzz")\nfrom tests_host.mpy import fuzz_replay\n'
        'sys.exit(fuzz_replay.main("/fuzz/corpus.txt", passes=1))\n', heap="8m", timeout=300,
        files=files + [(corpus_file, "/fuzz/corpus.txt")])
    _check("micropython", rc, out, err)


def _check(runtime, rc, out, err):
    assert rc == 0, out + err[-3000:]
    assert out.splitlines()[-1].startswith(runtime + ": "), out
