"""Firmware updates on the boards (UpdateFirmware's install hook), on CPython with the stubbed
`machine` and `esp32` (tests_host/stubs/esp32.py: a simulated flash with two OTA partitions and
the bootloader's rollback):
- ESP32: the image goes into the next OTA partition byte for byte, set_boot, reset; a too
  large image fails; the streamed download writes the partition, not a file.
- Pico W: an app bundle (ustar) unpacked into a free slot, run on trial at the next boot,
  kept once confirmed, else the old app again; a cut install leaves the old app.
- End to end: the real local CSMS sends UpdateFirmware for an image on a local HTTP server;
  the ESP32 board downloads, installs and resets, and after the simulated reboot (main.run
  again over the same state) reports Installed and marks the app valid."""
import hashlib
import io
import json
import os
import sys
import tarfile
import time

import pytest

from tests_host import boardsim  # noqa: F401  (stubs first on sys.path)

import esp32  # noqa: E402
import machine  # noqa: E402
from boards import main  # noqa: E402
from boards.esp32_devkit import ESP32DevKit, Ota  # noqa: E402
from boards.pico_w import PicoW  # noqa: E402
from mpy_ocpp import http  # noqa: E402
from mpy_ocpp.firmware_management import Firmware  # noqa: E402
from mpy_ocpp.firmware_management_calls import _poll  # noqa: E402
from mpy_ocpp.store import Store  # noqa: E402
from tests_host.test_board_main import Rig, config  # noqa: E402
from tests_host.test_firmware_management import update, web  # noqa: E402,F401  (fixture)

BLOCK = 4096


def image(n, seed=1):
    rnd = __import__("random").Random(seed)
    return b"\xe9" + bytes(rnd.getrandbits(8) for _ in range(n - 1))


class Fw:
    """What the hooks use of cp.firmware: the hook slots, http_download and cp.store."""

    def __init__(self, tmp_path):
        self.download = self.install = None
        self.cp = type("CP", (), {})()
        self.cp.store = Store(str(tmp_path / "state"))

    def http_download(self, url, path, sink=None):
        return http.Transfer(url, path, sink=sink)


def drive(job, reboots, limit=30):
    """Step a hook's job like firmware_management does: True/False, or "reset". Bounded in
    time, not steps: a download waits on the local web server, slower on a loaded machine."""
    before = len(reboots)
    end = time.monotonic() + limit
    steps = 0
    while time.monotonic() < end:
        if len(reboots) > before:
            return "reset", steps
        r = _poll(job)
        if r is not None:
            return r, steps
        steps += 1
    raise AssertionError("job never ended")


@pytest.fixture
def flash():
    esp32.reset_all(blocks=8)
    machine.reset_all()
    yield esp32
    esp32.reset_all()


def test_esp32_install_writes_the_next_partition_sets_boot_and_resets(flash, tmp_path):
    fw, reboots = Fw(tmp_path), []
    Ota(fw, lambda: reboots.append(1))
    img = image(7 * BLOCK + 100)  # fills the 8-block partition
    path = tmp_path / "firmware.bin"
    path.write_bytes(img)
    r, steps = drive(fw.install(str(path)), reboots)
    assert r == "reset" and steps >= 4  # a few blocks per step: copy, then read back
    ota1 = flash.flash["ota_1"]
    assert ota1[:len(img)] == img and set(ota1[len(img):]) == {0xFF}
    assert flash.ops["erases"] == 8  # each block erased once before it is written
    assert flash.state["boot"] == "ota_1" and flash.state["running"] == "ota_0"
    assert flash.flash["ota_0"][0] == 0xE9 and set(flash.flash["ota_0"][1:]) == {0xFF}  # untouched
    assert fw.cp.store.load("ota.json") == "ota_1"
    flash.reboot()
    assert flash.state["running"] == "ota_1" and flash.state["pending"]


def test_esp32_too_large_or_foreign_image_fails(flash, tmp_path):
    fw, reboots = Fw(tmp_path), []
    Ota(fw, lambda: reboots.append(1))
    path = tmp_path / "firmware.bin"
    path.write_bytes(image(8 * BLOCK + 1))  # one byte over the partition
    assert drive(fw.install(str(path)), reboots)[0] is False  # -> InstallationFailed
    path.write_bytes(b"<html>" + bytes(5000))  # not an app image
    assert drive(fw.install(str(path)), reboots)[0] is False
    assert not reboots and flash.state["boot"] == "ota_0"


