"""A stand-in for MicroPython's `machine` on CPython, for the board tests.

The classes keep their state in module-level registries so that a test can reach the same
pin, PWM, ADC or bus the firmware created (`pin(26).out`, `adc(34).source = ...`) and attach
simulated devices (sim_devices.py) to the buses: `attach_spi(bus, cs_pin, dev)`,
`attach_i2c(bus, addr, dev)`, `attach_uart(bus, dev)`. `reset_all()` starts a test afresh.
"""
import threading
import time

_lock = threading.RLock()
_pins = {}
_pwms = {}
_adcs = {}
_spi_devs = {}  # bus id -> [(cs pin id, device)]
_i2c_devs = {}  # bus id -> {address: device}
_uart_devs = {}  # bus id -> device
_uarts = {}
wdts = []
resets = []


def reset_all():
    with _lock:
        for d in (_pins, _pwms, _adcs, _spi_devs, _i2c_devs, _uart_devs, _uarts):
            d.clear()
        del wdts[:]
        del resets[:]


class _PinState:
    def __init__(self, pid):
        self.id = pid
        self.mode = None
        self.out = None  # last level driven
        self.level = 0  # level seen as an input (set by the test / a simulated device)
        self.history = []  # (time.monotonic(), level) of every change driven
        self.irq = None
        self.listeners = []  # f(level) on every write (chip selects)


def pin(pid):
    """The state behind Pin(pid): .out, .level, .history, .mode."""
    with _lock:
        st = _pins.get(pid)
        if st is None:
            st = _pins[pid] = _PinState(pid)
        return st


def edge(pid, n=1):
    """Fire the pin's interrupt handler n times (a simulated input edge)."""
    st = pin(pid)
    for _ in range(n):
        if st.irq:
            st.irq(Pin(pid))


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, pid, mode=-1, pull=-1, value=None):
        self.id = pid
        self._st = pin(pid)
        if mode != -1:
            self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None):
        if mode != -1:
            self._st.mode = mode
        if value is not None:
            self.value(value)

    def value(self, v=None):
        st = self._st
        if v is None:
            return st.out if st.mode == Pin.OUT else st.level
        v = 1 if v else 0
        with _lock:
            if st.out != v:
                st.history.append((time.monotonic(), v))
            st.out = v
            listeners = list(st.listeners)
        for f in listeners:
            f(v)

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=IRQ_RISING):
        self._st.irq = handler

    def __repr__(self):
        return "Pin(%r)" % (self.id,)


def _pid(p):
    return p.id if isinstance(p, Pin) else p


class PWM:
    def __init__(self, p, freq=None, duty_u16=None):
        self.pin = _pid(p)
        self._freq = 0
        self._duty = 0
        self.history = []
        _pwms[self.pin] = self
        if freq is not None:
            self.freq(freq)
        if duty_u16 is not None:
            self.duty_u16(duty_u16)

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        if d != self._duty:
            self.history.append(d)
        self._duty = d

    def deinit(self):
        self._duty = 0


def pwm(pid):
    return _pwms.get(pid)


class ADC:
    ATTN_0DB = 0
    ATTN_11DB = 3

    def __init__(self, p, atten=None):
        self.pin = _pid(p)
        self.source = None  # a callable -> u16, set by the test
        prev = _adcs.get(self.pin)
        if prev is not None:
            self.source = prev.source
        _adcs[self.pin] = self

    def atten(self, a):
        self._atten = a

    def read_u16(self):
        src = _adcs[self.pin].source
        return int(src()) if src else 0


def adc(pid):
    """The ADC on pin `pid` (created by the firmware); set .source to feed it."""
    a = _adcs.get(pid)
    if a is None:
        a = ADC(pid)
    return a


class SPI:
    MSB = 0
    LSB = 1

    def __init__(self, bus_id, baudrate=1000000, polarity=0, phase=0, sck=None, mosi=None, miso=None, **_):
        self.bus = bus_id
        self.baudrate = baudrate

    def _xfer(self, out):
        devs = [d for cs, d in _spi_devs.get(self.bus, ()) if pin(cs).out == 0]
        res = bytearray(len(out))
        for dev in devs:
            for i, b in enumerate(out):
                res[i] |= dev.exchange(b)
        return res

    def write(self, buf):
        self._xfer(bytes(buf))

    def read(self, n, write=0):
        return bytes(self._xfer(bytes([write]) * n))

    def readinto(self, buf, write=0):
        buf[:] = self._xfer(bytes([write]) * len(buf))

    def write_readinto(self, out, into):
        into[:] = self._xfer(bytes(out))


