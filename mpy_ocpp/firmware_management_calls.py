# Firmware Management's machine, and what its calls do (firmware_management.py has the hooks,
# the state and the calls' entry points): UpdateFirmware and GetDiagnostics, then the update
# and the upload step by step from loop(), and the default hooks. Firmware.machine() imports
# it when a call, a trigger or a record at boot needs it, and lets it go once nothing runs:
# frozen, an idle charger holds none of its functions. Its functions take the Firmware as `self`.
import json

from . import clock
from .compat import log, ticks_diff, ticks_ms
from .connector import later
from .firmware_management import _FILE, _SIGNED
from .store import rm, rows

_RETRIES = const(2)
_INTERVAL = const(30)
_NOTIFY_WAIT = const(30)  # s to wait for Installing to reach the CSMS before installing
_MAX_TRIES = const(10)  # per transfer, whatever `retries` says
_CLOCK_CHECK = const(60)  # s between looks at the wall clock while waiting for retrieveDate
_BUSY = ("Downloading", "Downloaded", "SignatureVerified", "Installing")  # a trigger gets Idle otherwise
_FINAL = ("DownloadFailed", "Installed", "InstallationFailed", "InvalidSignature")

# update states (Firmware._st)
_IDLE = const(0)
_GET = const(1)  # waiting for the retrieve date / the next try, or downloading
_READY = const(2)  # downloaded: waiting for the transactions to end
_NOTIFY = const(3)  # Installing queued: waiting for its answer (the hook may reboot)
_INSTALL = const(4)
_REPORT = const(5)  # a final status from before a reboot to send
_VERIFY = const(6)  # a signed update's image: its signature checked, a block per loop()


def _begin(hook, name, *args):  # -> True/False or a job
    if hook is None:
        log("firmware: no %s hook" % name)
        return False
    try:
        return hook(*args)
    except Exception as e:  # the firmware's code must not stop the charger
        log("firmware: hook failed: %r" % e)
        return False


def _poll(job):  # -> None while busy, else True/False
    if job is True or job is False:
        return job
    try:
        r = job.step() if hasattr(job, "step") else next(job)
    except StopIteration as e:
        r = bool(e.args and e.args[0])
    except Exception as e:
        log("firmware: hook failed: %r" % e)
        r = False
    if r is None:
        return None
    if not r and getattr(job, "error", None):  # http.Transfer says why (URLs may hold passwords)
        log("firmware: " + job.error)
    return bool(r)


def _close(job):
    c = getattr(job, "close", None)
    if c:
        c()


def hook(self, name, default):
    """The firmware's hook `name`, else (None) `default` for this Firmware."""
    return getattr(self, name) or (lambda *a: default(self, *a))


# the default hooks

def _transfer(self, url, path, put, sink=None):
    from . import http  # only loaded when a default hook runs

    ctx = None
    if self.ca is None and self.verify:
        ctx = getattr(self.cp.transport, "ctx", None)  # trust what the wss:// link trusts
    return http.Transfer(url, path, put, self.ca, self.verify, ctx, self.chunk, sink=sink)


def http_download(self, url, path, sink=None):  # sink (write/close): the body, not into `path`
    return _transfer(self, url, path, False, sink)


def http_upload(self, url, path):
    if url[-1:] == "/":
        url += path.rsplit("/", 1)[-1]
    return _transfer(self, url, path, True)


def diagnostics_file(self, start=None, stop=None):
    cp = self.cp
    now = clock.iso()
    path = "%s/%s_%s.txt" % (cp.store.path, cp.id, now.replace("-", "").replace(":", ""))
    try:
        with open(path, "w") as f:
            f.write("mpy_ocpp diagnostics of %s at %s (asked for %s to %s)\n" % (cp.id, now, start, stop))
            f.write("boot %s\nonline %s accepted %s firmware %s\n" % (
                json.dumps(cp.boot), cp.online, cp.accepted, self.firmware_status))
            for c in cp.connectors:
                f.write("connector %d %s %s transaction %s\n" % (
                    c.id, c.status, c.reported_error, c.tx.id if c.tx else None))
            for k in cp.config.get_configuration(None)["configurationKey"]():
                f.write("%s=%s\n" % (k["key"], k["value"]))
    except OSError:  # flash full: no diagnostics (the caller logs it), no stray file
        rm(path)
        raise
    self._tmp = path
    return path


def _record_ok(r):
    """The shape of what Firmware writes in _FILE."""
    return (rows([r], str, str, int, int, int) and r[0] == "get" or r in (["ready"], ["install"])
            or rows([r], str, str) and r[0] == "done" and r[1] in _FINAL)


