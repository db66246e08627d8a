"""Shared by the board tests: puts tests_host/stubs (the stubbed `machine`, `network`,
`ntptime` and the simulated devices) first on sys.path. Import it before `machine`."""
import sys
from pathlib import Path

STUBS = str(Path(__file__).resolve().parent / "stubs")
if STUBS not in sys.path:
    sys.path.insert(0, STUBS)
