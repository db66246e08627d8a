"""A board's main.py on CPython with the stubbed `machine`, against the real local CSMS:
a card on the simulated reader and a simulated EV on the pilot start a transaction, the
simulated meter's energy arrives in MeterValues and StopTransaction, the contactor follows
the permission to charge; welded contacts make the connector Faulted."""
import json
import threading

import pytest

from tests_host import boardsim  # noqa: F401  (stubs first on sys.path)

import machine  # noqa: E402
import network  # noqa: E402
import ntptime  # noqa: E402
import sim_devices as sd  # noqa: E402
from boards import main  # noqa: E402
from boards.esp32_devkit import ESP32DevKit  # noqa: E402
from boards.pico_w import PicoW  # noqa: E402


class Rig:
    """The simulated hardware around one connector of a board, and main.run() in a thread."""

    def __init__(self, board, cfg, tmp_path, reader):
        machine.reset_all()
        del ntptime.calls[:]
        p = self.pins = dict(board.PINS)
        self.ev = sd.SimEV(p["cp_pwm"], board.PILOT_ZERO, board.PILOT_SCALE, noise=0.3, spikes=0.005)
        machine.adc(p["cp_adc"]).source = self.ev.read_u16
        machine.adc(p["pp_adc"]).source = sd.pp_source(220)  # a 32 A cable
        self.welded = False
        # the feedback opto (active low) sees mains behind the contactor
        machine.pin(p["relay_fb"]).level = 1
        machine.pin(p["relay"]).listeners.append(lambda v: self._feedback())
        model = cfg["connectors"][0]["meter"]["model"]
        self.meter = sd.SimMeter(model, power=self._power, wh=1000.0)
        machine.attach_uart(board.UART_ID, self.meter)
        if reader == "mfrc522":
            self.reader = sd.SimMFRC522()
            machine.attach_spi(board.SPI_ID, p["rfid_cs"], self.reader)
        else:
            self.reader = sd.SimPN532()
            machine.attach_i2c(board.I2C_ID, 0x24, self.reader)
        cfg.setdefault("state", str(tmp_path / "state"))
        path = tmp_path / "config.json"
        path.write_text(json.dumps(cfg))
        self.stop = False
        self.error = None
        self.charger = None
        self.thread = threading.Thread(target=self._run, args=(str(path),), daemon=True)
        self.thread.start()

    def _run(self, path):
        try:
            self.charger = main.run(path, stop=lambda: self.stop)
        except BaseException as e:  # noqa: BLE001 - reported by finish()
            self.error = e

    def relay_on(self):
        return machine.pin(self.pins["relay"]).out == 1

    def _feedback(self):
        live = self.welded or self.relay_on()
        machine.pin(self.pins["relay_fb"]).level = 0 if live else 1

    def _power(self):
        return 7360.0 if self.relay_on() and self.ev.state in "CD" else 0.0

    def swipe(self, uid):
        card = sd.Card(bytes.fromhex(uid))
        if isinstance(self.reader, sd.SimMFRC522):
            self.reader.present(card)
        else:
            self.reader.cards = [card]

    def finish(self):
        self.stop = True
        self.thread.join(10)
        assert not self.thread.is_alive()
        if self.error:
            raise self.error
        assert not self.relay_on()  # left off


def config(csms, board, reader, meter, **extra):
    cfg = {"board": board, "wifi": {"ssid": "charger-net", "password": "pw"},
           "csms": {"url": csms.url, "id": "CP_1"}, "vendor": "Acme", "model": "AC22",
           "reader": {"type": reader, "repeat_ms": 300}, "profiles": ["smart_charging"], "modbus": {"baudrate": 9600, "timeout_ms": 100},
           "connectors": [{"feedback": "level", "max_current": 32,
                           "meter": {"model": meter, "address": 1, "interval_ms": 200}}],
           "loop_sleep_ms": 1}
    cfg.update(extra)
    return cfg


def statuses(csms):
    return [(p["status"], p["errorCode"]) for p in csms.received("CP_1", "StatusNotification")
            if p["connectorId"] == 1]


def energy(payload):
    return [float(s["value"]) for mv in payload.get("meterValue", payload.get("transactionData", []))
            for s in mv["sampledValue"] if s.get("measurand", "Energy.Active.Import.Register")
            == "Energy.Active.Import.Register"]