class _Tries:
    """A transfer tried `tries` times, `interval` s apart, not before `at` (wall clock)."""

    def __init__(self, url, at, tries, interval):
        # a CSMS asking for 2**31 tries, or a negative interval, must not hammer the server
        self.url, self.at = url, at
        self.tries, self.interval = min(max(tries, 1), _MAX_TRIES), max(interval, 0)
        self.job = None
        self.first = True
        self.due = ticks_ms()

    def step(self, now, name, default, path, on_try, f):
        """None while waiting or busy, then True, or False once the last try failed. Each try
        runs Firmware f's hook `name` (else `default`), looked up then: a loop() that waits
        allocates nothing."""
        job = self.job
        if job is None:
            if ticks_diff(now, self.due) < 0:
                return None
            if self.at:  # the clock may still be set by the CSMS: look again now and then
                left = self.at - clock.now()
                if left > 0:
                    self.due = later(now, min(left, _CLOCK_CHECK))
                    return None
                self.at = 0
            self.tries -= 1
            on_try(f, self.first)
            self.first = False
            self.job = _begin(hook(f, name, default), "transfer", self.url, path)
            return None
        r = _poll(job)
        if r is None:
            return None
        self.job = None
        if r or self.tries <= 0:
            return r
        log("firmware: try failed, %d more, the next in %d s" % (self.tries, self.interval))
        self.due = later(now, self.interval)
        return None


def UpdateFirmware(cp, p):
    update(cp.firmware, p["location"], clock.parse(p["retrieveDate"]), p.get("retries", _RETRIES),
           p.get("retryInterval", _INTERVAL))
    return {}


def _resume(self, rec):
    kind = rec[0]
    if kind == "get":
        self._get = _Tries(rec[1], rec[2], rec[3], rec[4])
        self._st = _GET
    elif kind == "ready":
        self._st = _READY
        self.installing = True
    else:  # Installing when the board went down: the install hook rebooted it
        self._final = rec[1] if kind == "done" else "Installed"
        self._st = _REPORT


def notify_firmware(self, signed=False):
    """A trigger's status message: the update's (signed or not) or Idle; `signed`
    (ExtendedTriggerMessage): a SignedFirmwareStatusNotification even when none runs."""
    s = self.firmware_status
    s = s if s in _BUSY else "Idle"
    if signed and not self._sig:
        self.cp.call("SignedFirmwareStatusNotification", {"status": s})
    else:
        _send(self, s)


def notify_diagnostics(self):
    _send_diag(self, "Uploading" if self._diag and self._req is None else "Idle", None)


def update(self, url, at, retries, interval, sig=None):
    """UpdateFirmware; sig: SignedUpdateFirmware's [requestId, signature, certificate].
    -> False if an update is installing (ignored)."""
    if self._st in (_NOTIFY, _INSTALL):
        log("firmware: update ignored, an update is installing")
        return False
    if self._get or self._job:
        _close(self._get.job if self._get else self._job)
        self._job = None
    self._sig = sig
    if sig:
        self.cp.store.save(_SIGNED, sig)
    else:
        self.cp.store.remove(_SIGNED)
    self.installing = False
    if self.firmware_status in _BUSY:
        self.firmware_status = "Idle"  # that update is abandoned
    self._get = _Tries(url, at or 0, retries + 1, interval)
    self._st = _GET
    _save(self)
    return True


def _save(self):
    t = self._get
    self.cp.store.save(_FILE, ["get", t.url, t.at, t.tries, t.interval])


def _update(self, now):
    st = self._st
    if st == _GET:
        r = self._get.step(now, "download", http_download, self.image, _try_download, self)
        if r is None:
            return
        self._get = None
        if not r:
            return _finish(self, "DownloadFailed")
        _send(self, "Downloaded")
        if self._sig:  # the signature first; a reboot meanwhile downloads again
            self._st = _VERIFY
            sec = self.cp.security  # a build without it cannot check: InvalidSignature
            self._job = sec.check_image(self) if sec else False
        else:
            _ready(self)
    elif st == _VERIFY:
        r = _poll(self._job)
        if r is not None:
            self._job = None
            if r:
                _send(self, "SignatureVerified")
                _ready(self)
            else:
                self.cp.security_event("InvalidFirmwareSignature")
                _finish(self, "InvalidSignature")
    elif st == _READY:
        if not _busy(self):
            if not self.cp.store.save(_FILE, ["install"]):  # unrecorded, the reboot of a
                return _finish(self, "InstallationFailed")  # good install would install again
            self._st = _NOTIFY
            self._due = later(now, _NOTIFY_WAIT)
            _send(self, "Installing", _notified(self))
    elif st == _NOTIFY:
        if ticks_diff(now, self._due) >= 0:
            self._st = _INSTALL
            self._job = _begin(self.install, "install", self.image)
    elif st == _INSTALL:
        r = _poll(self._job)
        if r is not None:
            self._job = None
            _finish(self, "Installed" if r else "InstallationFailed")
    else:
        _finish(self, self._final)