def attach_spi(bus_id, cs, dev):
    """dev.select() / dev.exchange(byte) -> byte / dev.deselect(), framed by chip select `cs`."""
    _spi_devs.setdefault(bus_id, []).append((cs, dev))
    pin(cs).listeners.append(lambda v: dev.deselect() if v else dev.select())


class I2C:
    def __init__(self, bus_id, scl=None, sda=None, freq=400000, **_):
        self.bus = bus_id

    def _dev(self, addr):
        dev = _i2c_devs.get(self.bus, {}).get(addr)
        if dev is None or not getattr(dev, "present", True):
            raise OSError(19)  # ENODEV: no ACK
        return dev

    def scan(self):
        return sorted(a for a, d in _i2c_devs.get(self.bus, {}).items() if getattr(d, "present", True))

    def writeto(self, addr, buf, stop=True):
        self._dev(addr).write(bytes(buf))
        return len(buf)

    def readfrom(self, addr, n, stop=True):
        return bytes(self._dev(addr).read(n))

    def readfrom_into(self, addr, buf, stop=True):
        buf[:] = self._dev(addr).read(len(buf))


def attach_i2c(bus_id, addr, dev):
    """dev.write(bytes) / dev.read(n) -> bytes."""
    _i2c_devs.setdefault(bus_id, {})[addr] = dev


class UART:
    def __init__(self, bus_id, baudrate=9600, bits=8, parity=None, stop=1, tx=None, rx=None, timeout=0, **_):
        self.bus = bus_id
        self.baudrate = baudrate
        self._rx = []  # (deliver at monotonic time, byte)
        self.written = []  # every frame written
        _uarts[bus_id] = self

    def init(self, baudrate=9600, **_):
        self.baudrate = baudrate

    def write(self, buf):
        data = bytes(buf)
        self.written.append(data)
        dev = _uart_devs.get(self.bus)
        if dev is not None:
            dev.received(data, self)
        return len(data)

    def feed(self, data, delay=0.0):
        """Device side: bytes that arrive at the UART's RX after `delay` seconds."""
        at = time.monotonic() + delay
        with _lock:
            self._rx.extend((at, b) for b in data)

    def _ready(self):
        now = time.monotonic()
        n = 0
        for at, _ in self._rx:
            if at > now:
                break
            n += 1
        return n

    def any(self):
        with _lock:
            return self._ready()

    def read(self, n=None):
        with _lock:
            k = self._ready() if n is None else min(n, self._ready())
            if not k:
                return None
            data = bytes(b for _, b in self._rx[:k])
            del self._rx[:k]
            return data

    def readinto(self, buf, n=None):
        data = self.read(len(buf) if n is None else n)
        if not data:
            return None
        buf[:len(data)] = data
        return len(data)

    def flush(self):
        pass

    def txdone(self):
        return True


def attach_uart(bus_id, dev):
    """dev.received(bytes, uart): answer with uart.feed(...)."""
    _uart_devs[bus_id] = dev


def uart(bus_id):
    return _uarts.get(bus_id)


class WDT:
    MAX_MS = 8388  # RP2040: the hardware limit (the ESP32 allows more; the boards stay under)

    def __init__(self, id=0, timeout=5000):
        if not 1 <= timeout <= WDT.MAX_MS:
            raise ValueError("timeout out of range")
        self.timeout = timeout
        self.feeds = []
        wdts.append(self)

    def feed(self):
        self.feeds.append(time.monotonic())


class RTC:
    def datetime(self, t=None):
        return time.gmtime()[:7] + (0,) if t is None else None


def reset():
    resets.append(time.monotonic())


def soft_reset():
    resets.append(time.monotonic())


def unique_id():
    return b"\xe6\x61\x41\x04\x03\x2a\x5c\x2b"


def freq(f=None):
    return 240000000 if f is None else None


def idle():
    time.sleep(0)
