# Modbus RTU master on a UART (RS-485 with an optional DE/RE direction pin). One request at a
# time; the devices on the bus (meters) take turns. poll(now) never waits for an answer:
# it sends when the bus is free and the inter-frame gap has passed, then collects the reply
# over the following polls, up to `timeout_ms`.
from mpy_ocpp.compat import ticks_add, ticks_diff

from . import due

TIMEOUT = -1  # the exception code handed to a device when nobody answered
BAD_FRAME = -2  # a reply that failed its CRC or did not match the request


def crc16(data, n=None):
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    for i in range(len(data) if n is None else n):
        crc ^= data[i]
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def request(slave, fc, addr, count):
    """The 8-byte read request (FC 3 holding / FC 4 input registers)."""
    f = bytearray((slave, fc, addr >> 8, addr & 0xFF, count >> 8, count & 0xFF, 0, 0))
    c = crc16(f, 6)
    f[6] = c & 0xFF
    f[7] = c >> 8
    return f


class Master:
    def __init__(self, uart, baudrate, de=None, timeout_ms=200):
        self.uart = uart
        self.de = de
        if de is not None:
            de.value(0)  # receive
        # 3.5 characters of 11 bits between frames; a fixed 1.75 ms above 19200 baud
        self.gap = 2 if baudrate > 19200 else (38500 + baudrate - 1) // baudrate + 1
        self.timeout = timeout_ms
        self.devices = []
        self._turn = 0
        self._dev = None  # the device whose request is on the bus
        self._len = 0  # expected reply length
        self._rx = bytearray(256)
        self._n = 0
        self._due = None
        self._deadline = 0

    def add(self, dev):
        self.devices.append(dev)

    def poll(self, now):
        if self._dev is not None:
            self._receive(now)
        elif due(now, self._due) and self.devices:
            for _ in range(len(self.devices)):
                dev = self.devices[self._turn]
                self._turn = (self._turn + 1) % len(self.devices)
                req = dev.request(now)
                if req:
                    self._send(dev, req, now)
                    return

    def _send(self, dev, req, now):
        u = self.uart
        while u.any():  # a late answer to an earlier request: not ours
            u.read()
        frame = request(*req)
        if self.de is not None:
            self.de.value(1)
        u.write(frame)
        u.flush()  # returns once the last stop bit is out: then release the bus
        if self.de is not None:
            self.de.value(0)
        self._dev = dev
        self._req = frame
        self._len = 5 + 2 * req[3]
        self._n = 0
        self._deadline = ticks_add(now, self.timeout)

    def _receive(self, now):
        u = self.uart
        n = u.any()
        if n:
            data = u.read(min(n, len(self._rx) - self._n))
            self._rx[self._n:self._n + len(data)] = data
            self._n += len(data)
        rx, got = self._rx, self._n
        if got >= 5 and rx[1] == self._req[1] | 0x80:
            return self._done(now, rx[2] if self._ok(5) else BAD_FRAME)
        if got >= self._len:
            ok = self._ok(self._len) and rx[1] == self._req[1] and rx[2] == self._len - 5
            return self._done(now, 0 if ok else BAD_FRAME)
        if ticks_diff(now, self._deadline) >= 0:
            self._done(now, TIMEOUT)

    def _ok(self, n):
        c = crc16(self._rx, n - 2)
        return self._rx[0] == self._req[0] and self._rx[n - 2] == c & 0xFF and self._rx[n - 1] == c >> 8

    def _done(self, now, code):
        dev, self._dev = self._dev, None
        self._due = ticks_add(now, self.gap)
        # code 0: the register bytes; > 0: the Modbus exception code; < 0: TIMEOUT / BAD_FRAME
        dev.answer(memoryview(self._rx)[3:self._len - 2] if code == 0 else None, code, now)
