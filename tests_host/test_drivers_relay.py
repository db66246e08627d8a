"""Contactor driver with feedback: off at construction, welded contacts (live while off),
a contactor that does not close, the settling time, both feedback kinds."""
import pytest

from tests_host import boardsim  # noqa: F401  (stubs first on sys.path)

import machine  # noqa: E402
from boards.drivers.relay import NOT_CLOSED, WELDED, LevelSense, MainsSense, Relay  # noqa: E402
from mpy_ocpp.compat import ticks_add, ticks_ms  # noqa: E402

RELAY, FB = 26, 27


@pytest.fixture(autouse=True)
def fresh():
    machine.reset_all()
    yield


def relay(active=1, fb_active=0, settle_ms=300):
    r = Relay(machine.Pin(RELAY, machine.Pin.OUT, value=1 - active),
              LevelSense(machine.Pin(FB, machine.Pin.IN), fb_active), active, settle_ms)
    live(False, fb_active)
    return r


def live(on, fb_active=0):
    machine.pin(FB).level = fb_active if on else 1 - fb_active


def later(ms):
    return ticks_add(ticks_ms(), ms)


def test_off_at_boot_active_high_and_low():
    Relay(machine.Pin(RELAY, machine.Pin.OUT, value=0))
    assert machine.pin(RELAY).out == 0
    Relay(machine.Pin(33, machine.Pin.OUT, value=1), active=0)  # active-low relay module
    assert machine.pin(33).history == [(machine.pin(33).history[0][0], 1)]  # never pulled low


def test_relay_follows_set():
    r = relay()
    r.set(True)
    assert machine.pin(RELAY).out == 1 and r.on
    r.set(False)
    assert machine.pin(RELAY).out == 0 and not r.on


def test_welded_contacts_are_a_power_switch_failure():
    r = relay()
    r.set(True)
    live(True)
    r.poll(later(400))
    assert r.error() is None
    r.set(False)
    r.poll(later(100))  # the contacts are still moving: not judged yet
    assert r.error() is None
    r.poll(later(400))  # still live 300 ms after opening: welded
    assert r.error() == WELDED == ("PowerSwitchFailure", "welded contacts", "RELAY_WELDED")
    assert len(WELDED) == 3  # the 3-tuple form: the connector goes Faulted
    live(False)  # the contacts came free
    r.poll(later(500))
    assert r.error() is None


def test_contactor_that_does_not_close_is_latched_and_opened():
    r = relay()
    r.set(True)
    r.poll(later(400))  # no voltage behind a closed contactor
    assert r.error() == NOT_CLOSED and not r.on and machine.pin(RELAY).out == 0
    r.poll(later(800))
    assert r.error() == NOT_CLOSED  # latched: a new try needs clear() (the board: on unplug)
    r.clear()
    assert r.error() is None


def test_mains_sense_counts_edges():
    s = MainsSense(machine.Pin(FB, machine.Pin.IN), window_ms=100, min_edges=3)
    r = Relay(machine.Pin(RELAY, machine.Pin.OUT, value=0), s, settle_ms=0)
    machine.edge(FB, 5)  # 50 Hz keeps coming while the relay is off
    r.poll(later(150))
    assert r.error() == WELDED
    r.poll(later(300))  # no edges in the next window: dead
    assert r.error() is None
    r.set(True)
    machine.edge(FB, 5)
    r.poll(later(450))
    assert r.error() is None


def test_no_feedback_no_judgement():
    r = Relay(machine.Pin(RELAY, machine.Pin.OUT, value=0))
    r.set(True)
    r.poll(later(1000))
    assert r.error() is None
