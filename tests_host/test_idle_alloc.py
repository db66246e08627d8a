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


def test_idle_loop_allocates_zero_bytes_in_201_too(csms_factory, tmp_path):
    csms = csms_factory(versions=("ocpp1.6", "ocpp2.0.1"))
    out = subprocess.run([MICROPYTHON, str(ROOT / "tests_host" / "mpy" / "idle_alloc.py"),
                          csms.url, str(ROOT), str(tmp_path), "2.0.1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "VERSION 2.0.1" in lines and "IDLE_ALLOC 0" in lines, out.stdout + out.stderr
    assert csms.violations == []
