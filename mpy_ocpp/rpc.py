# OCPP-J RPC framing: [2, id, action, payload] / [3, id, payload] / [4, id, code, text, details].
import json
import random
import sys

CALL = 2
CALLRESULT = 3
CALLERROR = 4

# Spellings other peers use for the 1.6 codes (2.0.1 names, typos fixed in later editions).
_ALIASES = (
    ("FormatViolation", "FormationViolation"),
    ("OccurrenceConstraintViolation", "OccurenceConstraintViolation"),
    ("MessageTypeNotSupported", "NotSupported"),
)


class CallError(Exception):
    """Raised by a handler to answer with a CALLERROR."""

    def __init__(self, code, description=""):
        self.code = code
        self.description = description


def error_code(code):
    """The 1.6 spelling of an error code received from any peer."""
    for a, b in _ALIASES:
        if code == a:
            return b
    return code


# Message ids: a random per-boot prefix and a counter per ChargePoint (well under 36 chars)
PREFIX = "%08x" % random.getrandbits(32)
# random, sys and IOBase serve the import only: their slots go back (a dict reuses them), so
# this module's dict stays at 17 slots (23 with them: 48 B more of heap, held for good)
del random


def _left(obj, n):
    """What is left of n after the JSON text of the container obj, estimated without writing
    it (for ASCII text an upper bound: a string is its length and quotes, an int up to 9 digits
    10 characters, any other scalar 24, the longest float), < 0 once over: the walk stops
    there, so it costs O(n) for a document of any size and allocates nothing."""
    d = type(obj) is dict
    n -= 2
    for v in obj:
        if d:  # v is a key: its quotes, ": " and ", "
            n -= len(v) + 6 if type(v) is str else 30
            v = obj[v]
        else:
            n -= 2
        t = type(v)
        if t is str:
            n -= len(v) + 2
        elif t is int and -999999999 <= v <= 999999999:
            n -= 10
        elif t is list or t is tuple or t is dict:
            n = _left(v, n)
        else:  # a function making a list's items (see dump) counts as long
            n = -1 if callable(v) else n - 24
        if n < 0:
            break
    return n


def dump(obj, out, short=512):
    """Write the JSON text of `obj` (the text json.dumps gives) to `out(str)` in pieces: a
    container whose text is short (at most `short` characters, estimated by _left: a usual OCPP
    message, one sampledValue, one configuration key) is one json.dumps piece; a longer one is
    written member by member, its brackets, keys and separators as pieces of their own. A large
    document (a journal, a GetConfiguration answer) never exists as one string, only as small
    ones (the largest: a short container, or a long string value). A function in the document
    stands for a list: it is called (once per pass) for an iterator of the items, so a long
    answer's items can be made one at a time and never all exist at once."""
    t = type(obj)
    if t is list or t is tuple or callable(obj):
        if t is not list and t is not tuple:
            obj = obj()
        elif _left(obj, short) >= 0:
            out(json.dumps(obj))
            return
        out("[")
        s = ""
        for v in obj:
            if s:
                out(s)
            s = ", "
            dump(v, out, short)
        out("]")
    elif t is dict:
        if _left(obj, short) >= 0:
            out(json.dumps(obj))
            return
        out("{")
        s = ""
        for k, v in obj.items():
            if s:
                out(s)
            s = ", "
            out(json.dumps(k))
            out(": ")
            dump(v, out, short)
        out("}")
    else:
        out(json.dumps(obj))


def find_id(text):
    """The message id of a frame that did not parse, if it starts like '[2, "id"' (else None)."""
    i = text.find('"')
    if i < 0 or text[:i].replace(" ", "").replace("\n", "") != "[2,":
        return None
    j = text.find('"', i + 1)
    if j < 0 or j - i - 1 > 36:
        return None
    return text[i + 1:j]


