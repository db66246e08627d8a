# The Local Auth List Management profile's list and calls from the CSMS (local_auth_list.py
# declares the profile). Imported for one call, one lookup or the boot's check, and let go
# (ocpp16.load, run_in): nothing of it is held, `cp.local_list` is only the stored list's
# version (None without one). An update streams the old file and the sorted changes into a
# new file that then replaces it (atomic, like store.Store.write).
import os

from . import clock
from .compat import log
from .rpc import CallError
from .store import rm

_FILE = "locallist.bin"  # 4-byte list version, then the records
_HEAD = const(4)
# a record: idTag (UTF-8 with ASCII letters in upper case, zero-padded: a CiString20 is found
# in any case), then the rest: status index (1 byte),
# expiry (u32 little-endian seconds in the port's epoch, 0 = none), parentIdTag (zero-padded)
_TAG = const(20)
_REST = const(25)
_REC = const(45)
_STATUS = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")


def GetLocalListVersion(cp, p):
    # the real version even when LocalAuthListEnabled is false: -1 would say "not supported"
    return {"listVersion": cp.local_list or 0}


def SendLocalList(cp, p):
    entries = p.get("localAuthorizationList") or []
    if len(entries) > cp.config["SendLocalListMaxLength"]:
        raise CallError("OccurenceConstraintViolation", "More entries than SendLocalListMaxLength")
    return {"status": update(LocalList(cp), p["listVersion"], p["updateType"] == "Full", entries)}


def _change(tag, info, seq):
    """One AuthorizationData entry as a change to the list, or None if it cannot be stored:
    its record with a 2-byte sequence number after the idTag, so that changes sort by idTag,
    then sequence; status 0xFF = no idTagInfo (delete, or leave out of a Full list)."""
    key = tag.encode().upper()
    parent = (info and info.get("parentIdTag") or "").encode()
    exp = info and info.get("expiryDate")
    exp = exp and clock.parse(exp)
    if (len(key) > _TAG or b"\0" in key or len(parent) > _TAG or b"\0" in parent
            or exp is None and info and "expiryDate" in info):
        return None
    exp = 0 if exp is None else min(max(exp, 1), 0xFFFFFFFF)  # the past: expired anyway
    r = bytearray(_REC + 2)
    r[:len(key)] = key
    r[_TAG:_TAG + 2] = seq.to_bytes(2, "big")
    r[_TAG + 2] = _STATUS.index(info["status"]) if info else 0xFF
    r[_TAG + 3:_TAG + 7] = exp.to_bytes(4, "little")
    r[_TAG + 7:_TAG + 7 + len(parent)] = parent
    return r


def update(self, version, full, entries):
    """Apply a SendLocalList to LocalList `self`; the status to answer."""
    if not full and version <= self.version:
        return "VersionMismatch"
    # each entry is replaced by its change (see _change: 64 bytes of heap each) in the
    # message's own list, its dict let go: no second list to grow (a 50-entry list would ask
    # a fragmented heap for a 256-byte block); the sequence puts the last entry of a tag first
    changes = entries
    n = len(changes)
    for i in range(n):
        e = changes[i]
        c = _change(e["idTag"], e.get("idTagInfo"), n - 1 - i)
        if c is None:
            return "Failed"
        changes[i] = c
    changes.sort()  # in place
    n = 0
    for c in changes:  # the first of a tag's changes wins
        if not n or changes[n - 1][:_TAG] != c[:_TAG]:
            changes[n] = c
            n += 1
    del changes[n:]
    ok = 0 < version < 1 << 32  # 0 means no list; -1 no support (§5.10)
    tmp = self.path + ".tmp"
    old = None if full else self._open()
    try:
        with open(tmp, "wb") as out:
            out.write(bytes(_HEAD))
            n = _merge(self, old, changes, out)
            if ok:  # the version goes in last: it marks the file complete
                out.seek(0)
                out.write(version.to_bytes(_HEAD, "little"))
    except OSError as e:  # flash full, read-only: the old list stays
        log("local list: %s not written: %r" % (_FILE, e))
        n = -1
    finally:
        if old:
            old.close()
    if not 0 <= n <= self.cp.config["LocalAuthListMaxLength"] or (n and not ok):
        rm(tmp)
        return "Failed"
    if not n:  # an empty list is no file, and version 0 (§5.10)
        rm(self.path)
        rm(tmp)
        version = 0
    elif not self._rename():
        rm(self.path)  # FAT will not rename over an existing file
        if not self._rename():  # the boot finishes it (see __init__)
            return "Failed"
    self.version, self.count = version, n
    self.held()
    return "Accepted"

def _merge(self, old, changes, out):
    """Write the old records merged with the sorted changes; the number written."""
    n = i = 0
    k, rest = self.key, self.rest
    hi = bytearray(b"\xff" * (_REC + 2))  # k, then the highest rest: above k's changes
    if old:
        old.seek(_HEAD)
        for _ in range(self.count):
            old.readinto(k)
            old.readinto(rest)
            hi[:_TAG] = k
            while i < len(changes) and changes[i] < k:  # a change is longer than k: it
                n += _put(out, changes[i])  # is less only if its idTag is (no copy)
                i += 1
            if i < len(changes) and changes[i] <= hi:  # its idTag is k's
                n += _put(out, changes[i])
                i += 1
            else:
                out.write(k)
                out.write(rest)
                n += 1
    for c in changes[i:]:
        n += _put(out, c)
    return n

def _put(out, c):  # a change's record, without its sequence number; 0 if a deletion
    if c[_TAG + 2] == 0xFF:
        return 0
    m = memoryview(c)
    out.write(m[:_TAG])
    out.write(m[_TAG + 2:])
    return 1


def _pad(text):
    """A tag as a zero-padded record field (folded: see authorization_cache.same), or None if
    it does not fit."""
    b = text.encode().upper()
    return b + bytes(_TAG - len(b)) if len(b) <= _TAG and b"\0" not in b else None


def _text(field):
    i = field.find(b"\0")
    return (field if i < 0 else field[:i]).decode()


def lookup(cp, tag):  # ChargePoint.authorize's, while a list is stored
    return LocalList(cp).lookup(tag)


def check(cp, tag, info):  # Connector.started's, while a list is stored
    LocalList(cp).check(tag, info)


class LocalList:
    """The stored list, made for each use (nothing of it is held: cp.local_list is its
    version, None without a list). At boot (`boot`) every record is checked; later the file
    is what update() wrote."""

    def __init__(self, cp, boot=False):
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
                ok = v and n > 0 and size % _REC == 0 and (not boot or self._valid(f, n))
            if ok:
                self.version, self.count = v, n
            else:  # not what update() writes (version 0: a .tmp cut short, renamed above)
                cp.store.quarantine(_FILE)
        self.held()

    def held(self):
        """After loading or changing: cp.local_list is the version while a list is stored."""
        self.cp.local_list = self.version if self.count else None

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
        if not (self.count and key and self.cp.config["LocalAuthListEnabled"]):
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
