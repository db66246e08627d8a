# Test doubles shared by the plain-assert tests (run on MicroPython and on CPython). A fake
# link is fine for testing one state machine; end-to-end tests use the real CSMS.
import json
import os
import time

from mpy_ocpp import clock

_N = [0]


def state_dir(tag):
    """A new, empty state directory."""
    _N[0] += 1
    pid = os.getpid() if hasattr(os, "getpid") else 0
    return "/tmp/mpy_ocpp_%s_%d_%d_%d" % (tag, pid, time.time(), _N[0])


class Link:
    """A fake transport: keeps the frames the charge point sends (parsed) in `sent` while
    `online`, and hands it the texts a test puts in `inbox`."""

    def __init__(self, online=True):
        self.sent = []
        self.inbox = []
        self.online = online
        self.error = None

    def connect(self, user, password):
        self.creds = (user, password)

    def poll(self):
        return self.inbox.pop(0) if self.inbox else None

    def send(self, text):
        if self.online:
            self.sent.append(json.loads(text))
        return self.online

    def close(self):
        pass


def answer(cp, link, results, n=40):
    """A patient CSMS: n loops of the charge point, each call it has in flight while the link is
    up answered: BootNotification Accepted (with the time), others `results[action]` or {}."""
    for _ in range(n):
        cp.loop()
        p = cp.pending
        if p is None or not link.online:
            continue
        action = p[1][1]
        if action == "BootNotification":
            res = {"status": "Accepted", "currentTime": clock.iso(clock.now()), "interval": 300}
        else:
            res = results.get(action, {})
        link.inbox.append(json.dumps([3, p[0], res]))