def test_esp32_card_and_ev_charge_session(csms, tmp_path):
    rig = Rig(ESP32DevKit, config(csms, "esp32_devkit", "mfrc522", "sdm630"), tmp_path, "mfrc522")
    try:
        boot = csms.wait_action("CP_1", "BootNotification")
        assert boot["chargePointVendor"] == "Acme" and boot["meterType"] == "sdm630"
        assert boot["firmwareVersion"].endswith("/esp32_devkit")
        csms.wait_for(lambda: ("Available", "NoError") in statuses(csms))
        assert csms.call("CP_1", "ChangeConfiguration",
                         {"key": "MeterValueSampleInterval", "value": "1"}) == {"status": "Accepted"}
        rig.ev.state = "B"  # plugged in, not asking for power yet
        csms.wait_for(lambda: ("Preparing", "NoError") in statuses(csms))
        assert not rig.relay_on()
        rig.swipe("04A2B3C4")
        start = csms.wait_action("CP_1", "StartTransaction")
        assert start["idTag"] == "04A2B3C4" and start["connectorId"] == 1
        assert start["meterStart"] == 1000  # Wh from the meter's import register
        pwm = machine.pwm(rig.pins["cp_pwm"])
        csms.wait_for(lambda: pwm.duty_u16() < 65535, what="PWM on")
        assert pwm.duty_u16() == pytest.approx(0.5333 * 65535, abs=5)  # 32 A
        assert not rig.relay_on()  # state B: the EV does not want power yet
        rig.ev.state = "C"
        csms.wait_for(rig.relay_on, what="contactor closed")
        csms.wait_for(lambda: ("Charging", "NoError") in statuses(csms))
        mvs = csms.wait_action("CP_1", "MeterValues", count=2, where=lambda p: max(energy(p) or [0]) > 1000,
                               timeout=15)
        assert all(p["transactionId"] == 1 for p in mvs)
        # a smart-charging limit reaches the pilot (on_limit): 10 A -> 16.7 % duty
        profile = {"chargingProfileId": 1, "transactionId": 1, "stackLevel": 0,
                   "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
                   "chargingSchedule": {"chargingRateUnit": "A",
                                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}]}}
        assert csms.call("CP_1", "SetChargingProfile",
                         {"connectorId": 1, "csChargingProfiles": profile}) == {"status": "Accepted"}
        csms.wait_for(lambda: abs(pwm.duty_u16() - 0.16667 * 65535) < 5, what="PWM at 10 A")
        rig.swipe("04A2B3C4")  # the same card again stops
        stop = csms.wait_action("CP_1", "StopTransaction")
        assert stop["reason"] == "Local" and stop["idTag"] == "04A2B3C4"
        assert stop["meterStop"] > start["meterStart"]
        assert max(energy(stop)) == stop["meterStop"]
        csms.wait_for(lambda: not rig.relay_on(), what="contactor open")
        levels = [v for _, v in machine.pin(rig.pins["relay"]).history]
        assert levels == [0, 1, 0]  # off at boot, on to charge, off at the end
        rig.ev.state = "A"
        csms.wait_for(lambda: statuses(csms)[-1] == ("Available", "NoError"))
        assert [s for s, _ in statuses(csms)] == [
            "Available", "Preparing", "SuspendedEV", "Charging", "Finishing", "Available"]  # SuspendedEV: in B
        assert csms.violations == []
    finally:
        rig.finish()
    # bring-up: Wi-Fi, NTP tried (times out here: the CSMS set the clock), watchdog fed
    assert network.WLAN.last.connects[0] == ("charger-net", "pw")
    assert ntptime.calls == [("pool.ntp.org", 2)]
    wdt = machine.wdts[0]
    assert wdt.timeout <= 8388 and len(wdt.feeds) > 100


def test_pico_w_pn532_and_welded_contacts(csms, tmp_path):
    rig = Rig(PicoW, config(csms, "pico_w", "pn532", "sdm120"), tmp_path, "pn532")
    try:
        csms.wait_for(lambda: ("Available", "NoError") in statuses(csms))
        rig.ev.state = "C"
        rig.swipe("04112233445566")
        start = csms.wait_action("CP_1", "StartTransaction")
        assert start["idTag"] == "04112233445566"
        csms.wait_for(rig.relay_on, what="contactor closed")
        rig.welded = True  # the contacts weld; the CSMS stops the transaction remotely
        tx = next(iter(csms.transactions))
        assert csms.call("CP_1", "RemoteStopTransaction", {"transactionId": tx}) == {"status": "Accepted"}
        csms.wait_action("CP_1", "StopTransaction")
        csms.wait_for(lambda: not rig.relay_on(), what="relay off")
        rig._feedback()  # still live behind the open contactor: welded
        sn = csms.wait_action("CP_1", "StatusNotification", where=lambda p: p["status"] == "Faulted")
        assert (sn["errorCode"], sn["info"], sn["vendorErrorCode"]) == (
            "PowerSwitchFailure", "welded contacts", "RELAY_WELDED")
        rig.welded = False
        rig._feedback()
        csms.wait_for(lambda: statuses(csms)[-1][0] != "Faulted", what="fault cleared")
        assert csms.violations == []
    finally:
        rig.finish()
    assert machine.wdts[0].timeout <= 8388