if sys.implementation.name == "micropython":  # io.IOBase: on every port from core features up
    from io import IOBase

    class _Blocks(IOBase):  # a message's blocks as one stream, for json.load; each block
        # after the first (the transport's own buffer; the head an error reply quotes) is let
        # go once read, so the message shrinks while its document grows
        def __init__(self, blocks):
            self.b = blocks
            self.i = self.o = 0

        def readinto(self, buf):  # one byte a call (json.load asks for no more), no copy
            b = self.b
            while self.i < len(b):
                if self.o < len(b[self.i]):
                    buf[0] = b[self.i][self.o]
                    self.o += 1
                    return 1
                if self.i:
                    b[self.i] = None
                self.i += 1
                self.o = 0
            return 0
    del IOBase
else:
    _Blocks = None
del sys


def loads(text):
    """json.loads of a message's text: str, UTF-8 bytes, or a list of blocks of them (how the
    transport hands over a long message it found no single free block for). MicroPython parses
    the blocks where they are, a byte at a time, and lets each go once read: slower, but no
    block as large as the message, and the message is not held whole beside its document.
    The list keeps only its first block: nothing may read the others after."""
    if type(text) is not list:
        return json.loads(text)
    return json.load(_Blocks(text)) if _Blocks else json.loads(b"".join(text))


def surrogates(text):
    """The JSON text (str, UTF-8 bytes, or a list of blocks) with its escaped UTF-16
    surrogates (an emoji is "\\ud83d\\ude00" from most peers) written as the characters (then as bytes): MicroPython's
    json reads a pair as two lone surrogates, a string that is not UTF-8, and a peer fails the
    connection (1007) when it comes back in an answer's id or an idTag. A lone surrogate becomes
    U+FFFD."""
    s = type(text) is str
    if type(text) is list:
        e = b""  # the end of the block before: an escape may cross into the next
        for b in text:
            h = e + bytes(b[:2])
            if b"\\ud" in h or b"\\uD" in h or b"\\ud" in b or b"\\uD" in b:
                break
            e = bytes(b[-2:])
        else:
            return text
        text = b"".join([bytes(x) for x in text])  # a rare path: one copy
    elif (("\\ud" not in text and "\\uD" not in text) if s
            else (b"\\ud" not in text and b"\\uD" not in text)):  # the usual case: no scan
        return text
    b = text.encode() if s else bytes(text)  # MicroPython joins bytes only (a rare path: a copy)

    def unit(i):  # the code unit of a \\uXXXX escape at b[i], else -1 (only 4 hex digits
        # reach the surrogates: int() also takes "+d8" or " d8")
        try:
            return int(b[i + 2:i + 6], 16) if b[i + 1:i + 2] == b"u" else -1
        except ValueError:
            return -1
    out = []
    i = j = 0
    while True:
        i = b.find(b"\\", i)
        if i < 0:
            break
        hi = unit(i)
        if not 0xD800 <= hi <= 0xDFFF:
            i += 2  # another escape, \\ included
            continue
        lo = unit(i + 6) if hi < 0xDC00 else 0
        k = i + (12 if 0xDC00 <= lo <= 0xDFFF else 6)
        out.append(b[j:i])
        out.append((chr(0x10000 + (hi - 0xD800) * 1024 + lo - 0xDC00) if k - i == 12
                    else "\ufffd").encode())
        i = j = k
    out.append(b[j:])
    return b"".join(out)


def too_deep(text, limit=16):
    """Nested deeper than `limit` (brackets outside strings)? The text is str, UTF-8 bytes or a
    list of blocks of them.
    OCPP frames nest at most 6 deep in 1.6, 14 in 2.0.1 (a RequestStartTransaction's salesTariff
    12); json.loads, repr and json.dumps recurse per level (RecursionError on CPython)."""
    if type(text) is str:
        if text.count("[") + text.count("{") <= limit:  # the usual case: no scan
            return False
        text = text.encode()
    blocks = text if type(text) is list else (text,)
    if sum([b.count(b"[") + b.count(b"{") for b in blocks]) <= limit:
        return False
    d = 0
    s = esc = False
    for b in blocks:
        for c in b:  # byte values: 34 ", 92 \\, 91 [, 123 {, 93 ], 125 }
            if s:
                if esc:
                    esc = False
                elif c == 92:
                    esc = True
                elif c == 34:
                    s = False
            elif c == 34:
                s = True
            elif c == 91 or c == 123:
                d += 1
                if d > limit:
                    return True
            elif c == 93 or c == 125:
                d -= 1
    return False