def test_esp32_download_streams_into_the_partition(flash, tmp_path, web):
    srv = web()
    img = image(5 * BLOCK + 7, seed=2)
    srv.routes["/fw.bin"] = ("chunked", img)
    srv.routes["/big.bin"] = ("len", image(9 * BLOCK))
    fw, reboots = Fw(tmp_path), []
    Ota(fw, lambda: reboots.append(1))
    path = tmp_path / "firmware.bin"
    assert drive(fw.download(srv.url("/fw.bin"), str(path)), reboots)[0] is True
    mark = json.loads(path.read_text())  # the file holds only what was written
    assert mark["size"] == len(img) and flash.flash["ota_1"][:len(img)] == img
    assert flash.state["boot"] == "ota_0"  # nothing boots it before the install
    # a signed update checks its signature against the hash taken on the way
    assert fw.digest(str(path)) == hashlib.sha256(img).digest()
    assert drive(fw.install(str(path)), reboots)[0] == "reset"
    assert flash.state["boot"] == "ota_1"
    assert drive(fw.download(srv.url("/big.bin"), str(path)), reboots)[0] is False  # -> DownloadFailed
    path.write_bytes(img)  # a whole image in the file (a download hook of its own): the library hashes it
    assert fw.digest(str(path)) is None


def test_esp32_corrupt_partition_is_not_booted(flash, tmp_path, web):
    srv = web()
    img = image(2 * BLOCK, seed=3)
    srv.routes["/fw.bin"] = ("len", img)
    fw, reboots = Fw(tmp_path), []
    Ota(fw, lambda: reboots.append(1))
    path = str(tmp_path / "firmware.bin")
    assert drive(fw.download(srv.url("/fw.bin"), path), reboots)[0] is True
    flash.flash["ota_1"][5000] ^= 0x10  # a flipped bit in flash
    assert drive(fw.install(path), reboots)[0] is False
    assert flash.state["boot"] == "ota_0" and not reboots


# Pico W: app bundles


