# Local Auth List Management profile (OCPP 1.6 §3.5.3, §5.10, §5.15). The list lives in one
# file of fixed-width records sorted by idTag, searched in place by binary search: it costs
# no heap however long it is. An update streams the old file and the sorted changes into a
# new file that then replaces it (atomic, like store.Store.write).
import os

from . import clock

PROFILE = "LocalAuthListManagement"
CALLS = ("GetLocalListVersion", "SendLocalList")  # local_auth_list_calls.py, imported for the call only

_FILE = "locallist.bin"  # 4-byte list version, then the records
_HEAD = const(4)
# a record: idTag (UTF-8 with ASCII letters in upper case, zero-padded: a CiString20 is found
# in any case), then the rest: status index (1 byte),
# expiry (u32 little-endian seconds in the port's epoch, 0 = none), parentIdTag (zero-padded)
_TAG = const(20)
_REST = const(25)
_REC = const(45)
_STATUS = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")


# config.BOOL, INT, RO: constants of this module, so that the table is one constant in flash
_BOOL = const(0)
_INT = const(1)
_RO = const(1)
_KEYS = (("LocalAuthListEnabled", _BOOL, 0, True),
         ("LocalAuthListMaxLength", _INT, _RO, 500),  # 45 bytes of flash each, no RAM
         ("SendLocalListMaxLength", _INT, _RO, 50))  # 50 entries fit the default 4 KB frame


def setup(cp):
    cp.config.add(_KEYS)
    cp.local_list = LocalList(cp)


def _pad(text):
    """A tag as a zero-padded record field (folded: see authorization_cache.same), or None if
    it does not fit."""
    b = text.encode().upper()
    return b + bytes(_TAG - len(b)) if len(b) <= _TAG and b"\0" not in b else None


def _text(field):
    i = field.find(b"\0")
    return (field if i < 0 else field[:i]).decode()


class LocalList:
    def __init__(self, cp):
        self.cp = cp
        self.path = cp.store.path + "/" + _FILE
        self.key = bytearray(_TAG)  # read buffers: no allocation per record
        self.rest = bytearray(_REST)
        self.version = self.count = 0
        f = self._open()
        if f is None:  # a cut between remove and rename (FAT): the new file is complete
            self._rename()
            f = self._open()
        if f:
            with f:
                head = f.read(_HEAD)
                size = f.seek(0, 2) - _HEAD
                n = size // _REC
                v = int.from_bytes(head, "little") if len(head) == _HEAD else 0
                ok = v and n > 0 and size % _REC == 0 and self._valid(f, n)
            if ok:
                self.version, self.count = v, n
            else:  # not what update() writes (version 0: a .tmp cut short, renamed above)
                cp.store.quarantine(_FILE)

    def _valid(self, f, n):
        """Every record well formed, in order and no more than the list may hold. A list
        written before idTags were folded is not in the order lookups take: the CSMS sends it
        again once GetLocalListVersion says 0."""
        if n > self.cp.config["LocalAuthListMaxLength"]:
            return False
        k, r, prev = self.key, self.rest, bytearray(_TAG)
        f.seek(_HEAD)
        for _ in range(n):
            f.readinto(k)
            f.readinto(r)
            if k <= prev or r[0] >= len(_STATUS) or bytes(k).upper() != k:
                return False
            try:
                _text(bytes(k)), _text(bytes(r[5:]))
            except ValueError:  # not UTF-8
                return False
            prev[:] = k
        return True

    def _open(self):
        try:
            return open(self.path, "rb")
        except OSError:
            return None

    def _rename(self):
        try:
            os.rename(self.path + ".tmp", self.path)  # littlefs and POSIX replace atomically
        except OSError:
            return False
        return True

    def lookup(self, tag):
        """The idTagInfo the list holds for `tag` (status Expired once past its expiryDate),
        or None: not listed, or LocalAuthListEnabled is false."""
        key = _pad(tag)
        if not (self.count and key and self.cp.config.values["LocalAuthListEnabled"]):
            return None
        f = self._open()
        if f is None:
            return None
        k = self.key
        lo, hi = 0, self.count
        with f:
            while lo < hi:
                mid = (lo + hi) // 2
                f.seek(_HEAD + mid * _REC)
                f.readinto(k)
                if k == key:
                    f.readinto(self.rest)
                    return self._info(self.rest)
                if k < key:
                    lo = mid + 1
                else:
                    hi = mid
        return None

    def _info(self, r):
        status = _STATUS[r[0]] if r[0] < len(_STATUS) else "Invalid"
        exp = int.from_bytes(bytes(r[1:5]), "little")
        if exp and status == "Accepted" and exp < clock.now():
            status = "Expired"
        info = {"status": status}
        parent = _text(bytes(r[5:]))
        if parent:
            info["parentIdTag"] = parent
        return info

    def check(self, tag, info):
        """The CSMS answered an Authorize or a StartTransaction: a status that contradicts the
        list is reported as a LocalListConflict on connector 0 (the list is not changed)."""
        mine = self.lookup(tag)
        if mine is None or mine["status"] == info["status"]:
            return
        c = self.cp.connectors[0]
        self.cp.status_notification(0, c.status or "Available", "LocalListConflict")
        c.reported_error = "LocalListConflict"  # so the core reports NoError again next loop
