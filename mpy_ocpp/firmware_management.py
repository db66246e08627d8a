# The Firmware Management profile: UpdateFirmware and GetDiagnostics, with their status
# notifications, run as state machines from loop() (nothing blocks; an idle loop() allocates
# nothing). The firmware plugs its hooks into `cp.firmware` (an instance of Firmware):
#
#   download(url, path)  fetch the image; default: HTTP(S) GET into the file `path`
#   install(path)        install it; default None (-> InstallationFailed). A board module
#                        writes the OTA partition here and reboots: a reboot during
#                        Installing means success, the next boot reports Installed.
#   diagnostics(start, stop) -> path of the file to upload, or None (no diagnostics: the
#                        answer has no fileName). start/stop: the CSMS's ISO times or None.
#                        Default: a small text file with the charge point's state.
#   upload(url, path)    send it; default: HTTP(S) PUT of the raw file to `url` (with the file
#                        name appended when `url` ends in "/"); other schemes (ftp://) fail
#                        with a log line, so they end in UploadFailed.
#
# download, install and upload return True/False when they finish at once, or a job that the
# loop drives one step at a time: an object whose step() returns None while busy, then
# True/False (http.Transfer is one), or a generator that yields None while busy and then
# yields or returns True/False. A job with close() is closed when it is abandoned; a hook that
# raises fails. `path` is `cp.firmware.image` (a file in the state directory): a hook pair may
# agree to ignore it (e.g. download straight into the OTA partition).
# Other settings: `ca`/`verify` (TLS for the default hooks; no `ca` = the wss:// link's
# context), `chunk` (buffer bytes, default 1024). Read-outs: `firmware_status`,
# `diagnostics_status` (the last ones sent), `installing` (an image waits to be installed).
#
#   digest(path) -> the image's SHA-256 (bytes), for a signed update (the Security
#                        extension's SignedUpdateFirmware: security.py); default None: the
#                        file `path` is hashed, a block per loop(). A download hook that writes
#                        elsewhere (an OTA partition) gives what it hashed on the way.
#
# A signed update goes through the same steps, with its signature checked after the download
# (SignatureVerified, or InvalidSignature and the end), its statuses as
# SignedFirmwareStatusNotification with the requestId; the request is kept in signedfw.json.
#
# Tries: `retries` + 1 (default retries 2), `retryInterval` apart (default 30 s). The image is
# installed once no transaction runs and no transaction message waits to be sent. Persisted
# in the state directory: a pending update (a reboot restarts its download or resumes the
# wait for transactions), Installing (-> Installed at the next boot) and a final status until
# the CSMS has it. A diagnostics upload is not persisted.
import json

from . import clock
from .compat import const, log, ticks_diff, ticks_ms
from .connector import later
from .store import rm, rows

PROFILE = "FirmwareManagement"

_FILE = "firmware.json"  # ["get", url, retrieve time, tries left, interval] / ["ready"] / ["done", status]
_SIGNED = "signedfw.json"  # [requestId, signature, signing certificate] of a signed update
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


def setup(cp):
    cp.firmware = Firmware(cp)


def UpdateFirmware(cp, p):
    cp.firmware.update(p["location"], clock.parse(p["retrieveDate"]),
                       p.get("retries", _RETRIES), p.get("retryInterval", _INTERVAL))
    return {}


def GetDiagnostics(cp, p):
    return cp.firmware.get_diagnostics(p)


def loop(cp, now):
    f = cp.firmware
    if f._st:
        f._update(now)
    if f._diag:
        f._upload(now)


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

    def step(self, now, hook, path, on_try):
        """None while waiting or busy, then True, or False once the last try failed."""
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
            on_try(self.first)
            self.first = False
            self.job = _begin(hook, "transfer", self.url, path)
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


