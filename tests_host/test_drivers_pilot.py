"""IEC 61851 control pilot and proximity pilot against a simulated EV on the stubbed ADC:
every state A-F with noisy readings and spikes, hysteresis, N-of-M debouncing, the PWM duty
for the offered current, the missing-diode check, and the proximity cable rating."""
import pytest

from tests_host import boardsim  # noqa: F401  (stubs first on sys.path)

import machine  # noqa: E402
import sim_devices as sd  # noqa: E402
from boards.drivers.pilot import FULL, Pilot, amps_for, cable_amps, duty_percent  # noqa: E402

PWM_PIN, ADC_PIN, PP_PIN = 25, 34, 35


@pytest.fixture(autouse=True)
def fresh():
    machine.reset_all()
    yield


def setup(noise=0.3, spikes=0.01, pp_ohms=220, **kw):
    p = Pilot(machine.PWM(machine.Pin(PWM_PIN)), machine.ADC(machine.Pin(ADC_PIN)),
              machine.ADC(machine.Pin(PP_PIN)), **kw)
    ev = sd.SimEV(PWM_PIN, p.zero, p.scale, noise=noise, spikes=spikes)
    machine.adc(ADC_PIN).source = ev.read_u16
    machine.adc(PP_PIN).source = sd.pp_source(pp_ohms)
    return p, ev


class Clock:
    t = 0


def bursts(p, n):
    for _ in range(n):
        Clock.t += p.period
        p.poll(Clock.t)


def duty(p):
    return machine.pwm(PWM_PIN).duty_u16() * 100 / FULL


def test_duty_cycle_formula():
    assert duty_percent(6) == pytest.approx(10)
    assert duty_percent(16) == pytest.approx(26.667, abs=0.01)
    assert duty_percent(32) == pytest.approx(53.333, abs=0.01)
    assert duty_percent(51) == pytest.approx(85)
    assert duty_percent(63) == pytest.approx(89.2)
    assert duty_percent(80) == pytest.approx(96)
    for a in (6, 10, 13, 16, 20, 32, 40, 51, 63, 80):
        assert amps_for(duty_percent(a)) == pytest.approx(a)


def test_proximity_ratings():
    assert [cable_amps(r) for r in (1500, 680, 220, 100)] == [13, 20, 32, 63]  # nominal resistors
    assert [cable_amps(r) for r in (1000, 999, 330, 329, 150, 149)] == [13, 20, 20, 32, 32, 63]
    assert cable_amps(10001) == 0 and cable_amps(10000) == 13


@pytest.mark.parametrize("state, plugged, ready, error", [
    ("A", False, False, None),
    ("B", True, False, None),
    ("C", True, True, None),
    ("D", True, True, None),
    ("E", False, False, ("EVCommunicationError", "pilot state E (CP shorted)", "CP_E", False)),
    ("F", False, False, ("EVCommunicationError", "pilot state F", "CP_F", False)),
])
def test_states_with_noise(state, plugged, ready, error):
    p, ev = setup()
    p.enabled = True  # PWM on when the EV is there: the low half must not confuse the reading
    bursts(p, 10)
    assert p.state == "A"
    ev.state = state
    bursts(p, 10)
    assert p.state == state
    assert (p.plugged(), p.ev_ready(), p.error()) == (plugged, ready, error)


def test_walk_through_a_session_never_flaps():
    p, ev = setup(noise=0.5, spikes=0.02)
    seen = []
    raw_differs = 0
    for st in "ABCBCDCBAEAFA":
        ev.state = st
        for i in range(25):
            if i % 8 == 7:  # a 1.5 ms disturbance: up to 2 bursts read a wrong state
                ev.glitch(3.0 if st in "DEF" else -3.0, 0.0015)
            bursts(p, 1)
            raw_differs += p.classify(p.high) != st
            if not seen or seen[-1] != p.state:
                seen.append(p.state)
        p.enabled = p.plugged()
    assert "".join(seen) == "?ABCBCDCBAEAFA"  # every change seen once, no flapping
    assert raw_differs > 0  # the disturbances did produce wrong single readings


def test_hysteresis_holds_a_level_near_a_threshold():
    p, ev = setup(noise=0.2, spikes=0)
    ev.state = "B"
    bursts(p, 10)
    assert p.state == "B"
    ev.HIGH = dict(ev.HIGH, B=7.35)  # below the 7.5 V threshold, inside the 0.4 V hysteresis
    bursts(p, 30)
    assert p.state == "B"
    ev.HIGH = dict(ev.HIGH, B=6.6)
    bursts(p, 10)
    assert p.state == "C"
    ev.HIGH = dict(ev.HIGH, B=7.7)  # back above the threshold, but within C's hysteresis
    bursts(p, 30)
    assert p.state == "C"


def test_n_of_m_debouncing():
    p, ev = setup(noise=0, spikes=0)
    ev.state = "B"
    bursts(p, 5)
    for s in "CBCBC":  # never 4 of the last 5
        p._debounce(s)
    assert p.state == "B"
    for s in "CC":
        p._debounce(s)
    assert p.state == "C"


def test_pwm_offers_min_of_cable_installation_and_limit():
    p, ev = setup(pp_ohms=220, max_amps=32)  # 32 A cable
    ev.state = "B"
    bursts(p, 10)
    assert duty(p) == 100  # no permission: steady +12 V
    p.enabled = True
    bursts(p, 1)
    assert duty(p) == pytest.approx(53.33, abs=0.01)  # 32 A
    assert machine.pwm(PWM_PIN).freq() == 1000
    p.set_limit(10)
    bursts(p, 1)
    assert duty(p) == pytest.approx(16.67, abs=0.01)
    assert p.current_offered() == 10
    p.set_limit(4)  # below 6 A: nothing can be offered -> pause
    bursts(p, 1)
    assert duty(p) == 100 and not p.evse_ready()
    p.set_limit(None)
    machine.adc(PP_PIN).source = sd.pp_source(1500)  # a 13 A cable
    bursts(p, 1)
    assert duty(p) == pytest.approx(21.67, abs=0.01)
    machine.adc(PP_PIN).source = sd.pp_source(None)  # no cable in the socket
    bursts(p, 1)
    assert duty(p) == 100 and p.offered() == 0


def test_tethered_cable_and_ventilation():
    p, ev = setup(cable=16, max_amps=32)
    p.pp = None
    ev.state = "D"
    bursts(p, 10)
    assert p.offered() == 16 and p.ev_ready()
    assert not p.evse_ready()  # D asks for ventilation, which this site does not have
    p.ventilation = True
    assert p.evse_ready()


def test_missing_diode_is_detected_and_latched_until_unplugged():
    p, ev = setup()
    ev.diode = False
    ev.state = "B"
    bursts(p, 10)
    assert p.error() is None  # no PWM yet: nothing to check
    p.enabled = True
    ev.state = "C"
    bursts(p, 10)
    assert p.diode_fault
    assert p.error() == ("EVCommunicationError", "EV diode missing", "CP_DIODE", False)
    assert duty(p) == 100 and not p.evse_ready()
    ev.diode = True
    bursts(p, 10)
    assert p.diode_fault  # latched while the EV stays
    ev.state = "A"
    bursts(p, 10)
    assert not p.diode_fault and p.error() is None