def bundle(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def app(version, big=0):
    """A stand-in app: boards.main.run() says which library version runs (the slot's own, ahead
    of this process's) and how it was started."""
    return {"boards/__init__.py": b"",
            "boards/main.py": b"import mpy_ocpp\n\n\ndef run(path, stop=None, app=None):\n"
                              b"    return (mpy_ocpp.VERSION, app)\n",
            "mpy_ocpp/__init__.py": b"VERSION = %r\n" % version,
            "boards/drivers/data.bin": bytes(range(256)) * big}


@pytest.fixture
def modules():
    """chain() swaps the boards and mpy_ocpp modules: put this process's back afterwards."""
    saved, path = dict(sys.modules), list(sys.path)
    yield
    for n in list(sys.modules):
        if n not in saved:
            del sys.modules[n]
    sys.modules.update(saved)
    sys.path[:] = path


def pico(tmp_path, app_=None):
    cfg = {"board": "pico_w", "app_dir": str(tmp_path / "app"), "state": str(tmp_path / "state")}
    b = PicoW(cfg)
    b.app = app_
    fw, reboots = Fw(tmp_path), []
    b.ota(fw, lambda: reboots.append(1))
    return cfg, b, fw, reboots


def install(tmp_path, b, fw, reboots, data):
    path = tmp_path / "firmware.bin"
    path.write_bytes(data)
    return drive(fw.install(str(path)), reboots)


def test_pico_w_bundle_runs_on_trial_then_stays_once_confirmed(tmp_path, modules):
    cfg, b, fw, reboots = pico(tmp_path)
    r, steps = install(tmp_path, b, fw, reboots, bundle(app("v2", big=100)))
    assert r == "reset" and steps > 2
    slot = tmp_path / "app" / "a"
    assert (slot / "boards" / "drivers" / "data.bin").read_bytes() == bytes(range(256)) * 100
    assert (slot / "mpy_ocpp" / "__init__.py").read_text() == "VERSION = 'v2'\n"
    assert fw.cp.store.load("ota.json") == "a"
    # the next boot runs slot a on trial; the pointer already names the old app again
    assert PicoW.chain(cfg, "config.json", None) == ("v2", ("a", True))
    assert json.loads((tmp_path / "app" / "slot.json").read_text()) == {"run": None}
    b.app = ("a", True)
    b.confirm()  # accepted by the CSMS
    assert PicoW.chain(cfg, "config.json", None) == ("v2", ("a", False))
    # the next update goes into the other slot
    b.app = ("a", False)
    assert install(tmp_path, b, fw, reboots, bundle(app("v3")))[0] == "reset"
    assert PicoW.chain(cfg, "config.json", None) == ("v3", ("b", True))


def test_pico_w_unconfirmed_bundle_rolls_back(tmp_path, modules):
    mine, path = dict(sys.modules), list(sys.path)  # chain() below swaps them, as a boot would
    cfg, b, fw, reboots = pico(tmp_path)
    assert install(tmp_path, b, fw, reboots, bundle(app("v2")))[0] == "reset"
    assert PicoW.chain(cfg, "config.json", None) == ("v2", ("a", True))
    # it never confirmed (a crash, no CSMS): the next boot runs the built-in app again, and
    # the Installing left pending is reported as InstallationFailed
    assert PicoW.chain(cfg, "config.json", None) is None
    state = Store(cfg["state"])
    state.save("firmware.json", ["install"])
    b.app = None
    assert main._rollback(state, b) is True
    assert state.load("ota.json") is None
    sys.modules.update(mine)  # this process's library again: Firmware imports its machine
    sys.path[:] = path
    Firmware(type("CP", (), {"store": state})()).rolled_back()  # as main's charger does
    assert state.load("firmware.json") == ["done", "InstallationFailed"]


def test_pico_w_cut_or_bad_bundle_leaves_the_old_app(tmp_path, modules):
    cfg, b, fw, reboots = pico(tmp_path)
    assert install(tmp_path, b, fw, reboots, bundle(app("v2")))[0] == "reset"
    b.app = ("a", False)
    b.confirm()
    Store(cfg["app_dir"]).save("slot.json", {"run": "a"})
    good = bundle(app("v3", big=200))
    # the power goes in the middle of the unpacking: the generator is dropped half-way
    path = tmp_path / "firmware.bin"
    path.write_bytes(good)
    job = fw.install(str(path))
    for _ in range(5):
        assert _poll(job) is None
    job.close()
    assert (tmp_path / "app" / "b").exists()  # half a slot
    assert PicoW.chain(cfg, "config.json", None) == ("v2", ("a", False))
    # broken bundles: cut short, a bad header, an entry outside the app, no boards/main
    for data in (good[:len(good) // 2], b"x" * 2048, bundle({"../main.py": b""}), bundle({"lib/x.py": b""})):
        assert install(tmp_path, b, fw, reboots, data)[0] is False
    assert len(reboots) == 1
    assert PicoW.chain(cfg, "config.json", None) == ("v2", ("a", False))
    # then a whole one replaces the half slot
    assert install(tmp_path, b, fw, reboots, good)[0] == "reset"
    assert PicoW.chain(cfg, "config.json", None) == ("v3", ("b", True))


def test_pico_w_slot_that_does_not_load_falls_back(tmp_path, modules):
    cfg, b, fw, reboots = pico(tmp_path)
    files = app("v2")
    files["boards/main.py"] = b"import no_such_module\n"
    assert install(tmp_path, b, fw, reboots, bundle(files))[0] == "reset"
    assert PicoW.chain(cfg, "config.json", None) is None  # the built-in app goes on
    assert "boards" not in sys.modules or "app" not in str(getattr(sys.modules["boards"], "__file__", ""))


# end to end: the real local CSMS, a local HTTP server, the ESP32 board's main.py


def fw_statuses(csms):
    return [p["status"] for p in csms.received("CP_1", "FirmwareStatusNotification")]


def test_esp32_update_firmware_end_to_end(csms, web, tmp_path):
    esp32.reset_all(blocks=16)
    srv = web()
    img = image(10 * BLOCK + 123, seed=4)
    srv.routes["/micropython.bin"] = ("len", img)
    cfg = config(csms, "esp32_devkit", "mfrc522", "sdm630", profiles=["firmware_management"])
    rig = Rig(ESP32DevKit, cfg, tmp_path, "mfrc522")
    try:
        csms.wait_action("CP_1", "BootNotification")
        csms.wait_for(lambda: not esp32.state["pending"])  # the running app marked valid
        update(csms, srv.url("/micropython.bin"))
        csms.wait_for(lambda: machine.resets, timeout=20, what="reset")
        rig.thread.join(10)
        assert not rig.thread.is_alive() and rig.error is None and rig.charger.stopped
        assert fw_statuses(csms) == ["Downloading", "Downloaded", "Installing"]
        assert not rig.relay_on()
    finally:
        rig.finish()
    assert esp32.flash["ota_1"][:len(img)] == img and esp32.state["boot"] == "ota_1"
    assert not (tmp_path / "state" / "firmware.bin").exists() or (tmp_path / "state" / "firmware.bin").stat().st_size < 100
    # the reset: the bootloader starts ota_1 on trial, main.py runs again over the same state
    esp32.reboot()
    assert esp32.state["running"] == "ota_1" and esp32.state["pending"]
    rig = Rig(ESP32DevKit, dict(cfg), tmp_path, "mfrc522")
    try:
        csms.wait_for(lambda: fw_statuses(csms)[-1:] == ["Installed"], timeout=15)
        csms.wait_for(lambda: not esp32.state["pending"], what="app marked valid")
        assert fw_statuses(csms) == ["Downloading", "Downloaded", "Installing", "Installed"]
        assert csms.violations == []
    finally:
        rig.finish()
    esp32.reboot()
    assert esp32.state["running"] == "ota_1"  # kept
    assert not os.path.exists(tmp_path / "state" / "ota.json")


def test_esp32_signed_update_checks_the_partitions_hash(csms, web, tmp_path):
    """SignedUpdateFirmware on the ESP32: the image streams into the OTA partition, its
    signature is checked against the hash taken on the way, then it installs; a wrong
    signature installs nothing."""
    import base64

    import trustme
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    esp32.reset_all(blocks=16)
    srv = web()
    img = image(6 * BLOCK + 99, seed=7)
    srv.routes["/micropython.bin"] = ("len", img)
    maker = trustme.CA(key_type=trustme.KeyType.RSA)
    signer = maker.issue_cert(common_name="firmware signing", key_type=trustme.KeyType.RSA)
    key = serialization.load_pem_private_key(signer.private_key_pem.bytes(), None)
    cfg = config(csms, "esp32_devkit", "mfrc522", "sdm630", profiles=["firmware_management", "security"])
    rig = Rig(ESP32DevKit, cfg, tmp_path, "mfrc522")
    signed = lambda: [(p["status"], p.get("requestId")) for p in csms.received("CP_1", "SignedFirmwareStatusNotification")]  # noqa: E731

    def update(rid, data):
        sig = base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()
        return csms.call("CP_1", "SignedUpdateFirmware", {"requestId": rid, "retries": 0, "firmware": {
            "location": srv.url("/micropython.bin"), "retrieveDateTime": "2020-01-01T00:00:00Z",
            "signingCertificate": signer.cert_chain_pems[0].bytes().decode(), "signature": sig}})
    try:
        csms.wait_action("CP_1", "BootNotification")
        assert csms.call("CP_1", "InstallCertificate", {"certificateType": "ManufacturerRootCertificate",
                                                        "certificate": maker.cert_pem.bytes().decode()}) == {"status": "Accepted"}
        assert update(1, img[:-1]) == {"status": "Accepted"}  # signed another image
        csms.wait_for(lambda: signed()[-1:] == [("InvalidSignature", 1)], timeout=20)
        assert esp32.state["boot"] == "ota_0" and not machine.resets
        assert update(2, img) == {"status": "Accepted"}
        csms.wait_for(lambda: machine.resets, timeout=20, what="reset")
        assert signed()[3:] == [("Downloading", 2), ("Downloaded", 2), ("SignatureVerified", 2), ("Installing", 2)]
    finally:
        rig.finish()
    assert esp32.flash["ota_1"][:len(img)] == img and esp32.state["boot"] == "ota_1"
    esp32.reset_all()


def test_esp32_new_app_that_never_connects_rolls_back(csms, tmp_path):
    esp32.reset_all(blocks=16)
    state = Store(str(tmp_path / "state"))
    # as the install leaves it: Installing sent, ota_1 set to boot; the new app then dies
    # before the CSMS accepted it, and the bootloader goes back to ota_0
    state.save("firmware.json", ["install"])
    state.save("ota.json", "ota_1")
    esp32.state["boot"] = "ota_1"
    esp32.reboot()
    esp32.reboot()
    assert esp32.state["running"] == "ota_0"
    cfg = config(csms, "esp32_devkit", "mfrc522", "sdm630", profiles=["firmware_management"])
    rig = Rig(ESP32DevKit, cfg, tmp_path, "mfrc522")
    try:
        csms.wait_for(lambda: fw_statuses(csms)[-1:] == ["InstallationFailed"], timeout=15)
        time.sleep(0.2)
        assert "Installed" not in fw_statuses(csms)
    finally:
        rig.finish()
    esp32.reset_all()
