# The Local Auth List Management profile's calls from the CSMS (local_auth_list.py has the
# list). Imported for one call and let go (ocpp16.run_in): nothing here takes heap while idle.
from . import clock
from .compat import log
from .local_auth_list import _FILE, _STATUS
from .rpc import CallError
from .store import rm

_HEAD = const(4)  # the record layout of local_auth_list.py (its consts are not module names)
_TAG = const(20)
_REC = const(45)


def GetLocalListVersion(cp, p):
    # the real version even when LocalAuthListEnabled is false: -1 would say "not supported"
    return {"listVersion": cp.local_list.version}


def SendLocalList(cp, p):
    entries = p.get("localAuthorizationList") or []
    if len(entries) > cp.config["SendLocalListMaxLength"]:
        raise CallError("OccurenceConstraintViolation", "More entries than SendLocalListMaxLength")
    return {"status": update(cp.local_list, p["listVersion"], p["updateType"] == "Full", entries)}


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
