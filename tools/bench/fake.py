# An in-memory transport that plays the CSMS for the benchmarks (the wasm port has no
# sockets). tools/bench.py pastes this file in front of the scripts that use it, so it runs
# on MicroPython (wasm, unix) and CPython alike. A CALL from the charge point is answered on
# the next poll(); CSMS-initiated calls are queued with push() and their answers kept.
_ANSWERS = {
    "BootNotification": '{"status":"Accepted","currentTime":"2026-11-21T12:00:00Z","interval":300}',
    "Heartbeat": '{"currentTime":"2026-11-21T12:00:00Z"}',
    "Authorize": '{"idTagInfo":{"status":"Accepted"}}',
    "StartTransaction": '{"transactionId":4711,"idTagInfo":{"status":"Accepted"}}',
    "StopTransaction": '{"idTagInfo":{"status":"Accepted"}}',
    "DataTransfer": '{"status":"Accepted"}',
}
_ANSWERS_201 = dict(_ANSWERS)  # the same for 2.0.1 but Authorize (TransactionEvent: {})
_ANSWERS_201["Authorize"] = '{"idTokenInfo":{"status":"Accepted"}}'


class FakeCSMS:
    def __init__(self, v201=False):
        self.answers = _ANSWERS_201 if v201 else _ANSWERS
        self.online = False
        self.error = None
        self.inbox = []  # frames for poll()
        self.sent = 0  # frames the charge point sent
        self.received = 0  # frames poll() handed out
        self.reply = 0  # length of the charge point's last answer to a pushed call

    def connect(self, user, password):
        self.online = True

    def close(self):
        self.online = False

    def push(self, frame):
        self.inbox.append(frame)

    def send(self, text):
        self.sent += 1
        if text[1] == "2":  # [2, "id", "Action", {...}]: answer it
            i = text.index('"')
            j = text.index('"', i + 1)
            k = text.index('"', j + 1)
            body = self.answers.get(text[k + 1:text.index('"', k + 1)], "{}")
            self.inbox.append('[3,"%s",%s]' % (text[i + 1:j], body))
        else:
            self.reply = len(text)  # not kept: it would count as the charge point's heap
        return True

    def poll(self):
        if self.inbox:
            self.received += 1
            return self.inbox.pop(0)
        return None

    def busy(self):
        return bool(self.inbox)


class Cable:
    """A connector's cable and meter: inputs for one Connector."""

    def __init__(self, c):
        self.in_ = False
        self.wh = 1000
        c.plugged = self.plugged
        c.ev_ready = self.yes
        c.energy = self.energy
        c.power = self.power
        c.error = self.no_error
        c.on_permission = self.relay

    def plugged(self):
        return self.in_

    def yes(self):
        return True

    def energy(self):
        return self.wh

    def power(self):
        return 7400

    def no_error(self):
        return None

    def relay(self, on):
        pass


def settle(cp, link, limit=200):
    """loop() until the queue is empty, nothing is in flight and nothing is to be answered."""
    for _ in range(limit):
        cp.loop()
        if not cp.queue and cp.pending is None and not link.busy():
            return True
    return False


def profile_modules(names):
    """The feature-profile modules of this build (those that import)."""
    import sys
    found = []
    for n in names:
        try:
            __import__("mpy_ocpp." + n)
        except ImportError as e:
            if n not in str(e):
                raise
            continue
        found.append(sys.modules["mpy_ocpp." + n])
    return tuple(found)
