# NXP PN532 over I2C (address 0x24), behind the same interface as the MFRC522: poll(now)
# returns an idTag or None. Fully non-blocking: a command goes out, then each poll reads the
# one-byte ready status until the ACK and the answer are there. InListPassiveTarget waits
# on the chip until a card comes; no answer within `relist_ms` simply sends it again, and a
# missing ACK means the reader is gone (ReaderFailure on connector 0).
from mpy_ocpp.compat import ticks_add, ticks_diff

from . import due
from .rfid import Reader

_SAMCONFIGURATION = const(0x14)
_INLISTPASSIVETARGET = const(0x4A)

_SEND = const(0)  # the next command goes out
_ACK = const(1)  # waiting for the ACK frame
_ANSWER = const(2)  # waiting for the answer frame

_ACK_FRAME = b"\x00\x00\xff\x00\xff\x00"


def frame(cmd, params=b""):
    """Host -> PN532: 00 00 FF LEN LCS D4 CMD params DCS 00."""
    body = bytes((0xD4, cmd)) + params
    n = len(body)
    return bytes((0x00, 0x00, 0xFF, n, (-n) & 0xFF)) + body + bytes(((-sum(body)) & 0xFF, 0x00))


def parse(buf, cmd):
    """The data of an answer frame to `cmd` in `buf` (status byte first), or None."""
    i = 1
    while i + 4 <= len(buf) and not (buf[i] == 0 and buf[i + 1] == 0xFF):  # start code
        i += 1
    if i + 4 > len(buf):
        return None
    n, lcs = buf[i + 2], buf[i + 3]
    body = buf[i + 4:i + 4 + n]
    if (n + lcs) & 0xFF or n < 2 or len(body) < n or i + 5 + n > len(buf):
        return None
    if (sum(body) + buf[i + 4 + n]) & 0xFF or body[0] != 0xD5 or body[1] != cmd + 1:
        return None
    return body[2:]


class PN532(Reader):
    def __init__(self, i2c, addr=0x24, poll_ms=20, ack_ms=200, relist_ms=5000, **fmt):
        Reader.__init__(self, **fmt)
        self.i2c = i2c
        self.addr = addr
        self.poll_ms = poll_ms
        self.ack_ms = ack_ms
        self.relist = relist_ms
        self.state = _SEND
        self.cmd = _SAMCONFIGURATION
        self._b1 = bytearray(1)
        self._ack = bytearray(7)
        self._buf = bytearray(32)
        self._due = None
        self._deadline = 0

    def _send(self, now):
        params = b"\x01\x14\x01" if self.cmd == _SAMCONFIGURATION else b"\x01\x00"  # normal mode / MaxTg 1, 106 kbps type A
        self.i2c.writeto(self.addr, frame(self.cmd, params))
        self.state = _ACK
        self._deadline = ticks_add(now, self.ack_ms)

    def _ready(self):
        self.i2c.readfrom_into(self.addr, self._b1)
        return self._b1[0] & 1

    def poll(self, now):
        if not due(now, self._due):
            return None
        self._due = ticks_add(now, self.poll_ms)
        try:
            return self._step(now)
        except OSError:  # no ACK on the bus: reader unplugged or dead
            self.failed = True
            self.state = _SEND
            self.cmd = _SAMCONFIGURATION
            self._due = ticks_add(now, 1000)
        return None

    def _step(self, now):
        if self.state == _SEND:
            self._send(now)
            return None
        if not self._ready():
            if ticks_diff(now, self._deadline) >= 0:
                if self.state == _ACK:
                    raise OSError("no ACK")
                self.state = _SEND  # no card for a while: ask again (proves the chip alive)
            return None
        if self.state == _ACK:
            self.i2c.readfrom_into(self.addr, self._ack)
            if self._ack[1:] != _ACK_FRAME:
                raise OSError("bad ACK")
            self.failed = False
            self.state = _ANSWER
            self._deadline = ticks_add(now, self.relist if self.cmd == _INLISTPASSIVETARGET else self.ack_ms)
            return None
        self.i2c.readfrom_into(self.addr, self._buf)
        data = parse(self._buf, self.cmd)
        self.state = _SEND
        if self.cmd == _SAMCONFIGURATION:
            self.cmd = _INLISTPASSIVETARGET
            return None
        # NbTg Tg SENS_RES(2) SEL_RES NFCIDLength NFCID1...
        if data is None or len(data) < 6 or data[0] != 1 or len(data) < 6 + data[5]:
            return None
        return self.report(bytes(data[6:6 + data[5]]), now)
