"""Modbus RTU master and the meter maps against simulated meters on the stubbed UART:
request bytes and CRCs for Eastron SDM630/SDM120 and ABB B23, decoded values, exception
replies, a corrupt reply, a silent meter (timeout), the RS-485 direction pin."""
import time

import pytest

from tests_host import boardsim  # noqa: F401  (stubs first on sys.path)

import machine  # noqa: E402
import sim_devices as sd  # noqa: E402
from boards.drivers.meters import Meter  # noqa: E402
from boards.drivers.modbus import BAD_FRAME, TIMEOUT, Master, crc16, request  # noqa: E402
from mpy_ocpp.compat import ticks_ms  # noqa: E402

DE = 4


@pytest.fixture(autouse=True)
def fresh():
    machine.reset_all()
    yield


def bus(model, baud=9600, **kw):
    sim = sd.SimMeter(model, **kw)
    machine.attach_uart(2, sim)
    master = Master(machine.UART(2, baudrate=baud), baud, machine.Pin(DE, machine.Pin.OUT, value=0),
                    timeout_ms=50)
    meter = Meter(model, interval_ms=0)
    master.add(meter)
    return sim, master, meter


def drive(master, until, timeout=3.0):
    end = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < end, "timed out"
        master.poll(ticks_ms())
        time.sleep(0.0005)


def frame(hexbytes):
    b = bytes.fromhex(hexbytes)
    c = crc16(b)
    return b + bytes((c & 0xFF, c >> 8))


def test_crc16_and_request_bytes():
    assert crc16(bytes.fromhex("01030000000a")) == 0xCDC5  # the classic example, sent C5 CD
    assert bytes(request(1, 3, 0x0000, 10)) == bytes.fromhex("01030000000ac5cd")
    assert bytes(request(1, 4, 0x0048, 2)) == frame("010400480002")
    assert crc16(bytes(request(7, 4, 0x0156, 2))) == 0  # a frame with its CRC checks to 0


def test_gap_between_frames():
    assert Master(machine.UART(1), 9600).gap == 6  # 3.5 x 11 bits = 4.0 ms, rounded up, +1 tick
    assert Master(machine.UART(1), 2400).gap == 18
    assert Master(machine.UART(1), 38400).gap == 2  # fixed 1.75 ms above 19200 baud


@pytest.mark.parametrize("model, requests", [
    ("sdm630", ["0104000000 0c", "0104003400 02", "0104004800 02"]),
    ("sdm120", ["0104000000 0e", "0104004800 02"]),
    ("abb_b23", ["0103500000 04", "01035b0000 16"]),
])
def test_meter_map_requests_and_values(model, requests):
    sim, master, meter = bus(model, power=7360.0, wh=123456.7, volts=230.0)
    drive(master, lambda: "wh" in meter.values and "w" in meter.values and "a1" in meter.values)
    assert sim.requests[:len(requests)] == [frame(r.replace(" ", "")) for r in requests]
    assert meter.energy() == pytest.approx(123457, abs=10)  # Wh (B23: 0.01 kWh steps)
    assert isinstance(meter.energy(), int)
    assert meter.power() == pytest.approx(7360.0, abs=0.1)
    phases = 1 if model == "sdm120" else 3
    for i in range(1, phases + 1):
        assert meter.get("v%d" % i) == pytest.approx(230.0, abs=0.1)
        assert meter.get("a%d" % i) == pytest.approx(7360.0 / 230.0 / phases, abs=0.01)
    assert meter.get("v2") is None if phases == 1 else True
    assert meter.error() is None
    # RS-485: DE high while sending, low to receive, once per request
    levels = [v for _, v in machine.pin(DE).history]
    assert levels[:1] == [0] and levels[1:5] == [1, 0, 1, 0]


def test_exception_reply():
    sim, master, meter = bus("sdm630")
    sim.exception = 2  # illegal data address
    drive(master, lambda: meter.failures >= 3)
    assert sim.replies[0] == frame("018402")
    assert meter.last_error == 2
    assert meter.error() == ("PowerMeterFailure", "meter exception 2", "METER", False)
    sim.exception = None
    drive(master, lambda: meter.failures == 0)
    assert meter.error() is None


def test_abb_refuses_unmapped_registers_with_an_exception():
    sim, master, meter = bus("abb_b23")
    sim.regmap = {k: v for k, v in sim.regmap.items() if k != "w"}  # a meter without 0x5B14
    drive(master, lambda: len(sim.replies) >= 2)
    assert sim.replies[1] == frame("018302")
    drive(master, lambda: meter.last_error == 2)


def test_silent_meter_times_out():
    sim, master, meter = bus("sdm120")
    sim.silent = True
    t0 = time.monotonic()
    drive(master, lambda: meter.failures >= 3)
    assert meter.last_error == TIMEOUT
    assert len(sim.requests) >= 6  # every block was asked, each given up after the timeout
    assert meter.error() == ("PowerMeterFailure", "meter no answer", "METER", False)
    assert time.monotonic() - t0 < 3


def test_corrupt_reply_is_rejected():
    sim, master, meter = bus("sdm120", delay=0)
    real = sim.received

    def corrupt(data, uart):
        real(data, machine.UART(9))  # answer into a scratch UART, then damage one byte
        reply = bytearray(machine.uart(9).read() or b"")
        reply[4] ^= 0x01
        uart.feed(bytes(reply))
    sim.received = corrupt
    drive(master, lambda: meter.failures >= 3)
    assert meter.last_error == BAD_FRAME and meter.values == {}


def test_wrong_slave_answer_is_ignored():
    sim, master, meter = bus("sdm630", address=2)  # the meter at 2, we ask 1: nobody answers
    drive(master, lambda: meter.failures >= 1)
    assert meter.last_error == TIMEOUT and sim.replies == []
