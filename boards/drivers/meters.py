# Energy meters on Modbus RTU: a register map per model, read block by block in turn.
# Values land in `values` (V, A, W, Wh); they feed the library's energy/power inputs and
# c.measure() for voltage and current per phase.
import struct

from mpy_ocpp.compat import ticks_add

from . import due

# map: blocks of (function code, first register (wire address), count, fields);
# a field is (register offset in the block, struct format, scale, name)
_F32 = ">f"
SDM630 = (  # Eastron, input registers, IEEE-754 float32 big-endian
    (4, 0x0000, 12, ((0, _F32, 1, "v1"), (2, _F32, 1, "v2"), (4, _F32, 1, "v3"),
                     (6, _F32, 1, "a1"), (8, _F32, 1, "a2"), (10, _F32, 1, "a3"))),
    (4, 0x0034, 2, ((0, _F32, 1, "w"),)),  # total system power
    (4, 0x0048, 2, ((0, _F32, 1000, "wh"),)),  # import kWh (not 0x0156, the total)
)
SDM120 = (  # the single-phase subset
    (4, 0x0000, 14, ((0, _F32, 1, "v1"), (6, _F32, 1, "a1"), (12, _F32, 1, "w"))),
    (4, 0x0048, 2, ((0, _F32, 1000, "wh"),)),
)
ABB_B23 = (  # ABB, holding registers, scaled integers
    (3, 0x5000, 4, ((0, ">Q", 10, "wh"),)),  # u64, 0.01 kWh
    (3, 0x5B00, 22, ((0, ">I", 0.1, "v1"), (2, ">I", 0.1, "v2"), (4, ">I", 0.1, "v3"),
                     (12, ">I", 0.01, "a1"), (14, ">I", 0.01, "a2"), (16, ">I", 0.01, "a3"),
                     (20, ">i", 0.01, "w"))),
)
MAPS = {"sdm630": SDM630, "sdm120": SDM120, "abb_b23": ABB_B23}
_NA = (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF, 0x7FFFFFFF)  # ABB: "not available"


class Meter:
    def __init__(self, model, address=1, interval_ms=1000, fail_max=3):
        self.map = MAPS[model]
        self.address = address
        self.interval = interval_ms
        self.fail_max = fail_max
        self.values = {}
        self.failures = 0
        self.last_error = None
        self._block = 0
        self._due = None
        self._cycle_ok = True

    def get(self, name):
        return self.values.get(name)

    def energy(self):
        """Import register in Wh (an int: meterStart/meterStop); last good value, 0 before the first."""
        return int(self.values.get("wh", 0))

    def power(self):
        w = self.values.get("w")
        return None if w is None else round(w, 1)

    def request(self, now):
        """Called by the Master when the bus is free: (slave, fc, address, count) or None."""
        if self._block == 0 and not due(now, self._due):
            return None
        fc, start, count, _ = self.map[self._block]
        return self.address, fc, start, count

    def answer(self, data, code, now):
        """The Master's reply: register bytes, or None with an exception / TIMEOUT / BAD_FRAME code."""
        block = self.map[self._block]
        if data is None:
            self._cycle_ok = False
            self.last_error = code
        else:
            for off, fmt, scale, name in block[3]:
                v = struct.unpack_from(fmt, data, off * 2)[0]
                self.values[name] = None if (v in _NA and fmt[1] != "f") or v != v else v * scale
        self._block = (self._block + 1) % len(self.map)
        if self._block == 0:  # a whole cycle done
            self._due = ticks_add(now, self.interval)
            self.failures = 0 if self._cycle_ok else self.failures + 1
            self._cycle_ok = True

    def error(self):
        """PowerMeterFailure after `fail_max` failed cycles: reported, not a fault (charging
        goes on with the last reading; the CSMS decides)."""
        if self.failures < self.fail_max:
            return None
        code = self.last_error
        info = "no answer" if code == -1 else "bad frame" if code == -2 else "exception %d" % code
        return ("PowerMeterFailure", "meter " + info, "METER", False)
