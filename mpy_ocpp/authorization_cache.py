# Authorization Cache (OCPP 1.6 §3.5.1): the idTagInfo of recently seen tags, bounded and
# persisted, consulted for LocalPreAuthorize and LocalAuthorizeOffline.
from . import clock
from .store import NONE, rows

_FILE = "authcache.json"


def same(a, b):
    """idTags are CiString (1.6 IdToken, 2.0.1 idToken): equal but for the case of ASCII
    letters, folded as bytes.upper() folds them on every runtime. None matches nothing."""
    return a is not None and b is not None and (
        a == b or len(a) == len(b) and a.encode().upper() == b.encode().upper())


class AuthorizationCache:
    def __init__(self, store, size=32):
        self.store = store
        self.size = size
        # [idTag, status, expiry seconds or None, parent]; the newest `size` of a longer file
        self.entries = store.load(_FILE, [], lambda d: rows(d, str, str, (int, NONE), (str, NONE)))[-size:]

    def _find(self, tag):
        for e in self.entries:
            if same(e[0], tag):
                return e
        return None

    def update(self, tag, info):
        """Remember the idTagInfo the CSMS gave for `tag`."""
        exp = info.get("expiryDate")
        entry = [tag, info.get("status"), exp and clock.parse(exp), info.get("parentIdTag")]
        old = self._find(tag)
        if old == entry:
            return
        if old:
            self.entries.remove(old)
        elif len(self.entries) >= self.size:
            self._evict()
        self.entries.append(entry)  # the list is kept oldest first
        self.store.save(_FILE, self.entries)

    def _evict(self):
        now = clock.now()
        for e in self.entries:  # expired or not valid first, then the oldest
            if e[1] != "Accepted" or (e[2] is not None and e[2] < now):
                self.entries.remove(e)
                return
        self.entries.pop(0)

    def lookup(self, tag):
        """The cached idTagInfo of `tag` as a dict (status Expired once past expiry), or None."""
        e = self._find(tag)
        if e is None:
            return None
        status = e[1]
        if status == "Accepted" and e[2] is not None and e[2] < clock.now():
            status = "Expired"
        info = {"status": status}
        if e[3]:
            info["parentIdTag"] = e[3]
        return info

    def clear(self):
        self.entries = []
        self.store.remove(_FILE)


def ClearCache(cp, p):  # 1.6 Core, 2.0.1 C11: the same cache, the same answer
    cp.cache.clear()
    return {"status": "Accepted"}
