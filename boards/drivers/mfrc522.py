# NXP MFRC522 over SPI: ISO 14443A UIDs (4, 7 or 10 bytes) with bitwise anticollision and
# the cascade levels. poll(now) returns an idTag when a card is presented, else None.
# A poll with no card costs a REQA and the chip's 5 ms timer; a full read a few ms more.
# Read cards are halted (HLTA), so a card left on the reader is read once.
from mpy_ocpp.compat import ticks_add, ticks_diff, ticks_ms

from . import due
from .rfid import Reader

_COMMAND = const(0x01)
_COMIRQ = const(0x04)
_DIVIRQ = const(0x05)
_ERROR = const(0x06)
_FIFOLEVEL = const(0x0A)
_BITFRAMING = const(0x0D)
_COLL = const(0x0E)
_MODE = const(0x11)
_TXCONTROL = const(0x14)
_TXASK = const(0x15)
_CRC_H = const(0x21)
_CRC_L = const(0x22)
_TMODE = const(0x2A)
_TPRESCALER = const(0x2B)
_TRELOAD_H = const(0x2C)
_TRELOAD_L = const(0x2D)
_VERSION = const(0x37)

_IDLE = const(0x00)
_CALCCRC = const(0x03)
_TRANSCEIVE = const(0x0C)
_SOFTRESET = const(0x0F)

_OK = const(0)
_NOCARD = const(1)
_FAIL = const(2)
_COLLISION = const(3)

_WAIT_MS = const(20)  # Python-side bound on one command (the chip's own timer says 5 ms)