def test_unknown_board_is_refused(tmp_path):
    with pytest.raises(ValueError):
        main.board_for({"board": "arduino"})


def test_id_is_percent_encoded_into_the_url(csms, tmp_path):
    cp_id = "CP 1/Zürich#?%"
    cfg = config(csms, "esp32_devkit", "mfrc522", "sdm630")
    cfg["csms"]["id"] = cp_id
    rig = Rig(ESP32DevKit, cfg, tmp_path, "mfrc522")
    try:
        csms.wait_action(cp_id, "BootNotification")
        assert [h["path"] for h in csms.handshakes] == ["/ocpp/CP%201%2FZ%C3%BCrich%23%3F%25"]
    finally:
        rig.finish()


def test_a_factory_csr_gets_the_charge_point_certificate_renewed(csms_factory, tmp_path):
    """csms.csr/csr_key (a key pair made at the factory): the CSMS's signature of it is the
    client certificate from the reconnect on, and after a reboot."""
    from tests_host.test_security import _pki, _sign
    ca, ctx, paths = _pki(tmp_path)
    csms = csms_factory(versions=("ocpp1.6",), ssl_context=ctx)
    cfg = config(csms, "esp32_devkit", "mfrc522", "sdm630", profiles=["security"])
    p = paths["cpython"]
    cfg["csms"].update(ca=p["ca"], client_cert=p["cert"], client_key=p["key"], csr=p["csr"], csr_key=p["csr_key"])
    rig = Rig(ESP32DevKit, cfg, tmp_path, "mfrc522")
    try:
        csms.wait_action("CP_1", "BootNotification")
        first = csms.handshakes[-1]["client_serial"]
        assert csms.call("CP_1", "InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                                                        "certificate": ca.cert_pem.bytes().decode()}) == {
            "status": "Accepted"}
        assert csms.call("CP_1", "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}) == {
            "status": "Accepted"}
        csms.wait_action("CP_1", "SignCertificate")
        chain, serial = _sign(ca, csms.received("CP_1", "SignCertificate")[-1]["csr"])
        assert csms.call("CP_1", "CertificateSigned", {"certificateChain": chain}) == {"status": "Accepted"}
        csms.wait_for(lambda: csms.connect_count("CP_1") == 2, timeout=15, what="a reconnect")
        assert int(csms.handshakes[-1]["client_serial"], 16) == serial != int(first, 16)
    finally:
        rig.finish()
    rig = Rig(ESP32DevKit, cfg, tmp_path, "mfrc522")  # a reboot: the renewed one still
    try:
        csms.wait_for(lambda: csms.connect_count("CP_1") == 3, timeout=15, what="the boot's connection")
        assert int(csms.handshakes[-1]["client_serial"], 16) == serial
    finally:
        rig.finish()
    assert csms.violations == []


def test_the_csms_raises_the_security_profile_to_tls(csms_factory, tls, tmp_path):
    """csms.wss_url: where the board goes when the CSMS raises SecurityProfile to 2."""
    key = "board-key-0123456789"
    plain = csms_factory(versions=("ocpp1.6",), auth={"CP_1": key})
    secure = csms_factory(versions=("ocpp1.6",), auth={"CP_1": key}, ssl_context=tls.server_context)
    cfg = config(plain, "esp32_devkit", "mfrc522", "sdm630", profiles=["security"])
    cfg["csms"].update(authorization_key=key, wss_url=secure.url, ca=tls.ca_pem)
    rig = Rig(ESP32DevKit, cfg, tmp_path, "mfrc522")
    try:
        plain.wait_action("CP_1", "BootNotification")
        change = lambda v: plain.call("CP_1", "ChangeConfiguration", {"key": "SecurityProfile", "value": v})  # noqa: E731
        assert change("3") == {"status": "Rejected"}  # no client certificate configured
        assert change("2") == {"status": "Accepted"}
        secure.wait_for(lambda: secure.connected("CP_1"), timeout=15, what="on the TLS CSMS")
        got = secure.call("CP_1", "GetConfiguration", {"key": ["SecurityProfile"]})
        assert got["configurationKey"][0]["value"] == "2"
    finally:
        rig.finish()
    assert plain.violations == [] and secure.violations == []
