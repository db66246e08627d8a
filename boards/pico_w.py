# Raspberry Pi Pico W (RP2040 + CYW43439). GP23-25 and GP29 belong to the radio; the LED is
# on the radio chip ("LED"). The watchdog tops out at 8388 ms and cannot be stopped.
#
# UpdateFirmware installs an app bundle, not a MicroPython firmware: the RP2040 has no second
# firmware slot and no bootloader that could fall back to one, so rewriting the running
# firmware from itself would leave a dead board after a power cut (a UF2 goes in by BOOTSEL
# over USB). The bundle is a ustar archive of the app (mpy_ocpp/ and boards/ as .mpy, made by
# `tar --format=ustar`); it is unpacked into the free one of two slots under `app_dir`
# (default /app: /app/a, /app/b), then slot.json (written atomically) names it and the board
# resets. A cut before that leaves the old app. At boot Board.chain() runs the named slot's
# boards.main ahead of the built-in (frozen or /lib) app. A new slot runs on trial: slot.json
# is turned back to the old app first, and the new app confirms itself once the CSMS
# accepted the charge point; a reset before that (a crash, the watchdog) runs the old app.
import os
import sys

from mpy_ocpp.compat import log
from mpy_ocpp.store import Store

from .board import Board

_SLOT = "slot.json"  # {"run": slot or null} or, for the next boot only, also "new": slot
_REC = const(512)  # a tar record
_STEP = const(8)  # records per loop step


class PicoW(Board):
    NAME = "pico_w"
    PINS = {
        "led": "LED",
        "relay": 14, "relay_fb": 15,
        "cp_pwm": 13, "cp_adc": 26, "pp_adc": 27,  # ADC0, ADC1
        "spi_sck": 18, "spi_mosi": 19, "spi_miso": 16, "rfid_cs": 17, "rfid_rst": 22,  # SPI0
        "i2c_scl": 21, "i2c_sda": 20,  # I2C0
        "uart_tx": 0, "uart_rx": 1, "rs485_de": 2,  # UART0
    }
    SPI_ID = 0
    I2C_ID = 0
    UART_ID = 0
    WDT_MS = 8000
    PILOT_ZERO = 32768  # 3.3 V ADC, front-end centred at 1.65 V
    PILOT_SCALE = 24.0 / 65535

    def wifi(self, wait_ms=15000):
        country = self.cfg.get("wifi", {}).get("country")
        if country:
            import rp2
            rp2.country(country)
        return Board.wifi(self, wait_ms)

    # app bundles

    @classmethod
    def chain(cls, cfg, path, stop):
        store = _slots(cfg)
        p = store.load(_SLOT, {}, _slot_ok)
        slot, trial = p.get("new"), True
        # unless it confirms, the next boot runs the old one (no trial if that cannot be stored)
        if not (slot and store.save(_SLOT, {"run": p.get("run")})):
            slot, trial = p.get("run"), False
        if not slot:
            return None
        home = store.path + "/" + slot
        _forget()
        sys.path.insert(0, home)
        try:
            from boards import main  # the slot's
        except Exception as e:  # e.g. .mpy files for another MicroPython version
            sys.path.remove(home)
            _forget()
            log("app %s does not load (%r): the built-in app runs" % (home, e))
            if not trial:
                store.save(_SLOT, {"run": None})
            return None
        log("app %s%s" % (home, " on trial" if trial else ""))
        return main.run(path, stop, (slot, trial))

    def ota(self, fw, reboot):
        self.fw = fw
        self.reboot = reboot
        fw.install = self.install

    def running(self):
        return self.app[0] if self.app else None

    def confirm(self):
        a = self.app
        if a and a[1]:
            _slots(self.cfg).save(_SLOT, {"run": a[0]})
            self.app = (a[0], False)
            log("app %s confirmed" % a[0])

    def install(self, path):
        store = _slots(self.cfg)
        old = self.running()
        slot = "b" if old == "a" else "a"
        home = store.path + "/" + slot
        yield from _clear(home)
        os.mkdir(home)
        if not (yield from _untar(path, home)):
            return False
        if not (_exists(home + "/boards/main.mpy") or _exists(home + "/boards/main.py")):
            log("firmware: the bundle has no boards/main")
            return False
        if not (self.fw.cp.store.save("ota.json", slot) and store.save(_SLOT, {"run": old, "new": slot})):
            return False
        log("firmware: app %s installed, resetting" % slot)
        self.reboot()
        while True:  # the board resets
            yield None


def _slot_ok(p):
    return type(p) is dict and all([k in ("run", "new") and v in (None, "a", "b") for k, v in p.items()])


def _slots(cfg):
    return Store(cfg.get("app_dir", "/app"))


def _forget():  # drop the loaded app so that the next import finds it on sys.path again
    for n in list(sys.modules):
        if n.split(".")[0] in ("boards", "mpy_ocpp"):
            del sys.modules[n]


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def _isdir(p):
    return os.stat(p)[0] & 0x4000


def _clear(path):
    if not _exists(path):
        return
    for n in os.listdir(path):
        p = path + "/" + n
        if _isdir(p):
            yield from _clear(p)
        else:
            os.remove(p)
            yield None
    os.rmdir(path)


def _field(buf, at, n):
    return bytes(buf[at:at + n]).split(b"\0", 1)[0].decode().strip()


def _makedirs(base, rel):
    for i, c in enumerate(rel):
        if c == "/" and not _exists(base + "/" + rel[:i]):
            os.mkdir(base + "/" + rel[:i])
    if not _exists(base + "/" + rel):
        os.mkdir(base + "/" + rel)


def _untar(path, home):
    """The ustar archive `path` unpacked under `home`; False unless whole and valid."""
    buf = bytearray(_REC)
    mv = memoryview(buf)
    k = 0
    with open(path, "rb") as f:
        while True:
            if f.readinto(buf) != _REC:
                log("firmware: the bundle is cut short")
                return False
            if not max(buf):  # the end-of-archive record
                return True
            if sum(buf) - sum(buf[148:156]) + 256 != int(_field(buf, 148, 8) or "-1", 8):
                log("firmware: not a tar archive (header checksum)")
                return False
            name = _field(buf, 0, 100)
            pre = _field(buf, 345, 155)
            name = (pre + "/" + name if pre else name).strip("/")
            while name[:2] == "./":
                name = name[2:]
            size = int(_field(buf, 124, 12) or "0", 8)
            kind = buf[156]
            if ".." in name.split("/"):
                log("firmware: bundle entry outside the app: %s" % name)
                return False
            if kind == 53:  # "5" a directory
                if name and name != ".":
                    _makedirs(home, name)
            elif kind == 48 or kind == 0:  # "0" a file
                d = name.rfind("/")
                if d > 0:
                    _makedirs(home, name[:d])
                with open(home + "/" + name, "wb") as out:
                    while size > 0:
                        if f.readinto(buf) != _REC:
                            log("firmware: the bundle is cut short")
                            return False
                        out.write(mv[:min(size, _REC)])
                        size -= _REC
                        k += 1
                        if not k % _STEP:
                            yield None
            else:
                log("firmware: unsupported bundle entry %s (type %d)" % (name, kind))
                return False


BOARD = PicoW
