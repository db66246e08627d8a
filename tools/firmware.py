"""A board's firmware with mpy_ocpp and boards/ frozen in: `make firmware MICROPY=... BOARD=...`.

    .venv/bin/python tools/firmware.py --micropython PATH --board ESP32_GENERIC|RPI_PICO_W|...
        [--check]

Finds the board's port in the MicroPython tree PATH, checks the manifest chain with the tree's
tools/manifestfile.py (the board's own frozen modules must all stay, plus the library and
boards/), then runs the port's make with FROZEN_MANIFEST=boards/manifest.py. The esp32 port
needs ESP-IDF (idf.py, IDF_PATH: `. $IDF_PATH/export.sh`), rp2 needs cmake, the
arm-none-eabi toolchain and the port's submodules (`make -C ports/rp2 BOARD=... submodules`):
what is missing is said before anything is built. --check stops after the manifest check.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import firmware_bench as fb  # noqa: E402

MANIFEST = ROOT / "boards" / "manifest.py"


def find_board(tree, board):
    for d in sorted((tree / "ports").glob("*/boards/" + board)):
        if d.is_dir():
            return d.parent.parent.name
    raise SystemExit("BOARD=%s: no ports/*/boards/%s in %s" % (board, board, tree))


def missing_sdk(tree, port, board):
    """What the port's build needs that is not here, as lines to print."""
    need = []
    if port == "esp32":
        if not shutil.which("idf.py") or not os.environ.get("IDF_PATH"):
            need.append("ESP-IDF (the version ports/esp32/README.md names): install it, then "
                        "`. $IDF_PATH/export.sh` so that idf.py and IDF_PATH are set")
    elif port == "rp2":
        for tool in ("cmake", "arm-none-eabi-gcc"):
            if not shutil.which(tool):
                need.append("%s (Debian: apt-get install -y cmake gcc-arm-none-eabi "
                            "libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib)" % tool)
        if not (tree / "lib" / "pico-sdk" / "README.md").exists():
            need.append("the rp2 port's submodules (pico-sdk, tinyusb, cyw43-driver, lwip, "
                        "btstack...): make -C %s/ports/rp2 BOARD=%s submodules" % (tree, board))
    return need


def check(tree, port, board):
    """The manifest chain for this board: a SystemExit if a module of the board's own is lost."""
    bdir = "boards/" + board
    own_path = fb.own_manifest(tree, port, bdir)
    own = fb.manifest_files(tree, port, bdir, own_path)
    ours = fb.manifest_files(tree, port, bdir, MANIFEST)
    lost = sorted(set(own) - set(ours))
    lib = sorted(f for f in ours if f.split("/")[0] in (fb.PKG, "boards"))
    print("manifest: %s %s freezes %d modules of its own (%s), boards/manifest.py %d: "
          "+%d of mpy_ocpp and boards/" % (port, board, len(own),
                                          os.path.relpath(own_path, tree) if own_path else "none",
                                          len(ours), len(lib)))
    if lost:
        raise SystemExit("manifest: the board's own modules would be lost: " + ", ".join(lost))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--micropython", required=True, help="a MicroPython source tree")
    ap.add_argument("--board", required=True, help="a MicroPython board name, e.g. RPI_PICO_W")
    ap.add_argument("--check", action="store_true", help="only check the manifest chain")
    args = ap.parse_args(argv)
    tree = Path(args.micropython).resolve()
    if not re.fullmatch(r"[A-Z0-9_]+", args.board):
        raise SystemExit("BOARD=%s: a MicroPython board name (ESP32_GENERIC, RPI_PICO_W...), "
                         "not one of boards/*.py" % args.board)
    port = find_board(tree, args.board)
    print("MicroPython %s (%s), port %s" % (fb.tree_version(tree) + (port,)))
    check(tree, port, args.board)
    if args.check:
        return
    need = missing_sdk(tree, port, args.board)
    if need:
        raise SystemExit("firmware: the %s port's build needs:\n  " % port + "\n  ".join(need))
    subprocess.run(["make", "-C", str(tree / "mpy-cross")], check=True)
    cmd = ["make", "-C", str(tree / "ports" / port), "BOARD=" + args.board,
           "FROZEN_MANIFEST=%s" % MANIFEST]
    print(" ".join(cmd), flush=True)
    if subprocess.run(cmd).returncode:
        raise SystemExit("firmware: the port's build failed (above)")
    out = tree / "ports" / port / ("build-" + args.board)
    print("firmware: %s" % ", ".join(str(p) for p in sorted(out.glob("firmware.*"))
                                     if p.suffix in (".bin", ".uf2", ".elf")))


if __name__ == "__main__":
    main()
