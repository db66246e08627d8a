# ChargePoint: one cooperative loop() that drives the link, the connectors, the outgoing
# queue (one call in flight) and the incoming calls.

from . import clock, rpc, validate
from .compat import log, ticks_diff, ticks_ms
from .config import Config
from .connector import Connector, later
from .journal import Journal
from .metering import MEASURANDS, inputs
from .transaction import same

_BOOT = const(0)  # priorities: lower goes first, FIFO within one
_AUTH = const(1)
_NORMAL = const(2)
_LOW = const(3)

# queue entry fields
_PRIO = const(0)
_ACTION = const(1)
_PAYLOAD = const(2)
_CB = const(3)
_TX = const(4)
_AT = const(5)  # ticks when queued

MAX_CONNECTORS = const(32)  # each costs a Connector and a queued status: ~250 B of heap (32-bit)


class ChargePoint:
    def __init__(self, cp_id, transport, store, connectors=1, vendor="mpy_ocpp", model="mpy_ocpp",
                 profiles=(), queue_size=16, call_timeout=30, auth_timeout=10, journal_size=8,
                 versions=None, **boot):
        if not 0 < connectors <= MAX_CONNECTORS:
            raise ValueError("connectors: 1 to %d" % MAX_CONNECTORS)
        self.id = cp_id
        self.transport = transport
        self.store = store
        self.config = cfg = Config(store, self.measurand_ok, connectors)
        cfg.set_default("NumberOfConnectors", connectors)
        cfg.set_default("ConnectorPhaseRotationMaxLength", connectors + 1)
        self.profiles = tuple(profiles)  # 1.6's optional ones (Core is ocpp16's)
        cfg.set_default("SupportedFeatureProfiles", ",".join(
            ["Core"] + [p.PROFILE for p in self.profiles if hasattr(p, "PROFILE")]))
        # profiles: setup(cp) declares their keys and state; loop(cp, now) runs every loop()
        self._loops = tuple([p.loop for p in self.profiles if hasattr(p, "loop")])
        self.connectors = [Connector(self, i) for i in range(connectors + 1)]
        # the profiles' state, set by their setup(); None = the profile is not in this build
        self.local_list = self.reservation = self.smart_charging = self.firmware = self.security = None
        self.trust = None  # f(cp) before each handshake: certificates.trust, where installed
        if not versions:  # imported only then: a 2.0.1-only build carries no 1.6 module
            from . import ocpp16
            versions = (ocpp16,)
        self.versions = versions  # offered in this order; the CSMS picks
        for p in tuple(profiles) + tuple(versions):  # their keys, before the stored values
            if hasattr(p, "setup"):
                p.setup(self)
        cfg.load()
        cfg.on_change = self._config_changed
        for c, a in zip(self.connectors, store.load("availability.json", (), lambda d: type(d) is list and all(
                [type(a) is bool for a in d]))):
            c.available = a
        self.journal = Journal(self, journal_size)
        self._use(versions[0])
        self.v.cache(self)  # read once at boot: a damaged cache file is set aside now
        self._nego = None
        if len(versions) > 1:
            from . import negotiation  # in 2.0.1 builds only
            self._nego = negotiation
            negotiation.setup(self)
        for tx in self.journal.txs:  # running when the power went
            if not tx.stopped and 0 < tx.connector_id <= connectors:
                self.connectors[tx.connector_id].resume(tx)
        self._txe = None  # the journal's message in the queue or in flight
        boot["chargePointVendor"] = vendor
        boot["chargePointModel"] = model
        self.boot = boot
        self.ids = 0  # the last message id's counter
        self.queue = []
        self.queue_size = max(queue_size, connectors + 8)  # a status per connector + boot + room
        self.call_timeout = call_timeout
        self.auth_timeout = auth_timeout  # a silent CSMS: decide on the offline rules after this
        self.pending = None  # (id, entry, sent ticks)
        self.accepted = False  # BootNotification Accepted
        self.online = False
        now = ticks_ms()
        self._boot_due = now
        self._hb_due = now
        self._aligned_due = None
        self.resetting = None  # [hard, deadline ticks, tries] once a Reset was accepted
        # firmware hooks
        self.on_reset = None  # f(hard): restart the charger
        self.on_data_transfer = None  # f(vendor_id, message_id, data) -> (status, data)
        self.on_authorize = None  # f(connector_id, id_tag, status): show the driver the outcome
        self._rekey = False
        self._connect()
        self._set_ping()

    # the loop

    def loop(self):
        t = self.transport
        msg = t.poll()
        if msg is not None:
            msg = self._parse(msg)  # the text is let go: a long one is garbage while handled
            self._dispatch(msg)
        if self._rekey:  # a new AuthorizationKey: reconnect once its answer is out
            self._rekey = False
            self._connect()
        if t.online != self.online:
            self._link(t.online)
        now = ticks_ms()
        for c in self.connectors:
            c.loop(now)
        for f in self._loops:
            f(self, now)
        if not self.accepted:
            if ticks_diff(now, self._boot_due) >= 0 and not self._has("BootNotification"):
                self._boot_due = later(now, 30)  # pushed back again when the answer comes
                self.boot_notification()
        else:
            self._timers(now)
        p = self.pending
        if p is not None and self._late(p[1], p[2], now):
            self._timeout(p[1], p[0])
        for e in self.queue:  # an Authorize not sent in time: the driver waits no longer
            if e[_ACTION] == "Authorize" and self._late(e, 0, now):
                self.queue.remove(e)
                log("Authorize not sent in time")
                self._failed(e)
                break
        if self.online and self.accepted and self._txe is None:
            self._feed(now)
        if self.queue and self.pending is None and self.online:
            self._send_next(now)

    def _late(self, e, sent, now):
        if e[_ACTION] == "Authorize":  # the driver is waiting at the charger
            return ticks_diff(now, e[_AT]) >= self.auth_timeout * 1000
        return ticks_diff(now, sent) >= self.call_timeout * 1000

    def _timeout(self, e, mid):
        """No answer: not an error answer (§4.10 counts those). Silence on a live socket is most
        often a half-open link: a new one is made, and a transaction message goes again on it
        without losing an attempt. (Authorize: the driver's wait ran out; the link may be fine.)"""
        log("call %s %s: no answer" % (e[_ACTION], mid))
        self.pending = None
        if e[_ACTION] != "Authorize":
            self._connect()
        if e is self._txe:
            self._txe = None  # _feed queues the message again once the link is back
        else:
            self._failed(e)

    def _feed(self, now):
        """Queue the journal's oldest owed transaction message once it is due."""
        tx = self.journal.next()
        if tx is None or ticks_diff(now, tx.wait) < 0:
            return
        m = tx.msgs[0]
        if m[1] == "TransactionEvent":
            m[2]["seqNo"] = tx.seqno  # the answered ones: a retry or a resend keeps its number
        elif m[1] != "StartTransaction":
            m[2]["transactionId"] = tx.id  # known: StartTransaction always goes first
        self._txe = [_NORMAL, m[1], m[2], self._tx_answer, tx, now]
        self.queue.append(self._txe)

    def _tx_answer(self, res):
        tx = self._txe[_TX]
        self._txe = None
        if res is None:
            cfg = self.config
            self.journal.failed(tx, cfg["TransactionMessageAttempts"],
                                cfg["TransactionMessageRetryInterval"])
        else:
            self.journal.done(tx, res)

    def _timers(self, now):
        hb = self.config["HeartbeatInterval"]
        if hb and ticks_diff(now, self._hb_due) >= 0:
            self._hb_due = later(now, hb)
            if not self._has("Heartbeat"):
                self.heartbeat()
        if self._aligned_due is not None and ticks_diff(now, self._aligned_due) >= 0:
            for c in self.connectors:  # a clock-aligned sample
                c.sample("MeterValuesAlignedData", "StopTxnAlignedData", "Sample.Clock")
            self._align()
        r = self.resetting
        if r and r[1] is None and not any([c.tx for c in self.connectors]):
            r[1] = later(now, 15)  # 2.0.1 OnIdle: the last transaction has ended
        if r and r[1] is not None and (ticks_diff(now, r[1]) >= 0 or not (self._txe or self.journal.busy())):
            r[1] = later(now, 5)
            r[2] -= 1
            if r[2] < 0 or self.on_reset(r[0]) is not False:
                self.resetting = None

    def _connect(self):
        key = self.config["AuthorizationKey"]  # Basic auth only with a key (profile 1/2)
        self._prepare()
        self.transport.connect(self.id if key else None, key or None)

    def _prepare(self):
        self._offer()
        if self.trust:
            self.trust(self)

    def _offer(self):
        """What the transport offers at its next handshake: every version, but only the one
        in use while the journal holds a transaction made in it (running, or owing messages:
        they can only go in that version)."""
        f = getattr(self.transport, "offer", None)  # optional: without it, versions[0] only
        if f:
            f([v.SUBPROTOCOL for v in ((self.v,) if self.journal.txs else self.versions)])

    def _use(self, v):
        self.v = v
        self.version = v.VERSION
        s = getattr(v, "select", None)  # the version's state (2.0.1 has some)
        if s:
            s(self)

    def _set_ping(self):
        f = getattr(self.transport, "set_ping", None)  # optional in the transport interface
        if f:
            f(self.config["WebSocketPingInterval"])

    def _link(self, online):
        self.online = online
        log("link %s%s" % ("up" if online else "down: ", "" if online else self.transport.error))
        p = self.pending
        if p and not online:
            self.pending = None
            self.queue.insert(0, p[1])  # sent or not, it goes again
        if not online:  # the transport reconnects by itself: set up its next handshake
            self._prepare()
        elif self._nego:
            self._nego.chosen(self, getattr(self.transport, "subprotocol", None))

    # outgoing calls

    def call(self, action, payload, cb=None, prio=_NORMAL):
        """Queue a call; `cb(result_payload or None)` runs when it is answered or given up.
        (Transaction messages do not come here: the journal owes them.)"""
        if len(self.queue) >= self.queue_size and not self._make_room():
            log("queue full, %s dropped" % action)
            return False
        self.queue.append([prio, action, payload, cb, None, ticks_ms()])
        return True

    def _make_room(self):
        """Drop the oldest message that nobody bills from (not a transaction message)."""
        for e in self.queue:
            if e[_TX] is None and e[_PRIO] >= _NORMAL:
                log("queue full, %s dropped" % e[_ACTION])
                self.queue.remove(e)
                self._failed(e)
                return True
        return False

    def _has(self, action):
        p = self.pending
        if p and p[1][_ACTION] == action:
            return True
        for e in self.queue:
            if e[_ACTION] == action:
                return True
        return False

    def _send_next(self, now):
        best = None
        for e in self.queue:
            if not self.accepted and e[_PRIO] != _BOOT:  # BootNotification, triggered messages
                continue
            if best is None or e[_PRIO] < best[_PRIO]:
                best = e
        if best is None:
            return
        payload = best[_PAYLOAD]
        if clock.marked:  # timestamps taken before the clock was known
            clock.fix(payload)
        self.ids += 1
        mid = "%s-%d" % (rpc.PREFIX, self.ids)
        if self._send([rpc.CALL, mid, best[_ACTION], payload]):
            self.queue.remove(best)
            self.pending = (mid, best, now)
            self._hb_due = later(now, self.config["HeartbeatInterval"])

    def _failed(self, e):
        """A call got a CALLERROR or no answer (the journal retries transaction messages)."""
        if e[_CB]:
            e[_CB](None)

    def _answer(self, mid, payload, code):
        p = self.pending
        if p is None or p[0] != mid:
            log("answer to unknown call %s ignored" % mid)
            return
        self.pending = None
        e = p[1]
        if code is None:
            bad = validate.check(e[_ACTION] + "Response", payload, self.v.schema)
            if bad:
                code = bad[0]
                log("%s answer invalid: %s" % (e[_ACTION], bad[1]))
        else:
            log("%s refused: %s" % (e[_ACTION], code))
        if code is not None:
            self._failed(e)
        elif e[_CB]:
            e[_CB](payload)

    # incoming messages

    def receive(self, text):
        """Handle one message from the CSMS: its text as str, or as UTF-8 in a bytearray or a
        list of them (how the transport hands over a long one), or bytes: the head of an
        oversized one."""
        self._dispatch(self._parse(text))

    def _parse(self, text):  # -> the frame to handle, else None (answered or logged here)
        try:
            msg = None
            if type(text) is not bytes and not rpc.too_deep(text):
                try:
                    msg = rpc.loads(rpc.surrogates(text))
                except (ValueError, RuntimeError, MemoryError, OverflowError):  # RecursionError too
                    pass
            if type(msg) is list and len(msg) > 2 and type(msg[1]) is str and type(msg[0]) is int:
                return msg
            big = type(text) is bytes
            if type(text) is not str:  # the head of the bytes (of the first block)
                text = "".join([chr(c) for c in (text[0] if type(text) is list else text)[:80] if c < 128])
            mid = rpc.find_id(text)
            if big:
                log("message too large, dropped" + (" (call %s)" % mid if mid else ""))
            else:
                log("invalid frame: %s" % text[:80])
                self.security_event("InvalidMessages", text[:80])
            if mid is not None:  # "" is an id too
                self.send_error(mid, "FormationViolation",
                                "Message too large" if big else "Not a valid OCPP-J frame")
        except (RuntimeError, MemoryError, OverflowError, ValueError) as e:  # the last line:
            log("message dropped: %r" % e)  # what deep or huge input can raise, anywhere
            if type(e) is MemoryError:
                self.security_event("MemoryExhaustion")
        return None

    def _dispatch(self, msg):
        if msg is None:
            return
        kind, mid = msg[0], msg[1]
        try:
            if kind == rpc.CALL:
                self._incoming(mid, msg)
            elif kind == rpc.CALLRESULT:
                self._answer(mid, msg[2], None)
            elif kind == rpc.CALLERROR:
                self._answer(mid, None, rpc.error_code(msg[2]) if type(msg[2]) is str else "GenericError")
            else:
                log("unknown message type %r" % kind)
        except (RuntimeError, MemoryError, OverflowError, ValueError) as e:
            log("message dropped: %r" % e)

    def _incoming(self, mid, msg):
        if len(msg) != 4 or type(msg[2]) is not str:
            return self.send_error(mid, "ProtocolError", "A CALL has 4 elements")
        action, payload = msg[2], msg[3]
        v = self.v
        if action not in v.ACTIONS:
            return self.send_error(mid, "NotImplemented", "Unknown action %s" % action[:40])
        handler = v.handler(self, action)
        if handler is None:
            return self.send_error(mid, "NotSupported", "%s is not supported" % action)
        bad = validate.check(action, payload, v.schema)
        if bad:
            return self.send_error(mid, bad[0], bad[1])
        try:
            res = handler(self, payload)
        except rpc.CallError as e:
            return self.send_error(mid, e.code, e.description)
        except Exception as e:  # a bug must not stop the charger
            log("%s failed: %r" % (action, e))
            return self.send_error(mid, "InternalError", "")
        try:
            if not self._send([rpc.CALLRESULT, mid, res]):  # no room or memory for it now:
                self.send_error(mid, "InternalError", "")  # a short answer may still go
        except TypeError as e:  # an answer that is not JSON (a bug): nothing of it went out
            log("%s failed: %r" % (action, e))
            self.send_error(mid, "InternalError", "")

    def send_error(self, mid, code, description=""):
        self._send([rpc.CALLERROR, mid, self.v.code(code), description, {}])

    def _send(self, frame):
        """Send an OCPP-J frame (a list). A transport whose class says `json_frames = True`
        (WebSocket) takes the list and writes its JSON text in pieces (a large answer never
        exists whole); any other gets the text (also a wrapper that forwards attributes)."""
        t = self.transport
        if getattr(type(t), "json_frames", False):
            return t.send(frame)
        out = []  # rpc.dump, not json.dumps: a frame may hold a function making a list's items
        rpc.dump(frame, out.append)
        return t.send("".join(out))

    # answers to our calls

    def boot_notification(self):
        self.call("BootNotification", self.v.boot(self), self._booted, prio=_BOOT)

    def heartbeat(self):
        self.call("Heartbeat", {}, self._heartbeat, prio=_LOW)

    def _booted(self, res):
        now = ticks_ms()
        if res is None:
            self._boot_due = later(now, 30)
            return
        self._clock(res["currentTime"])
        interval = res["interval"]
        if res["status"] == "Accepted":
            self.accepted = True
            if interval > 0:
                self.config.values["HeartbeatInterval"] = interval
            self._hb_due = later(now, self.config["HeartbeatInterval"])
            self._align()
        else:
            self._boot_due = later(now, interval if interval > 0 else 30)

    def _heartbeat(self, res):
        if res:
            self._clock(res["currentTime"])

    def _clock(self, text):
        was = clock.known and clock.now()
        if clock.set_iso(text) and (not was or abs(clock.now() - was) > 60):
            self.security_event("SettingSystemTime", text)

    # services for the connectors and the profiles

    def status_notification(self, cid, status, err):
        p = self.v.status(self, cid, status, err)
        if p is None:
            return
        if not (self.online and self.accepted):
            for e in self.queue:  # offline, only the newest status of a connector matters
                q = e[_PAYLOAD]
                if e[_ACTION] == "StatusNotification" and q.get("evseId", q.get("connectorId")) == cid:
                    self.queue.remove(e)
                    break
        self.call("StatusNotification", p)

    def remember(self, id_tag, info, kind=None):
        if self.config["AuthorizationCacheEnabled"] and kind != "Central":  # 2.0.1: never cached
            self.v.cache(self).update(id_tag, info)

    def authorize(self, id_tag, cb, kind="ISO14443"):
        """Decide on an idTag: cache, then the CSMS, then the offline rules. cb(info or None).
        kind: the 2.0.1 idToken type (NoAuthorization: a start button, accepted here)."""
        if kind == "NoAuthorization":
            return cb({"status": "Accepted"})
        cfg = self.config
        info = None
        if self.local_list:  # the Local Authorization List before the cache (a 1.6 profile)
            from .ocpp16 import run_in  # (not self.v's: a 1.6 list serves 2.0.1 too)
            info = run_in("local_auth_list_calls", "lookup", self, id_tag)
        if info is None and cfg["AuthorizationCacheEnabled"]:
            info = self.v.cache(self).lookup(id_tag)
        cached = info is not None and info["status"] == "Accepted"
        if cached and (cfg["LocalPreAuthorize"] if self.online else cfg["LocalAuthorizeOffline"]):
            return cb(info)
        if not self.online or not self.accepted:
            return cb(self._offline(info))

        def done(res):
            if res is None:
                return cb(self._offline(info))
            got = self.v.id_info(res)
            if self.local_list:
                from .ocpp16 import run_in
                run_in("local_auth_list_calls", "check", self, id_tag, got)  # LocalListConflict
            self.remember(id_tag, got, kind)
            cb(got)
        self.call("Authorize", self.v.authorize(id_tag, kind), done, prio=_AUTH)

    def _offline(self, info):
        cfg = self.config
        if info is not None:
            return info if cfg["LocalAuthorizeOffline"] else None
        return {"status": "Accepted"} if cfg["AllowOfflineTxForUnknownId"] else None

    def tag(self, cid, id_tag, kind="ISO14443"):
        """An idTag presented at connector `cid` (0: wherever it fits); kind: its 2.0.1 type."""
        c = self._connector_for(cid, id_tag)
        if c is None:
            log("tag %s: no connector free" % id_tag)
            return False
        if c.tx and same(c.tx.id_tag, id_tag):
            return c.end("Local", id_tag)

        def done(info):
            k = c
            if not cid and info:  # now the parentIdTag is known: a group's reservation counts
                k = self._connector_for(0, id_tag, info.get("parentIdTag")) or c
            status = info["status"] if info else "Invalid"
            if self.on_authorize:
                self.on_authorize(k.id, id_tag, status)
            k.authorized(id_tag, info, kind)
        self.authorize(id_tag, done, kind)
        return True

    def _connector_for(self, cid, id_tag, parent=None):
        """Connector `cid`, or for 0: the one charging `id_tag`, the one reserved for it, else a
        free one (plugged first) that no reservation holds for someone else."""
        cs = self.connectors[1:]
        if cid:
            return cs[cid - 1] if cid <= len(cs) else None
        r = self.reservation
        for c in cs:
            if (c.tx and same(c.tx.id_tag, id_tag)) or (
                    r and r.reserved(c.id) and r.allows(c.id, id_tag, parent)):
                return c
        for want_plug in (True, False):
            for c in cs:
                if not c.tx and not c.session and c.operative and c.status != "Faulted" and (
                        not want_plug or (c.plugged and c.plugged())) and (
                        not r or r.allows(c.id, id_tag, parent)):
                    return c
        return None

    def measurand_ok(self, m, available=True):
        """An OCPP measurand, and (if `available`) one that some connector can measure."""
        for name, _ in MEASURANDS:
            if name == m:
                return not available or any(inputs(c, m) for c in self.connectors)
        return False

    def set_available(self, cid, available):
        """Availability of a connector (0: the charge point); False if a transaction delays it,
        None if it cannot be stored (then nothing changes: a reboot would undo it)."""
        cs = self.connectors if cid == 0 else (self.connectors[cid],)
        k = self.connectors[cid]
        old, k.available = k.available, available
        if not self.store.save("availability.json", [c.available for c in self.connectors]):
            k.available = old
            return None
        return available or not any(c.tx for c in cs)

    def security_event(self, kind, info=None):
        """A security event (the whitepaper's types, e.g. TamperDetectionActivated) for the
        CSMS; nothing without security.py in the build."""
        if self.security:
            self.security.add(kind, info)

    def remote_stop(self, tid):
        """RemoteStopTransaction (1.6), RequestStopTransaction (2.0.1): the status to answer."""
        for c in self.connectors:
            if c.tx and c.tx.id == tid:
                c.end("Remote")
                return "Accepted"
        return "Rejected"

    def trigger(self, f, p):
        """TriggerMessage: f(cp, p) queues the messages asked for and gives the answer. While
        the boot is not Accepted (Pending), what the CSMS triggers is sent all the same."""
        before = self.queue[:]
        res = f(self, p)
        if not self.accepted:
            for e in self.queue:
                if not any([e is b for b in before]):
                    e[_PRIO] = _BOOT  # the only priority that goes before Accepted
        return res

    def data_transfer_in(self, p):
        """A DataTransfer from the CSMS: a module that owns its vendorId (plug_and_charge.py),
        else the firmware's on_data_transfer answers it."""
        for m in self.profiles:
            if getattr(m, "VENDOR", None) == p["vendorId"]:
                return m.data_transfer(self, p)
        if self.on_data_transfer is None:
            return {"status": "UnknownVendorId"}
        status, data = self.on_data_transfer(p["vendorId"], p.get("messageId"), p.get("data"))
        return {"status": status, "data": data} if data is not None else {"status": status}

    def data_transfer(self, vendor_id, message_id=None, data=None, cb=None):
        p = {"vendorId": vendor_id}
        if message_id is not None:
            p["messageId"] = message_id
        if data is not None:
            p["data"] = data
        return self.call("DataTransfer", p, cb)

    def _align(self):
        """Schedule the next clock-aligned sample (ClockAlignedDataInterval)."""
        iv = self.config["ClockAlignedDataInterval"]
        self._aligned_due = later(ticks_ms(), iv - clock.now() % iv) if iv else None

    def _config_changed(self, name):
        v = self.config
        if name == "HeartbeatInterval":
            self._hb_due = later(ticks_ms(), v[name])
        elif name == "ClockAlignedDataInterval":
            self._align()
        elif name == "AuthorizationKey":
            self._rekey = True
            self.security_event("ReconfigurationOfSecurityParameters", name)
        elif name == "WebSocketPingInterval":
            self._set_ping()
        elif name == "MeterValueSampleInterval":  # the next sample at the new interval
            for c in self.connectors:
                c._mv_due = later(ticks_ms(), v[name])
        elif name == "AuthorizationCacheEnabled" and not v[name]:
            self.v.cache(self).clear()
