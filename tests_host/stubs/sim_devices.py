"""Simulated devices for the board tests, attached to the stubbed `machine` buses.

Written from the datasheets' register and frame descriptions (not from any driver):
  SimMFRC522  MFRC522 register file over SPI with ISO 14443A cards in its field
              (REQA/WUPA, bitwise anticollision with collisions, cascade levels, SELECT
              with CRC_A, HLTA); logs every register access and every SPI frame.
  SimPN532    PN532 on I2C: ACK frames, SAMConfiguration, InListPassiveTarget.
  SimMeter    a Modbus RTU slave on a UART: Eastron SDM630/SDM120 or ABB B23 registers.
  SimEV       an EV (and its noise) on the control pilot ADC, following the PWM duty.
"""
import random
import struct
import time

import machine


def crc_a(data):
    """ISO 14443-3 CRC_A: reflected 0x1021 (0x8408), preset 0x6363, low byte first."""
    crc = 0x6363
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return bytes((crc & 0xFF, crc >> 8))


def crc16_modbus(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes((crc & 0xFF, crc >> 8))


def _bits(data, n):
    return [(data[i >> 3] >> (i & 7)) & 1 for i in range(n)]


class Card:
    """An ISO 14443A card: UID of 4, 7 or 10 bytes."""

    def __init__(self, uid, sak=0x08):
        self.uid = bytes(uid)
        self.sak = sak
        u = self.uid
        if len(u) == 4:
            self.levels = [u]
        elif len(u) == 7:
            self.levels = [b"\x88" + u[:3], u[3:]]
        else:
            self.levels = [b"\x88" + u[:3], b"\x88" + u[3:6], u[6:]]
        self.atqa = {4: b"\x04\x00", 7: b"\x44\x00", 10: b"\x84\x00"}[len(u)]
        self.state = "IDLE"
        self.level = 0

    def cl_bits(self, level):
        cl = self.levels[level]
        bcc = cl[0] ^ cl[1] ^ cl[2] ^ cl[3]
        return _bits(cl + bytes((bcc,)), 40)


class SimMFRC522:
    def __init__(self, version=0x92):
        self.version = version
        self.regs = bytearray(64)
        self.fifo = bytearray()
        self.cards = []
        self.log = []  # ("r"|"w", register, value)
        self.frames = []  # (mosi bytes, miso bytes) per chip-select frame
        self._reset()
        self._mosi = None

    def _reset(self):
        self.regs[:] = bytes(64)
        self.regs[0x14] = 0x80  # TxControlReg reset value
        self.regs[0x0E] = 0x80  # CollReg: ValuesAfterColl
        self.regs[0x37] = self.version
        self.fifo = bytearray()

    def present(self, *cards):
        """Put these cards in the field (fresh: IDLE)."""
        for c in cards:
            c.state, c.level = "IDLE", 0
        self.cards = list(cards)

    def ops(self, kind=None):
        return [e for e in self.log if kind is None or e[0] == kind]

    # SPI side

    def select(self):
        self._mosi, self._miso, self._addr = bytearray(), bytearray(), None

    def deselect(self):
        if self._mosi:
            self.frames.append((bytes(self._mosi), bytes(self._miso)))
        self._mosi = None

    def exchange(self, b):
        if self._mosi is None:
            return 0
        self._mosi.append(b)
        out = 0
        if self._addr is None:
            self._addr = b
        elif self._addr & 0x80:
            out = self._read((self._addr >> 1) & 0x3F)
            self._addr = b if b & 0x80 else 0x80 | 0x7E  # 0 ends the frame
        else:
            self._write((self._addr >> 1) & 0x3F, b)
        self._miso.append(out)
        return out

    # registers

    def _read(self, reg):
        if reg == 0x09:
            v = self.fifo.pop(0) if self.fifo else 0
        elif reg == 0x0A:
            v = len(self.fifo)
        else:
            v = self.regs[reg]
        self.log.append(("r", reg, v))
        return v

    def _write(self, reg, v):
        self.log.append(("w", reg, v))
        r = self.regs
        if reg == 0x01:
            cmd = v & 0x0F
            if cmd == 0x0F:
                self._reset()
                return
            r[0x01] = v
            if cmd == 0x03:
                c = crc_a(self.fifo)
                r[0x22], r[0x21] = c[0], c[1]
                r[0x05] |= 0x04
        elif reg in (0x04, 0x05):  # Set1/Set2: set or clear the marked bits
            r[reg] = r[reg] | (v & 0x7F) if v & 0x80 else r[reg] & ~v & 0x7F
        elif reg == 0x09:
            self.fifo.append(v)
        elif reg == 0x0A:
            if v & 0x80:
                self.fifo = bytearray()
        elif reg == 0x0D:
            r[reg] = v & 0x7F
            if v & 0x80 and r[0x01] & 0x0F == 0x0C:
                self._transceive()
        else:
            r[reg] = v

    def _transceive(self):
        r = self.regs
        last, align = r[0x0D] & 7, (r[0x0D] >> 4) & 7
        data = bytes(self.fifo)
        self.fifo = bytearray()
        n = len(data) * 8 if last == 0 else (len(data) - 1) * 8 + last
        r[0x06] = 0
        r[0x0E] &= 0x80
        res = self._picc(data, n)
        r[0x04] |= 0x40  # TxIRq
        if res is None:
            r[0x04] |= 0x01  # TimerIRq: nobody answered
            return
        bits, coll = res
        if coll is not None:
            bits = bits[:coll + 1]
            bits[coll] = 0  # ValuesAfterColl = 0: not kept
            r[0x06] |= 0x08  # CollErr
            r[0x0E] |= (align + coll + 1) & 0x1F  # CollPos, from the FIFO's first bit
        total = align + len(bits)
        out = bytearray((total + 7) // 8)
        for i, b in enumerate(bits):
            p = align + i
            out[p >> 3] |= b << (p & 7)
        self.fifo = out
        r[0x0C] = (r[0x0C] & 0xF8) | (total & 7)  # RxLastBits
        r[0x04] |= 0x20  # RxIRq

    def _merge(self, answers):
        """Bits several cards send at once; the first differing bit is a collision."""
        bits = list(answers[0])
        for other in answers[1:]:
            for i, b in enumerate(other):
                if b != bits[i]:
                    return bits, i
        return bits, None

    def _picc(self, data, n):
        cards = self.cards
        if n == 7 and data[0] in (0x26, 0x52):  # REQA / WUPA
            woken = [c for c in cards if c.state == "IDLE" or (data[0] == 0x52 and c.state == "HALT")]
            for c in woken:
                c.state, c.level = "READY", 0
            return self._merge([_bits(c.atqa, 16) for c in woken]) if woken else None
        if n >= 16 and data[0] in (0x93, 0x95, 0x97):
            level = (0x93, 0x95, 0x97).index(data[0])
            ready = [c for c in cards if c.state == "READY" and c.level == level and level < len(c.levels)]
            nvb = data[1]
            if nvb == 0x70:
                if n != 72 or crc_a(data[:7]) != data[7:9]:
                    return None
                for c in ready:
                    cl = c.levels[level]
                    if bytes(data[2:6]) == cl and data[6] == cl[0] ^ cl[1] ^ cl[2] ^ cl[3]:
                        more = level + 1 < len(c.levels)
                        c.state, c.level = ("READY", level + 1) if more else ("ACTIVE", level)
                        sak = 0x04 if more else c.sak
                        for o in ready:
                            if o is not c:
                                o.state = "IDLE"
                        return _bits(bytes((sak,)) + crc_a(bytes((sak,))), 24), None
                return None
            k = ((nvb >> 4) - 2) * 8 + (nvb & 7)
            if n != 16 + k or not 0 <= k < 40:
                return None
            known = _bits(data[2:], k) if k else []
            answers = [c.cl_bits(level)[k:] for c in ready if c.cl_bits(level)[:k] == known]
            return self._merge(answers) if answers else None
        if data[:2] == b"\x50\x00" and n == 32 and crc_a(data[:2]) == data[2:4]:  # HLTA
            for c in cards:
                if c.state == "ACTIVE":
                    c.state = "HALT"
        return None


class SimPN532:
    """PN532 on I2C: every read starts with the status byte (0x01 = a frame is ready)."""

    def __init__(self):
        self.present = True
        self.cards = []  # Card objects in the field
        self.written = []  # host frames, raw
        self._out = []  # frames waiting to be read
        self._listing = False

    @staticmethod
    def frame(data):
        n = len(data)
        return bytes((0, 0, 0xFF, n, (-n) & 0xFF)) + data + bytes(((-sum(data)) & 0xFF, 0))

    def write(self, raw):
        self.written.append(raw)
        i = raw.find(b"\x00\xff")
        n, lcs = raw[i + 2], raw[i + 3]
        body = raw[i + 4:i + 4 + n]
        assert (n + lcs) & 0xFF == 0 and (sum(body) + raw[i + 4 + n]) & 0xFF == 0, raw.hex()
        assert body[0] == 0xD4, raw.hex()
        self._out = [b"\x00\x00\xff\x00\xff\x00"]  # ACK (a new command drops an old answer)
        self._listing = False
        cmd = body[1]
        if cmd == 0x14:
            self._out.append(self.frame(b"\xd5\x15"))
        elif cmd == 0x02:
            self._out.append(self.frame(b"\xd5\x03\x32\x01\x06\x07"))
        elif cmd == 0x4A:
            self._listing = True

    def read(self, n):
        if not self._out and self._listing and self.cards:
            c = self.cards[0]
            self._out.append(self.frame(b"\xd5\x4b\x01\x01" + c.atqa + bytes((c.sak, len(c.uid))) + c.uid))
            self._listing = False
        if not self._out:
            return bytes(n)
        if n == 1:
            return b"\x01"
        f = self._out.pop(0)
        return (b"\x01" + f + bytes(n))[:n]


# register images of the meters: name -> (function code, address, format, scale to the unit)
SDM630_REGS = {"v1": (4, 0x00, ">f", 1), "v2": (4, 0x02, ">f", 1), "v3": (4, 0x04, ">f", 1),
               "a1": (4, 0x06, ">f", 1), "a2": (4, 0x08, ">f", 1), "a3": (4, 0x0A, ">f", 1),
               "p1": (4, 0x0C, ">f", 1), "p2": (4, 0x0E, ">f", 1), "p3": (4, 0x10, ">f", 1),
               "w": (4, 0x34, ">f", 1), "hz": (4, 0x46, ">f", 1), "wh": (4, 0x48, ">f", 0.001),
               "wh_export": (4, 0x4A, ">f", 0.001), "wh_total": (4, 0x156, ">f", 0.001)}
SDM120_REGS = {"v1": (4, 0x00, ">f", 1), "a1": (4, 0x06, ">f", 1), "w": (4, 0x0C, ">f", 1),
               "hz": (4, 0x46, ">f", 1), "wh": (4, 0x48, ">f", 0.001), "wh_export": (4, 0x4A, ">f", 0.001),
               "wh_total": (4, 0x156, ">f", 0.001)}
B23_REGS = {"wh": (3, 0x5000, ">Q", 0.1), "wh_export": (3, 0x5004, ">Q", 0.1),
            "v1": (3, 0x5B00, ">I", 10), "v2": (3, 0x5B02, ">I", 10), "v3": (3, 0x5B04, ">I", 10),
            "v12": (3, 0x5B06, ">I", 10), "v32": (3, 0x5B08, ">I", 10), "v13": (3, 0x5B0A, ">I", 10),
            "a1": (3, 0x5B0C, ">I", 100), "an": (3, 0x5B12, ">I", 100), "a2": (3, 0x5B0E, ">I", 100), "a3": (3, 0x5B10, ">I", 100),
            "w": (3, 0x5B14, ">i", 100), "hz": (3, 0x5B2C, ">H", 100)}
METER_REGS = {"sdm630": SDM630_REGS, "sdm120": SDM120_REGS, "abb_b23": B23_REGS}


class SimMeter:
    """A Modbus RTU meter. `power` (W) may be a callable; energy integrates it over time."""

    def __init__(self, model, address=1, delay=0.002, power=0.0, wh=0.0, volts=230.0):
        self.model = model
        self.regmap = METER_REGS[model]
        self.address = address
        self.delay = delay
        self.power = power
        self.wh = wh
        self.volts = volts
        self.silent = False
        self.exception = None  # answer every request with this exception code
        self.requests = []
        self.replies = []
        self._t = time.monotonic()

    def _values(self):
        now = time.monotonic()
        w = self.power() if callable(self.power) else self.power
        self.wh += w * (now - self._t) / 3600
        self._t = now
        phases = 3 if self.model != "sdm120" else 1
        amps = w / self.volts / phases
        vals = {"w": w, "wh": self.wh, "wh_export": 0.0, "wh_total": self.wh, "hz": 50.0, "an": 0.0,
                "v12": self.volts * 3 ** 0.5, "v32": self.volts * 3 ** 0.5, "v13": self.volts * 3 ** 0.5}
        for i in range(1, phases + 1):
            vals["v%d" % i] = self.volts
            vals["a%d" % i] = amps
            vals["p%d" % i] = w / phases
        return vals

    def registers(self, fc):
        regs = {}
        for name, v in self._values().items():
            if name not in self.regmap:
                continue
            f, addr, fmt, scale = self.regmap[name]
            if f != fc:
                continue
            v *= scale
            raw = struct.pack(fmt, v if fmt == ">f" else int(round(v)))
            for i in range(len(raw) // 2):
                regs[addr + i] = raw[2 * i:2 * i + 2]
        return regs

    def received(self, data, uart):
        self.requests.append(data)
        if self.silent or len(data) != 8 or data[0] != self.address or crc16_modbus(data[:6]) != data[6:]:
            return
        fc, start, count = data[1], (data[2] << 8) | data[3], (data[4] << 8) | data[5]
        regs = self.registers(fc) if fc in (3, 4) else None
        code = self.exception
        if code is None and regs is None:
            code = 1  # illegal function
        elif code is None and self.model != "abb_b23" and fc == 3:
            code = 2
        if code is None:
            # Eastron answers any register in its float space; ABB only mapped ones
            if self.model == "abb_b23" and any(a not in regs for a in range(start, start + count)):
                code = 2
        if code is not None:
            reply = bytes((self.address, fc | 0x80, code))
        else:
            body = b"".join(regs.get(a, b"\x00\x00") for a in range(start, start + count))
            reply = bytes((self.address, fc, len(body))) + body
        reply += crc16_modbus(reply)
        self.replies.append(reply)
        uart.feed(reply, self.delay)


class SimEV:
    """An EV on the control pilot: the high level of its state while the PWM is high, -12 V
    (less without its diode) while low; uniform noise on every sample, lone +-3 V spikes with
    probability `spikes` per sample, and longer disturbances on demand (glitch())."""

    HIGH = {"A": 12.0, "B": 9.0, "C": 6.0, "D": 3.0, "E": 0.0, "F": -12.0}

    def __init__(self, pwm_pin, zero, scale, noise=0.3, spikes=0.01, seed=1):
        self.pwm_pin = pwm_pin
        self.zero = zero
        self.scale = scale
        self.noise = noise
        self.spikes = spikes
        self.state = "A"
        self.diode = True
        self.rand = random.Random(seed)
        self._glitch = (0.0, 0.0)  # (until, volts)

    def volts(self):
        pwm = machine.pwm(self.pwm_pin)
        duty = pwm.duty_u16() / 65535 if pwm else 1.0
        phase = (time.monotonic() * 1000) % 1.0  # 1 kHz
        st = self.state
        if phase < duty or duty >= 1.0:
            v = self.HIGH[st]
        elif st in "BCD" and not self.diode:  # the EV's resistors load the negative half
            v = -12.0 * {"B": 2740, "C": 882, "D": 246}[st] / ({"B": 2740, "C": 882, "D": 246}[st] + 1000)
        else:
            v = 0.0 if st == "E" else -12.0
        v += self.rand.uniform(-self.noise, self.noise)
        if self.rand.random() < self.spikes:
            v += self.rand.choice((-3.0, 3.0))
        return v + (self._glitch[1] if time.monotonic() < self._glitch[0] else 0.0)

    def glitch(self, volts, seconds):
        """Shift the line by `volts` for `seconds` (a switching transient, a bad contact)."""
        self._glitch = (time.monotonic() + seconds, volts)

    def read_u16(self):
        return max(0, min(65535, int(self.zero + self.volts() / self.scale)))


def pp_source(ohms, pullup=1000):
    """The proximity ADC reading for a cable resistor (None = no cable)."""
    return lambda: 65535 if ohms is None else int(65535 * ohms / (ohms + pullup))
