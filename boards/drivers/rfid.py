# What every card reader shares: the UID as an idTag, the same card not reported twice in a
# row, and the reader's health as a (non-fault) error for connector 0.
from mpy_ocpp.compat import ticks_diff

FAILURE = ("ReaderFailure", "RFID reader not answering", "RFID", False)


class Reader:
    def __init__(self, order="msb", case="upper", repeat_ms=2000):
        self.reverse = order == "lsb"  # "msb": UID bytes as the card sends them (uid0 first)
        self.fmt = "%02x" if case == "lower" else "%02X"
        self.repeat = repeat_ms
        self.failed = False
        self._last = None
        self._at = 0

    def id_tag(self, uid):
        """UID bytes -> idTag (a 4-byte UID gives 8 hex digits, 7 bytes 14; CiString20)."""
        b = bytes(reversed(uid)) if self.reverse else uid
        return "".join([self.fmt % x for x in b])

    def report(self, uid, now):
        """The idTag of a card just read, or None if it is the one reported a moment ago."""
        tag = self.id_tag(uid)
        same = tag == self._last and ticks_diff(now, self._at) < self.repeat
        self._last = tag
        self._at = now
        return None if same else tag

    def error(self):
        return FAILURE if self.failed else None