class MFRC522(Reader):
    def __init__(self, spi, cs, rst=None, interval_ms=150, **fmt):
        Reader.__init__(self, **fmt)
        self.spi = spi
        self.cs = cs
        cs.value(1)
        if rst is not None:
            rst.value(1)  # out of hard power-down
        self.interval = interval_ms
        self.version = 0
        self._b2 = bytearray(2)
        self._rx = bytearray(16)
        self._uid = bytearray(5)
        self._due = None
        self.init()

    # registers

    def _w(self, reg, val):
        b = self._b2
        b[0] = (reg << 1) & 0x7E
        b[1] = val
        self.cs.value(0)
        self.spi.write(b)
        self.cs.value(1)

    def _r(self, reg):
        b = self._b2
        b[0] = ((reg << 1) & 0x7E) | 0x80
        b[1] = 0
        self.cs.value(0)
        self.spi.write_readinto(b, b)
        self.cs.value(1)
        return b[1]

    def _write_fifo(self, data):
        self.cs.value(0)
        self.spi.write(b"\x12")  # FIFODataReg, write: then the bytes, one SPI frame
        self.spi.write(data)
        self.cs.value(1)

    def _read_fifo(self, n):
        b = self._rx
        for i in range(n):
            b[i] = 0x92  # FIFODataReg, read, once per byte; 0 ends the frame
        b[n] = 0
        mv = memoryview(b)[:n + 1]
        self.cs.value(0)
        self.spi.write_readinto(mv, mv)
        self.cs.value(1)
        return b[1:n + 1]

    def _wait(self, reg, mask, clear=False):
        """Poll `reg` until a `mask` bit is set (or all clear): the value, or 0 on timeout."""
        end = ticks_add(ticks_ms(), _WAIT_MS)
        while ticks_diff(end, ticks_ms()) > 0:
            v = self._r(reg)
            if (v & mask == 0) if clear else (v & mask):
                return v | 0x100
        return 0

    def init(self):
        self._w(_COMMAND, _SOFTRESET)
        self._wait(_COMMAND, 0x1F, True)  # back to Idle, PowerDown clear: reset done
        self._w(_TMODE, 0x80)  # TAuto: the timer starts when a transmission ends
        self._w(_TPRESCALER, 0xA9)  # 13.56 MHz / (2 * 169 + 1) = 40 kHz: 25 us per tick
        self._w(_TRELOAD_H, 0x00)
        self._w(_TRELOAD_L, 0xC8)  # 200 ticks = 5 ms without an answer -> TimerIRq
        self._w(_TXASK, 0x40)  # 100 % ASK modulation
        self._w(_MODE, 0x3D)  # CRC preset 0x6363 (ISO 14443A)
        self._w(_TXCONTROL, self._r(_TXCONTROL) | 0x03)  # antenna drivers on
        self.version = self._r(_VERSION)  # 0x91 / 0x92 on genuine parts, clones vary
        self.failed = self.version in (0x00, 0xFF)

    # commands

    def _transceive(self, data, framing):
        """Send `data` (TxLastBits/RxAlign in `framing`) -> (status, bytes received)."""
        self._w(_COMMAND, _IDLE)
        self._w(_COMIRQ, 0x7F)  # clear every interrupt request bit
        self._w(_FIFOLEVEL, 0x80)  # flush the FIFO
        self._write_fifo(data)
        self._w(_BITFRAMING, framing)
        self._w(_COMMAND, _TRANSCEIVE)
        self._w(_BITFRAMING, framing | 0x80)  # StartSend
        irq = self._wait(_COMIRQ, 0x31)  # RxIRq | IdleIRq | TimerIRq
        self._w(_BITFRAMING, framing)
        if not irq & 0x30:
            return _NOCARD, 0
        err = self._r(_ERROR)
        if err & 0x13:  # BufferOvfl | ParityErr | ProtocolErr
            return _FAIL, 0
        n = self._r(_FIFOLEVEL) & 0x7F
        if n > len(self._rx) - 1:
            return _FAIL, 0
        return (_COLLISION if err & 0x08 else _OK), n

    def _crc(self, data):
        self._w(_COMMAND, _IDLE)
        self._w(_DIVIRQ, 0x04)  # clear CRCIRq
        self._w(_FIFOLEVEL, 0x80)
        self._write_fifo(data)
        self._w(_COMMAND, _CALCCRC)
        ok = self._wait(_DIVIRQ, 0x04)
        self._w(_COMMAND, _IDLE)
        return (self._r(_CRC_L), self._r(_CRC_H)) if ok else None

    def _anticollision(self, sel):
        """UID CLn + BCC of the one card this level selects (collisions: the 1 branch wins)."""
        known = self._uid
        for i in range(5):
            known[i] = 0
        nbits = 0
        self._w(_COLL, 0x00)  # ValuesAfterColl = 0: bits after a collision read as 0
        for _ in range(33):  # each round learns at least one more bit
            nbytes, rem = nbits >> 3, nbits & 7
            frame = bytes((sel, 0x20 + (nbytes << 4) + rem)) + bytes(known[:nbytes + (rem > 0)])
            st, n = self._transceive(frame, (rem << 4) | rem)
            if st in (_NOCARD, _FAIL) or nbytes + n > 5:
                return None
            rx = self._read_fifo(n)
            for i in range(n):
                keep = ((1 << rem) - 1) if i == 0 else 0  # RxAlign: low bits are ours
                known[nbytes + i] = (known[nbytes + i] & keep) | (rx[i] & ~keep & 0xFF)
            if st == _OK:
                bcc = known[0] ^ known[1] ^ known[2] ^ known[3]
                return known if nbytes + n == 5 and bcc == known[4] else None
            coll = self._r(_COLL)
            if coll & 0x20:  # CollPosNotValid
                return None
            bit = nbytes * 8 + ((coll & 0x1F) or 32) - 1  # CollPos counts from the FIFO's first bit
            if bit < nbits or bit >= 32:
                return None
            known[bit >> 3] |= 1 << (bit & 7)
            nbits = bit + 1
        return None

    def read_uid(self):
        """The UID (bytes) of a card in the field, or None."""
        st, n = self._transceive(b"\x26", 0x07)  # REQA, 7 bits
        if st == _NOCARD or n != 2:
            return None
        uid = b""
        for sel in (0x93, 0x95, 0x97):
            cl = self._anticollision(sel)
            if cl is None:
                return None
            frame = bytes((sel, 0x70)) + bytes(cl)
            crc = self._crc(frame)
            if crc is None:
                return None
            st, n = self._transceive(frame + bytes(crc), 0x00)
            if st != _OK or n != 3:  # SAK + CRC_A
                return None
            sak = self._read_fifo(1)[0]
            if cl[0] == 0x88 and sak & 0x04:  # cascade tag: more UID bytes at the next level
                uid += bytes(cl[1:4])
            else:
                uid += bytes(cl[0:4])
                self._halt()
                return uid
        return None

    def _halt(self):
        crc = self._crc(b"\x50\x00")
        if crc:
            self._transceive(bytes((0x50, 0x00) + crc), 0x00)  # no answer expected

    def poll(self, now):
        if not due(now, self._due):
            return None
        self._due = ticks_add(now, self.interval)
        if self.failed:
            self.init()
            return None
        uid = self.read_uid()
        return self.report(uid, now) if uid else None
