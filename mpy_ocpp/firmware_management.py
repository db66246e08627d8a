# The Firmware Management profile: UpdateFirmware and GetDiagnostics, with their status
# notifications, run as state machines from loop() (nothing blocks; an idle loop() allocates
# nothing). The firmware plugs its hooks into `cp.firmware` (an instance of Firmware); a hook
# left None (as all start) is the default one, in firmware_management_calls.py (the ESP32
# board's download wraps the default one: `cp.firmware.http_download(url, path, sink)`):
#
#   download(url, path)  fetch the image; default: HTTP(S) GET into the file `path`
#   install(path)        install it; default None (-> InstallationFailed). A board module
#                        writes the OTA partition here and reboots: a reboot during
#                        Installing means success, the next boot reports Installed.
#   diagnostics(start, stop) -> path of the file to upload, or None (no diagnostics: the
#                        answer has no fileName; a hook that always returns None offers
#                        none). start/stop: the CSMS's ISO times or None.
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
    # Settings, hooks and read-outs are class attributes until set: an idle charge point's
    # Firmware holds two names (a dict of 21 and three bound methods took ~300 B of heap). A
    # hook left None is the default one (firmware_management_calls.py).
    download = upload = diagnostics = install = digest = ca = None
    verify = True
    chunk = 1024
    firmware_status = diagnostics_status = "Idle"  # the last ones sent
    installing = False  # downloaded, until installed: new transactions should wait
    _st = 0  # idle; the machine's states are firmware_management_calls'
    _get = _diag = _job = _sig = _m = None

    def __init__(self, cp):
        self.cp = cp
        self.image = cp.store.path + "/firmware.bin"
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

    def http_download(self, url, path, sink=None):
        """The default download hook, for a hook of the firmware's that wraps it: `sink`
        (write/close) may take the body instead of `path`."""
        return self.machine().http_download(self, url, path, sink)
