# The send side: rpc.dump's pieces and the frames WebSocket.send queues (one frame per message,
# blocks of 512 bytes, the mask continued across them). Plain asserts: run on MicroPython by
# tools/mptest.py (tests_host/test_micropython.py) and on CPython by pytest.
import gc
import json
import sys

from mpy_ocpp.rpc import dump
from mpy_ocpp.ws import WebSocket

_MPY = sys.implementation.name == "micropython"
MV = [2, "0a1b2c3d-17", "MeterValues", {"connectorId": 1, "meterValue": [
    {"timestamp": "2026-12-02T15:40:10Z", "sampledValue": [
        {"value": "1999", "context": "Sample.Periodic",
         "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}]
KEYS = [{"key": "Key%02d" % i, "readonly": i % 2 == 0, "value": "v" * i} for i in range(60)]
GETCONF = [3, "g1", {"configurationKey": KEYS, "unknownKey": ["U%d" % i for i in range(100)]}]


class Sink(WebSocket):
    """A WebSocket online over a socket that takes every byte at once and keeps them."""

    def __init__(self):
        WebSocket.__init__(self, "ws://csms.invalid/ocpp/CP_1", max_size=100000)
        self.online = True
        self._st = 4  # _OPEN
        self._wr = self.take
        self.out = []

    def take(self, mv):
        self.out.append(bytes(mv))
        return len(mv)


def _pieces(doc):
    out = []
    dump(doc, out.append)
    return out


def _payload(frame):  # -> (payload length, unmasked payload) of one client frame
    n = frame[1] & 127
    h = 2 if n < 126 else 4 if n == 126 else 10
    if h > 2:
        n = int.from_bytes(frame[2:h], "big")
    m = frame[h:h + 4]
    b = bytearray(frame[h + 4:])  # unmasked in place: a list of 70,000 ints took 1 MB of a 2 MB heap
    for i in range(len(b)):
        b[i] ^= m[i & 3]
    return n, bytes(b)


def test_a_short_document_is_one_piece():
    for doc in (MV, [2, "b", "Heartbeat", {}], [3, "x", {"status": "Accepted"}], [], {}):
        assert _pieces(doc) == [json.dumps(doc)], doc
    assert _pieces(KEYS[59]) == [json.dumps(KEYS[59])]  # one configuration key


def test_a_long_document_goes_in_short_pieces():
    ps = _pieces(GETCONF)
    assert "".join(ps) == json.dumps(GETCONF)
    assert max([len(p) for p in ps]) <= 512, max([len(p) for p in ps])
    for k in KEYS:  # each configuration key one piece; the lists member by member
        assert json.dumps(k) in ps
    assert '"U99"' in ps
    doc = {"data": "x" * 2000, "n": [1.5, None, True, -7, 12345678901234]}
    ps = _pieces(doc)
    assert "".join(ps) == json.dumps(doc) and json.dumps("x" * 2000) in ps  # a long string: whole
    assert json.dumps(doc["n"]) in ps


def test_a_function_stands_for_a_list_made_as_it_is_written():
    made = []

    def keys():  # called once per pass: counted, then written
        made.append(1)
        for k in KEYS:
            yield k
    doc = [3, "g", {"configurationKey": keys, "unknownKey": ["U1"]}]
    ps = _pieces(doc)
    assert "".join(ps) == json.dumps([3, "g", {"configurationKey": KEYS, "unknownKey": ["U1"]}])
    assert json.dumps(KEYS[0]) in ps and made == [1]
    assert "".join(_pieces([lambda: iter(())])) == "[[]]"


def test_every_message_is_one_frame_in_blocks_masked_across_them():
    ws = Sink()
    for msg in (MV, GETCONF, "h\u00e9llo \u20ac" * 100, "x" * 70000, ""):
        ws.out = []
        assert ws.send(msg)
        text = (msg if type(msg) is str else json.dumps(msg)).encode()
        frame = b"".join(ws.out)
        h = len(frame) - len(text) - 4
        assert frame[0] == 0x81 and h == (2 if len(text) < 126 else 4 if len(text) < 65536 else 10)
        assert [len(b) for b in ws.out[1:-1]] == [512] * (len(ws.out) - 2)  # full blocks between
        assert len(ws.out[0]) == h + 4 + min(len(text), 512)
        assert _payload(frame) == (len(text), text)
    assert not ws._oq and ws._on == 0


def test_send_allocates_little_on_micropython():
    # garbage per send() with collection off (the socket takes every byte at once, so the
    # blocks are garbage too): measured on the 64-bit unix port 928 B for this 245-byte frame
    # (9,248 B when every scalar, key and separator was a piece of its own and the mask was
    # applied byte by byte while copying), 14,816 B for the 2,107-byte one (89,120 B before)
    if not _MPY:
        return
    ws = Sink()
    sv = [{"value": "230.5", "context": "Sample.Periodic", "measurand": m, "unit": "W", "phase": p}
          for m in ("Power.Active.Import", "Current.Import", "Voltage") for p in ("L1", "L2", "L3")]
    big = [2, "0a1b2c3d-18", "MeterValues", {"connectorId": 1, "transactionId": 17, "meterValue": [
        {"timestamp": "2026-12-02T15:40:10Z", "sampledValue": sv * 2}]}]
    for doc, most in ((MV, 1536), (big, 20000)):
        ws.take = lambda mv: len(mv)  # keeps nothing
        ws._wr = ws.take
        ws.send(doc)
        gc.collect()
        gc.disable()
        try:
            a = gc.mem_alloc()
            assert ws.send(doc)
            got = gc.mem_alloc() - a
        finally:
            gc.enable()
        assert got <= most, (len(json.dumps(doc)), got)
