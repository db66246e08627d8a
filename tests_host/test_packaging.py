"""The files that ship: package.json (mip) lists every library module, the manifest freezes the package."""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_package_json_lists_every_module():
    doc = json.loads((ROOT / "package.json").read_text())
    listed = {dest for dest, src in doc["urls"]}
    assert all(dest == src for dest, src in doc["urls"])  # relative: resolved next to package.json
    assert listed == {str(p.relative_to(ROOT)) for p in (ROOT / "mpy_ocpp").glob("*.py")}


def test_manifest_freezes_the_package():
    text = (ROOT / "manifest.py").read_text()
    calls = []
    env = {"include": lambda *a: calls.append(("include",) + a),
           "metadata": lambda **k: calls.append(("metadata", k["version"])),
           "package": lambda name, **k: calls.append(("package", name, k.get("opt")))}
    exec(compile(text, "manifest.py", "exec"), env)
    assert ("package", "mpy_ocpp", 2) in calls
    assert ("include", "$(PORT_DIR)/boards/manifest.py") in calls
    version = json.loads((ROOT / "package.json").read_text())["version"]
    assert ("metadata", version) in calls