def _ready(self):  # downloaded (and verified): installed once no transaction runs
    self._st = _READY
    self.installing = True
    self.cp.store.save(_FILE, ["ready"])


def _try_download(self, first):
    _save(self)  # fewer tries left, also after a reboot
    if first:
        _send(self, "Downloading")


def _busy(self):
    cp = self.cp
    for c in cp.connectors:
        if c.tx is not None or c.session is not None:
            return True
    return cp._txe is not None or cp.journal.busy()  # StopTransaction goes out before a reboot


def _notified(self):  # -> the callback of Installing's answer: install at once. (A closure
    # made in _update would make its `self` a cell, a heap object at every loop() that waits.)
    def done(res):
        self._due = ticks_ms()
    return done


def _finish(self, status):
    if status == "Installed":
        self.cp.security_event("FirmwareUpdated")
    self._st = _IDLE
    self.installing = False
    rm(self.image)
    self.cp.store.save(_FILE, ["done", status])  # until the CSMS has it
    _send(self, status, lambda res: _reported(self, res))


def _reported(self, res):
    if res is not None and self._st == _IDLE:
        self.cp.store.remove(_FILE)
        self.cp.store.remove(_SIGNED)
        self._sig = None


def _send(self, status, cb=None):
    self.firmware_status = status
    if self._sig:
        self.cp.call("SignedFirmwareStatusNotification", {"status": status, "requestId": self._sig[0]}, cb)
    else:
        self.cp.call("FirmwareStatusNotification", {"status": status}, cb)


def GetDiagnostics(cp, p):
    self = cp.firmware
    if self._diag:
        log("firmware: GetDiagnostics ignored, an upload is under way")
        return {}
    self._tmp = None  # the default hook's file: removed after the upload
    path = _make(self, hook(self, "diagnostics", diagnostics_file), p.get("startTime"), p.get("stopTime"))
    if not path:
        return {}  # no diagnostics available
    _begin_upload(self, path, p["location"], p, None)
    return {"fileName": path.rsplit("/", 1)[-1]}


def _make(self, hook, start, stop):
    try:
        return hook(start, stop) if hook else None
    except Exception as e:  # flash full, a firmware hook's bug: nothing to upload
        log("firmware: diagnostics hook failed: %r" % e)
        return None


def _begin_upload(self, path, url, p, req):
    self._path = path
    self._req = req  # GetLog's requestId; None: GetDiagnostics
    self._diag = _Tries(url, 0, p.get("retries", _RETRIES) + 1, p.get("retryInterval", _INTERVAL))


def _end_upload(self):
    self._diag = None
    if self._path == self._tmp:
        rm(self._tmp)
        self._tmp = None


def _upload(self, now):
    r = self._diag.step(now, "upload", http_upload, self._path, _try_upload, self)
    if r is not None:
        _end_upload(self)
        _send_diag(self, "Uploaded" if r else "UploadFailed", self._req)


def _try_upload(self, first):
    if first:
        _send_diag(self, "Uploading", self._req)


def _send_diag(self, status, req):
    """An upload's status in the message of its request: req None for GetDiagnostics,
    else GetLog's requestId (-1: none)."""
    if req is None:
        self.diagnostics_status = status
        self.cp.call("DiagnosticsStatusNotification", {"status": status})
        return
    p = {"status": "UploadFailure" if status == "UploadFailed" else status}
    if req >= 0:
        p["requestId"] = req
    self.cp.call("LogStatusNotification", p)


def resume(self):
    """At boot: a signed update's request, and an update or a final status to carry on."""
    self._sig = self.cp.store.load(_SIGNED, None, lambda d: rows([d], int, str, str))
    rec = self.cp.store.load(_FILE, None, _record_ok)
    if rec:
        _resume(self, rec)


def step(self, now):
    """loop()'s work while the machine is held; let go once nothing runs."""
    if self._st:
        _update(self, now)
    if self._diag:
        _upload(self, now)
    if not (self._st or self._diag):
        self._m = None
