"""Power cuts at every step of a 2-connector session and in the middle of every file write,
against the real CSMS: every transaction reaches it exactly once, in order, with consistent
meter values (see tests_host/powercut.py and docs/RELIABILITY.md)."""
import pytest

from mpy_ocpp import ocpp201
from tests_host import powercut

STEP_CUTS = range(len(powercut.STEPS))
WRITES = 28  # file writes of an uncut session (22 + the index at 3 start and 3 stop answers)


def test_uncut_session(csms, tmp_path):
    s = powercut.Session(csms, str(tmp_path)).run()
    powercut.check(csms)
    assert s.cuts == 0


def test_write_count(csms, tmp_path):
    assert powercut.Session(csms, str(tmp_path)).run().writes[0] == WRITES


@pytest.mark.parametrize("step", STEP_CUTS, ids=[n for n, _ in powercut.STEPS])
def test_cut_before_step(csms, tmp_path, step):
    s = powercut.Session(csms, str(tmp_path), cut_step=step).run()
    assert s.cuts == 1
    powercut.check(csms)


@pytest.mark.parametrize("half", [True, False], ids=["half-written", "written-not-renamed"])
@pytest.mark.parametrize("write", range(1, WRITES + 1))
def test_cut_during_write(csms, tmp_path, write, half):
    s = powercut.Session(csms, str(tmp_path), cut_write=write, half=half).run()
    assert s.cuts == 1
    powercut.check(csms)


# The same session in OCPP 2.0.1: TransactionEvents through the same journal
# ChargingStateChanged events; started.json when the CSMS answers a transaction's first event
# and when the transaction goes (3 transactions)
WRITES_201 = 34


def test_uncut_session_201(csms_factory, tmp_path):
    csms = csms_factory(versions=("ocpp2.0.1",))
    s = powercut.Session(csms, str(tmp_path), version=ocpp201).run()
    powercut.check_201(csms)
    assert s.cuts == 0 and s.writes[0] == WRITES_201


@pytest.mark.parametrize("step", STEP_CUTS, ids=[n for n, _ in powercut.STEPS])
def test_cut_before_step_201(csms_factory, tmp_path, step):
    csms = csms_factory(versions=("ocpp2.0.1",))
    s = powercut.Session(csms, str(tmp_path), cut_step=step, version=ocpp201).run()
    assert s.cuts == 1
    powercut.check_201(csms)


@pytest.mark.parametrize("half", [True, False], ids=["half-written", "written-not-renamed"])
@pytest.mark.parametrize("write", range(1, WRITES_201 + 1))
def test_cut_during_write_201(csms_factory, tmp_path, write, half):
    csms = csms_factory(versions=("ocpp2.0.1",))
    s = powercut.Session(csms, str(tmp_path), cut_write=write, half=half, version=ocpp201).run()
    assert s.cuts == 1
    powercut.check_201(csms)
