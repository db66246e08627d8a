# ESP32 DevKit (ESP32-WROOM-32). Analog inputs only on ADC1 (GPIO 32-39): ADC2 stops
# working once Wi-Fi is on. GPIO 34-39 are input-only, without pull-ups.
#
# UpdateFirmware writes the next OTA app partition (a MicroPython build with an OTA partition
# table and app rollback, e.g. ESP32_GENERIC BOARD_VARIANT=OTA; the image is its app binary,
# micropython.bin). The download streams the HTTP body straight into that partition: on a
# 4 MB flash the filesystem is smaller than an image, and the running app is never touched.
# The file `path` then only holds {"size", "sha256"} of what was written. The install reads
# the partition back against that hash, set_boot() (ESP-IDF checks the image too), then
# resets. The new app stays only if it calls mark_app_valid_cancel_rollback() before the
# next reset: main.py does that once the CSMS accepted the charge point. A signed update
# (SignedUpdateFirmware) checks its signature against that hash before the install.
import hashlib
import json
import os
from binascii import hexlify, unhexlify

import machine
from esp32 import Partition

from mpy_ocpp.compat import log

from .board import Board

_BLOCK = const(4096)  # the partition's block; erased and written whole
_STEP = const(4)  # blocks per loop step while copying or checking (~0.2 s of flash work)


class ESP32DevKit(Board):
    NAME = "esp32_devkit"
    PINS = {
        "led": 2,  # on-board blue LED
        "relay": 26, "relay_fb": 27,  # contactor driver, feedback (opto, active low)
        "cp_pwm": 25, "cp_adc": 34, "pp_adc": 35,  # control pilot out/in, proximity pilot
        "spi_sck": 18, "spi_mosi": 23, "spi_miso": 19, "rfid_cs": 5, "rfid_rst": 32,  # VSPI
        "i2c_scl": 22, "i2c_sda": 21,  # PN532 alternative
        "uart_tx": 17, "uart_rx": 16, "rs485_de": 4,  # UART2 to the RS-485 transceiver
    }
    SPI_ID = 2  # VSPI
    UART_ID = 2
    # With 11 dB attenuation the ADC reads about 0.15-2.45 V linearly: the front-end maps
    # -12..+12 V onto that span; calibrate per board in config.json ("pilot_zero"/"pilot_scale").
    PILOT_ZERO = 25600
    PILOT_SCALE = 24.0 / 47000

    def adc(self, name):
        a = machine.ADC(machine.Pin(self.pin_id(name)))
        a.atten(machine.ADC.ATTN_11DB)
        return a

    def ota(self, fw, reboot):
        Ota(fw, reboot)

    def running(self):
        return Partition(Partition.RUNNING).info()[4]

    def confirm(self):
        try:
            Partition.mark_app_valid_cancel_rollback()
        except OSError as e:  # a build without app rollback
            log("ota: %r" % e)


class Ota:
    """The download and install hooks of cp.firmware for the next OTA partition."""

    def __init__(self, fw, reboot):
        self.fw = fw
        self.reboot = reboot
        fw.download = self.download
        fw.install = self.install
        fw.digest = self.digest

    def download(self, url, path):
        w = _Writer(Partition(Partition.RUNNING).get_next_update())
        t = self.fw.http_download(url, path, sink=w)  # the body goes to the partition, not a file
        return _fetch(t, w, path)

    def digest(self, path):  # a signed update's image is in the partition: the hash taken on the way
        with open(path, "rb") as f:
            if f.read(1) != b"{":
                return None  # a whole image in the file: the library hashes it
        with open(path) as f:
            return unhexlify(json.load(f)["sha256"])

    def install(self, path):
        part = Partition(Partition.RUNNING).get_next_update()
        with open(path, "rb") as f:
            mark = f.read(1) == b"{"
        if mark:  # written by download()
            with open(path) as f:
                m = json.load(f)
            size, digest = m["size"], m["sha256"]
        else:  # a whole image in the file (a download hook of the firmware's own)
            w = _Writer(part)
            if os.stat(path)[6] > w.blocks * _BLOCK:
                log("ota: the image is larger than partition %s" % part.info()[4])
                return False
            yield from _copy(path, w)
            size, digest = w.size, _hex(w.sha)
        if not (yield from _check(part, size, digest)):
            log("ota: partition %s does not read back as written" % part.info()[4])
            return False
        label = part.info()[4]
        if not self.fw.cp.store.save("ota.json", label):  # before set_boot: a cut in between fails
            return False
        part.set_boot()
        log("ota: booting %s (%d bytes)" % (label, size))
        self.reboot()
        while True:  # the board resets
            yield None


class _Writer:
    """Bytes into whole blocks of a partition (erased and written), hashed on the way."""

    def __init__(self, part):
        self.part = part
        self.blocks = part.ioctl(4, 0)
        self.buf = bytearray(_BLOCK)
        self.fill = self.n = self.size = 0
        self.sha = hashlib.sha256()

    def write(self, data):
        mv = memoryview(data)
        i = 0
        while i < len(mv):
            k = min(_BLOCK - self.fill, len(mv) - i)
            self.buf[self.fill:self.fill + k] = mv[i:i + k]
            self.fill += k
            i += k
            if self.fill == _BLOCK:
                self.flush()
        return len(mv)

    def flush(self):
        f = self.fill
        if not f:
            return
        if self.n >= self.blocks:
            raise ValueError("image larger than the partition")
        if not self.n and self.buf[0] != 0xE9:
            raise ValueError("not an ESP32 app image")
        self.sha.update(memoryview(self.buf)[:f])
        if f < _BLOCK:
            self.buf[f:] = b"\xff" * (_BLOCK - f)
        self.part.writeblocks(self.n, self.buf)
        self.n += 1
        self.size += f
        self.fill = 0

    def close(self):  # the Transfer closes its "file"; download() flushes the last block
        pass


def _hex(sha):
    return hexlify(sha.digest()).decode()


def _fetch(t, w, path):
    try:
        r = None
        while r is None:
            yield None
            r = t.step()
    finally:
        t.close()  # abandoned: the socket goes
    if not r:
        log("firmware: " + t.error)
        return False
    w.flush()
    with open(path, "w") as f:
        json.dump({"size": w.size, "sha256": _hex(w.sha)}, f)
    return True


def _copy(path, w):
    mv = memoryview(w.buf)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(mv[w.fill:])
            if not n:
                break
            w.fill += n
            if w.fill == _BLOCK:
                w.flush()
                if not w.n % _STEP:
                    yield None
    w.flush()


def _check(part, size, digest):
    buf = bytearray(_BLOCK)
    h = hashlib.sha256()
    n = 0
    while n * _BLOCK < size:
        part.readblocks(n, buf)
        h.update(memoryview(buf)[:min(_BLOCK, size - n * _BLOCK)])
        n += 1
        if not n % _STEP:
            yield None
    return _hex(h) == digest


BOARD = ESP32DevKit
