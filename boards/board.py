# What every board shares: pins by name, buses, Wi-Fi with retries, the clock from NTP, the
# watchdog and the status LED. A board module subclasses Board with its pin map and quirks.
import machine

from mpy_ocpp.compat import log, ticks_add, ticks_ms

from .drivers import due, sleep_ms


class Board:
    NAME = "generic"
    PINS = {}
    WDT_MS = 8000  # the RP2040 cannot go above 8388 ms; every blocking step stays far under
    PILOT_ZERO = 32768  # ADC counts at 0 V on the pilot front-end
    PILOT_SCALE = 24.0 / 65535  # volts per ADC count (-12..+12 V over the ADC range)
    SPI_ID = 0
    I2C_ID = 0
    UART_ID = 1

    def __init__(self, cfg):
        self.cfg = cfg
        self.pins = dict(self.PINS)
        self.pins.update(cfg.get("pins", {}))
        self.wdt = None
        self.app = None  # (app slot, on trial) when main.py runs an installed app bundle
        self.wlan = None
        self._led = None
        self._wifi_due = None
        self._wifi_wait = 5000

    # pins and buses

    def pin_id(self, name):
        """A pin number (or port name like "LED") from the pin map; numbers pass through."""
        return self.pins[name] if name in self.pins else name

    def has(self, name):
        return self.pins.get(name) is not None

    def pin(self, name, mode=machine.Pin.IN, pull=None, value=None):
        p = self.pin_id(name)
        if mode == machine.Pin.OUT:
            return machine.Pin(p, mode, value=0 if value is None else value)
        return machine.Pin(p, mode) if pull is None else machine.Pin(p, mode, pull)

    def adc(self, name):
        return machine.ADC(machine.Pin(self.pin_id(name)))

    def pwm(self, name):
        return machine.PWM(machine.Pin(self.pin_id(name), machine.Pin.OUT, value=1))

    def spi(self):
        return machine.SPI(self.SPI_ID, baudrate=1000000, polarity=0, phase=0,
                           sck=self.pin("spi_sck", machine.Pin.OUT), mosi=self.pin("spi_mosi", machine.Pin.OUT),
                           miso=self.pin("spi_miso"))

    def i2c(self):
        return machine.I2C(self.I2C_ID, scl=machine.Pin(self.pin_id("i2c_scl")),
                           sda=machine.Pin(self.pin_id("i2c_sda")), freq=100000)

    def uart(self, baudrate):
        return machine.UART(self.UART_ID, baudrate=baudrate, bits=8, parity=None, stop=1,
                            tx=machine.Pin(self.pin_id("uart_tx")), rx=machine.Pin(self.pin_id("uart_rx")),
                            timeout=0)

    # watchdog

    def watchdog(self, ms):
        self.wdt = machine.WDT(timeout=min(ms, self.WDT_MS))

    def feed(self):
        if self.wdt:
            self.wdt.feed()

    def wait(self, ms):
        """Sleep `ms` in steps, feeding the watchdog."""
        end = ticks_add(ticks_ms(), ms)
        while not due(ticks_ms(), end):
            self.feed()
            sleep_ms(min(100, ms))

    # Wi-Fi and clock

    def wifi(self, wait_ms=15000):
        """Start Wi-Fi and wait for it at most `wait_ms`; the loop keeps retrying after that."""
        w = self.cfg.get("wifi")
        if not w:
            return True  # wired, or the port brings its own network up
        import network
        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)
        self._connect()
        end = ticks_add(ticks_ms(), wait_ms)
        while not self.wlan.isconnected() and not due(ticks_ms(), end):
            self.wait(100)
        return self.wlan.isconnected()

    def _connect(self):
        w = self.cfg["wifi"]
        log("wifi: connecting to %s" % w["ssid"])
        try:
            self.wlan.connect(w["ssid"], w.get("password", ""))
        except OSError as e:  # ESP32: "Wifi Internal Error" while still trying
            log("wifi: %r" % e)
        self._wifi_due = ticks_add(ticks_ms(), self._wifi_wait)

    def wifi_poll(self, now):
        """Reconnect with backoff (5 s doubling to 60 s) while the link is down; never blocks."""
        if self.wlan is None or self.wlan.isconnected():
            self._wifi_wait = 5000
            return
        if due(now, self._wifi_due):
            self._wifi_wait = min(self._wifi_wait * 2, 60000)
            try:
                self.wlan.disconnect()
            except OSError:
                pass
            self._connect()

    def ntp(self):
        """Set the RTC from NTP (one try, 2 s). Done before the library starts: afterwards the
        CSMS's currentTime keeps the clock (an RTC jump later would skew the library's offset)."""
        host = self.cfg.get("ntp", "pool.ntp.org")
        if not host or (self.wlan is not None and not self.wlan.isconnected()):
            return False
        try:
            import ntptime
            ntptime.host = host
            ntptime.timeout = 2
            ntptime.settime()
            return True
        except (OSError, OverflowError, ImportError) as e:
            log("ntp: %r, the CSMS will set the clock" % e)
            return False

    # status LED

    def led(self, pattern, now):
        """pattern: 0 off, 1 on, else the blink half-period in ms."""
        if not self.has("led"):
            return
        if self._led is None:
            self._led = self.pin("led", machine.Pin.OUT)
        on = pattern == 1 or (pattern > 1 and (now // pattern) & 1)
        if self._led.value() != on:
            self._led.value(on)

    # firmware updates (UpdateFirmware)

    @classmethod
    def chain(cls, cfg, path, stop):
        """Before anything starts: run an app installed by an update instead of this one (-> what
        its run() returns), or None to go on. Only the Pico W has such apps (pico_w.py)."""
        return None

    def ota(self, fw, reboot):
        """Plug this board's install hook (and maybe a download hook) into `fw` (cp.firmware);
        `reboot()` opens the contactors and resets. Without one: InstallationFailed."""

    def running(self):
        """Which app runs (an OTA partition, an app slot), to tell a rollback at boot."""
        return None

    def confirm(self):
        """The CSMS accepted the charge point: keep this app (no rollback at the next reset)."""

    def unique_id(self):
        return "".join(["%02X" % b for b in machine.unique_id()])
