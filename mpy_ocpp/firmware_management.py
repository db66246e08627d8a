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
# The machine, and what UpdateFirmware and GetDiagnostics do, is firmware_management_calls.py:
# loaded while a call, an update, an upload or a trigger needs it (Firmware.machine()), let
# go once nothing runs. Its functions take the Firmware as `self`.
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
from .store import rm

PROFILE = "FirmwareManagement"

_FILE = "firmware.json"  # ["get", url, retrieve time, tries left, interval] / ["ready"] / ["done", status]
_SIGNED = "signedfw.json"  # [requestId, signature, signing certificate] of a signed update
_REPORT = const(5)  # a state of the machine's: a final status from before a reboot to send


def setup(cp):
    cp.firmware = Firmware(cp)


def UpdateFirmware(cp, p):
    return cp.firmware.machine().UpdateFirmware(cp, p)


def GetDiagnostics(cp, p):
    return cp.firmware.machine().GetDiagnostics(cp, p)


def loop(cp, now):
    m = cp.firmware._m
    if m:
        m.step(cp.firmware, now)


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
        self._st = 0  # idle; the machine's states are firmware_management_calls'
        self.installing = False  # downloaded, until installed: new transactions should wait
        self._get = self._diag = self._job = self._tmp = self._req = self._sig = self._m = None
        if [n for n in cp.store.names("") if n in (_FILE, _SIGNED)]:  # work left from before a reboot
            self.machine().resume(self)

    def machine(self):
        """firmware_management_calls, held while it has work (see its step())."""
        if self._m is None:
            from .ocpp16 import load
            self._m = load("firmware_management_calls")
        return self._m

    def rolled_back(self):
        """For a board whose bootloader went back to the old image after an install: the
        Installing left pending ends in InstallationFailed, not Installed."""
        if self._st == _REPORT and self._final == "Installed":
            self._final = "InstallationFailed"
            self.cp.store.save(_FILE, ["done", self._final])

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
