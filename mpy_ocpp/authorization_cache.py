# Authorization Cache (OCPP 1.6 §3.5.1): the idTagInfo of recently seen tags, bounded and
# persisted, consulted for LocalPreAuthorize and LocalAuthorizeOffline. The cache is its file:
# the version module's cache(cp) makes an AuthorizationCache for one use (1.6 loads this
# module for it too: an idle charger holds none of it).
from . import clock
from .store import NONE, rows
from .transaction import same

_FILE = "authcache.json"


class AuthorizationCache:
    def __init__(self, cp, size=32):  # the cache of ChargePoint cp (version modules: cache(cp))
        self.store = store = cp.store
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
    AuthorizationCache(cp).clear()
    return {"status": "Accepted"}
