"""An idle loop() allocates nothing, measured on the MicroPython unix port over a real link."""
import subprocess

from tests_host.simproc import MICROPYTHON, ROOT


def test_idle_loop_allocates_zero_bytes_on_micropython(csms, tmp_path):
    out = subprocess.run([MICROPYTHON, str(ROOT / "tests_host" / "mpy" / "idle_alloc.py"),
                          csms.url, str(ROOT), str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "IDLE_ALLOC 0" in out.stdout.splitlines(), out.stdout + out.stderr
    assert csms.received("CP_1", "BootNotification")
