# One connector: the firmware's inputs and outputs, the status machine (OCPP 1.6 §4.9) and
# the transaction running on it. Connector 0 is the charge point itself.
from . import metering
from .compat import log, ticks_add, ticks_diff, ticks_ms
from .transaction import Transaction


def later(now, seconds):
    """A ticks deadline `seconds` from `now` (clamped to what ticks can express)."""
    return ticks_add(now, min(seconds, 500000) * 1000)


class Connector:
    # Defaults at class level: an instance dict holds only what was set (32-bit: 8 B a slot,
    # and MicroPython sizes a dict by its entries). Mutable state is never shared here.
    # inputs: callables read by loop() (None = the charger has no such input)
    plugged = ev_ready = evse_ready = None
    energy = None  # Wh
    power = None  # W
    error = None  # None, "NoError", an error code, or (code, info, vendorErrorCode[, fault])
    occupied = None  # 2.0.1: a parking bay sensor (TxStartPoint ParkingBayOccupancy)
    meters = ()  # more inputs: (measurand, read, phase), see measure()
    # outputs
    on_permission = None  # f(bool): may the EV draw current
    on_limit = None  # f(limit or None), set by Smart Charging
    on_unlock = None  # f() -> bool
    available = True  # as set by ChangeAvailability (persisted by ChargePoint)
    limit = _limit_out = None  # charging limit (A or W per the profile), None = none
    permitted = False
    session = None  # (idTag, parentIdTag, idToken type) authorized, waiting for the cable
    cable_first = False  # the cable was in when the session began
    seen = False  # the cable was in during the transaction (its removal may stop it)
    tx = None
    restored = finishing = False
    status = reported_error = None  # last reported status and error
    live = None  # the status as of the last loop(); reported once it lasted long enough
    _since = _session_at = _mv_due = 0

    def __init__(self, cp, cid):
        self.cp = cp
        self.id = cid

    def measure(self, measurand, read, phase=None):
        """Add a meter input, e.g. measure("Voltage", lambda: v1, "L1-N")."""
        self.meters = self.meters + ((measurand, read, phase),)

    @property
    def operative(self):
        fw = self.cp.firmware  # no new transaction while a firmware image waits to install
        return self.available and self.cp.connectors[0].available and not (fw and fw.installing)

    def _fault(self, err):
        return err is not None and (type(err) is str or len(err) < 4 or err[3])

    def loop(self, now):
        err = self.error() if self.error else None
        if err == "NoError":
            err = None
        fault = self._fault(err)
        if self.id == 0:
            self._report(now, "Faulted" if fault else "Available" if self.available else "Unavailable", err)
            return
        plugged = self.plugged() if self.plugged else self.session is not None or self.tx is not None
        cfg = self.cp.config
        if self.restored:
            self._reconcile(now, plugged)
        if not self.tx and self.operative and not fault and self.cp.v.begins(self, plugged):
            self._start(now)
        tx = self.tx
        if tx and plugged:
            self.seen = True
        if (self.session and not tx or tx and not self.seen) and ticks_diff(
                now, self._session_at) >= cfg["ConnectionTimeOut"] * 1000:
            log("connector %d: no cable within ConnectionTimeOut" % self.id)
            self.session = None
            if tx and self.end("Timeout"):  # 2.0.1, TxStartPoint Authorized
                tx = None
        if tx and self.seen and not plugged and cfg["StopTransactionOnEVSideDisconnect"]:
            self.end("EVDisconnected")
            if cfg["UnlockConnectorOnEVSideDisconnect"] and self.on_unlock:
                self.on_unlock()
            tx = None
        if self.finishing and not plugged:
            self.finishing = False
        evse = self.evse_ready() if self.evse_ready else True
        permitted = (tx is not None and tx.id_tag is not None and plugged and not fault and evse
                     and self.limit != 0
                     and (not tx.deauthorized or self._energy_left(tx)))
        if permitted != self.permitted:
            self.permitted = permitted
            if self.on_permission:
                self.on_permission(permitted)
        if self.limit != self._limit_out:  # set by Smart Charging
            self._limit_out = self.limit
            if self.on_limit:
                self.on_limit(self.limit)
        self._report(now, self._status(plugged, fault, permitted), err)
        if tx and cfg["MeterValueSampleInterval"] and ticks_diff(now, self._mv_due) >= 0:
            self._mv_due = later(now, cfg["MeterValueSampleInterval"])
            self.sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")

    def _reconcile(self, now, plugged):
        """After a power cut: go on charging if the EV is still there, else stop."""
        self.restored = False
        if plugged:
            log("connector %d: transaction resumed after a restart" % self.id)
            self._mv_due = later(now, self.cp.config["MeterValueSampleInterval"])
        else:
            log("connector %d: EV gone while the power was off, transaction stopped" % self.id)
            self.end("PowerLoss")

    def _status(self, plugged, fault, permitted):
        if fault:
            return "Faulted"
        if self.tx:
            if not plugged or (permitted and self.ev_ready and not self.ev_ready()):
                return "SuspendedEV"
            return "Charging" if permitted else "SuspendedEVSE"
        if not self.operative:
            return "Unavailable"
        if self.finishing:
            return "Finishing"
        r = self.cp.reservation
        if r and not self.session and r.reserved(self.id):
            return "Reserved"
        if plugged or self.session:
            return "Preparing"
        return "Available"

    def _report(self, now, status, err):
        """StatusNotification once a new status has lasted MinimumStatusDuration."""
        if status == self.status and err == self.reported_error:
            self.live = status
            return
        if status != self.live:
            self.live = status
            self._since = now
        if ticks_diff(now, self._since) >= self.cp.config["MinimumStatusDuration"] * 1000:
            self.status = status
            self.reported_error = err
            self.cp.status_notification(self.id, status, err)

    def _energy_left(self, tx):
        limit = self.cp.config["MaxEnergyOnInvalidId"]
        return self.energy and self.energy() - tx.meter_start < limit

    def meter(self):
        return int(self.energy()) if self.energy else 0

    # sessions and transactions

    def authorized(self, id_tag, info, kind=None):
        """The outcome of an authorization at this connector (info None = refused)."""
        ok = info is not None and info.get("status") == "Accepted"
        parent = info and info.get("parentIdTag")
        if self.tx:
            if self.tx.id_tag is None:  # 2.0.1: started before its idToken
                if ok:
                    self.cp.v.authorized(self, self.tx, id_tag, parent, kind)
            elif ok and self.tx.matches(id_tag, parent):
                self.end("Local", id_tag)
            return
        r = self.cp.reservation
        if ok and r and not r.allows(self.id, id_tag, parent):
            log("connector %d is reserved for another idTag" % self.id)
            ok = False
        if ok and self.operative and not self.session:
            self.begin(id_tag, parent, kind)

    def begin(self, id_tag, parent=None, kind=None):
        """Authorize a transaction: it starts as soon as the cable is in (1.6; 2.0.1: its
        TxStartPoint). kind: the 2.0.1 idToken type (None: ISO14443)."""
        if self.tx or self.id == 0:
            return False
        self.session = (id_tag, parent, kind)
        self.cable_first = not self.plugged or self.plugged()
        self._session_at = ticks_ms()
        return True

    def _start(self, now):
        id_tag, parent, kind = self.session or (None, None, None)
        cp = self.cp
        journal = cp.journal
        allow = cp.config["AllowChargingWhenJournalFull"]
        full = not journal.room(self.id)
        tx = Transaction(self.id, id_tag, parent, self.meter())
        tx.kind = kind
        r = cp.reservation
        tx.reservation = r.use(self.id, id_tag, parent) if r and id_tag else None
        tx.add(metering.sample(self, cp.config["StopTxnSampledData"], "Transaction.Begin", True))
        action, p = cp.v.started(self, tx)
        self.session = None
        if full and allow:
            log("connector %d: the journal is full, charging without reporting" % self.id)
            tx.unreported = True
        # on flash before the relay closes; a flash that cannot take it is a full journal (if
        # allowed, the transaction goes on in RAM: reported while the charger stays powered)
        elif full or not (journal.add(tx, action, p) or allow):
            journal.forget(tx)
            log("connector %d: transaction refused, the journal is full" % self.id)
            if cp.on_authorize:
                cp.on_authorize(self.id, id_tag, "JournalFull")
            return
        d = tx.data
        if d and d[0]["sampledValue"][-1].get("format"):  # a signed start reading
            from .signed_meter_values import begun
            begun(self, tx)
        if tx.reservation is not None:
            r.cancel(tx.reservation)  # fulfilled
        self.finishing = False
        self.seen = False
        self._session_at = now  # from the start: EVConnectionTimeOut without a cable
        self.tx = tx
        self._mv_due = later(now, cp.config["MeterValueSampleInterval"])

    def started(self, tx, info):
        """The CSMS confirmed the StartTransaction of `tx` with this idTagInfo."""
        cp = self.cp
        if cp.local_list:  # LocalListConflict, as for Authorize
            from .ocpp16 import run_in
            run_in("local_auth_list_calls", "check", cp, tx.id_tag, info)
        cp.remember(tx.id_tag, info, tx.kind)
        if info["status"] != "Accepted":
            tx.deauthorized = True
            if self.tx is tx and cp.config["StopTransactionOnInvalidId"]:
                self.end("DeAuthorized")

    def resume(self, tx):
        """A transaction that was running when the power went: reconciled on the first loop()."""
        self.tx = tx
        self.restored = True

    def end(self, reason="Local", id_tag=None):
        """Stop the transaction (StopTransaction reason); False if none runs."""
        tx = self.tx
        if tx is None:
            if self.session:
                self.session = None
                return True
            return False
        self.tx = None
        self.finishing = True
        tx.add(metering.sample(self, self.cp.config["StopTxnSampledData"], "Transaction.End", True))
        action, p = self.cp.v.stopped(self, tx, reason, id_tag)
        tx.stopped = True
        if tx.lost or tx.unreported:
            self.cp.journal.forget(tx)
        else:
            self.cp.journal.push(tx, action, p)
        return True

    def sample(self, key, stop_key, context):
        """Send a MeterValues of the measurands in config `key`; keep `stop_key` ones for Stop.
        False if the connector has none of those measurands."""
        cfg = self.cp.config
        tx = self.tx
        mv = metering.sample(self, cfg[key], context, True)
        if tx and stop_key:
            tx.add(metering.sample(self, cfg[stop_key], context))
        if mv:
            a, p = self.cp.v.metered(self, tx, mv)
            if tx:
                self.cp.journal.push(tx, a, p)  # saves the stop data too
            else:
                self.cp.call(a, p)
        elif tx and stop_key:
            self.cp.journal.save(tx)
        return mv is not None

    def unlock(self):
        """UnlockConnector: stop the transaction, then release the cable."""
        self.end("UnlockCommand")
        if self.on_unlock is None:
            return "NotSupported"
        return "Unlocked" if self.on_unlock() else "UnlockFailed"