class Firmware:
    def __init__(self, cp):
        self.cp = cp
        self.firmware_status = self.diagnostics_status = "Idle"  # the last ones sent
        self.download = self.http_download
        self.install = None
        self.diagnostics = self.diagnostics_file
        self.upload = self.http_upload
        self.digest = None
        self.ca = None
        self.verify = True
        self.chunk = 1024
        self.image = cp.store.path + "/firmware.bin"
        self._st = _IDLE
        self.installing = False  # downloaded, until installed: new transactions should wait
        self._get = self._diag = self._job = self._tmp = self._req = None
        self._sig = cp.store.load(_SIGNED, None, lambda d: rows([d], int, str, str))
        rec = cp.store.load(_FILE, None, _record_ok)
        if rec:
            self._resume(rec)

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

    def rolled_back(self):
        """For a board whose bootloader went back to the old image after an install: the
        Installing left pending ends in InstallationFailed, not Installed."""
        if self._st == _REPORT and self._final == "Installed":
            self._final = "InstallationFailed"
            self.cp.store.save(_FILE, ["done", self._final])

    # Remote Trigger

    def notify_firmware(self, signed=False):
        """A trigger's status message: the update's (signed or not) or Idle; `signed`
        (ExtendedTriggerMessage): a SignedFirmwareStatusNotification even when none runs."""
        s = self.firmware_status
        s = s if s in _BUSY else "Idle"
        if signed and not self._sig:
            self.cp.call("SignedFirmwareStatusNotification", {"status": s})
        else:
            self._send(s)

    def notify_diagnostics(self):
        self._send_diag("Uploading" if self._diag and self._req is None else "Idle", None)

    # UpdateFirmware

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
        self._save()
        return True

    def _save(self):
        t = self._get
        self.cp.store.save(_FILE, ["get", t.url, t.at, t.tries, t.interval])

    def _update(self, now):
        st = self._st
        if st == _GET:
            r = self._get.step(now, self.download, self.image, self._try_download)
            if r is None:
                return
            self._get = None
            if not r:
                return self._finish("DownloadFailed")
            self._send("Downloaded")
            if self._sig:  # the signature first; a reboot meanwhile downloads again
                self._st = _VERIFY
                sec = self.cp.security  # a build without it cannot check: InvalidSignature
                self._job = sec.check_image(self) if sec else False
            else:
                self._ready()
        elif st == _VERIFY:
            r = _poll(self._job)
            if r is not None:
                self._job = None
                if r:
                    self._send("SignatureVerified")
                    self._ready()
                else:
                    self.cp.security_event("InvalidFirmwareSignature")
                    self._finish("InvalidSignature")
        elif st == _READY:
            if not self._busy():
                if not self.cp.store.save(_FILE, ["install"]):  # unrecorded, the reboot of a
                    return self._finish("InstallationFailed")  # good install would install again
                self._st = _NOTIFY
                self._due = later(now, _NOTIFY_WAIT)
                self._send("Installing", self._notified)
        elif st == _NOTIFY:
            if ticks_diff(now, self._due) >= 0:
                self._st = _INSTALL
                self._job = _begin(self.install, "install", self.image)
        elif st == _INSTALL:
            r = _poll(self._job)
            if r is not None:
                self._job = None
                self._finish("Installed" if r else "InstallationFailed")
        else:
            self._finish(self._final)

    def _ready(self):  # downloaded (and verified): installed once no transaction runs
        self._st = _READY
        self.installing = True
        self.cp.store.save(_FILE, ["ready"])

    def _try_download(self, first):
        self._save()  # fewer tries left, also after a reboot
        if first:
            self._send("Downloading")

    def _busy(self):
        cp = self.cp
        for c in cp.connectors:
            if c.tx is not None or c.session is not None:
                return True
        return cp._txe is not None or cp.journal.busy()  # StopTransaction goes out before a reboot

    def _notified(self, res):
        self._due = ticks_ms()

    def _finish(self, status):
        if status == "Installed":
            self.cp.security_event("FirmwareUpdated")
        self._st = _IDLE
        self.installing = False
        rm(self.image)
        self.cp.store.save(_FILE, ["done", status])  # until the CSMS has it
        self._send(status, self._reported)

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


    # GetDiagnostics; GetLog (the Security extension's: security.py) uses the same upload

    def get_diagnostics(self, p):
        if self._diag:
            log("firmware: GetDiagnostics ignored, an upload is under way")
            return {}
        path = self._make(self.diagnostics, p.get("startTime"), p.get("stopTime"))
        if not path:
            return {}  # no diagnostics available
        self._begin_upload(path, p["location"], p, None)
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
        r = self._diag.step(now, self.upload, self._path, self._try_upload)
        if r is not None:
            self._end_upload()
            self._send_diag("Uploaded" if r else "UploadFailed", self._req)

    def _try_upload(self, first):
        if first:
            self._send_diag("Uploading", self._req)

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

    # the default hooks

    def _transfer(self, url, path, put, sink=None):
        from . import http  # only loaded when a default hook runs

        ctx = None
        if self.ca is None and self.verify:
            ctx = getattr(self.cp.transport, "ctx", None)  # trust what the wss:// link trusts
        return http.Transfer(url, path, put, self.ca, self.verify, ctx, self.chunk, sink=sink)

    def http_download(self, url, path, sink=None):
        """The default download hook; `sink` (write/close) may take the body instead of `path`."""
        return self._transfer(url, path, False, sink)

    def http_upload(self, url, path):
        if url[-1:] == "/":
            url += path.rsplit("/", 1)[-1]
        return self._transfer(url, path, True)

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
