# One charging transaction as the CSMS will see it, and the messages it still owes the CSMS.
# Everything here is persisted by the journal at every change.
from . import clock
from .store import NONE, rows, shallow

_DATA_MAX = const(8)  # transactionData entries kept for StopTransaction (Transaction.Begin + newest)
_START = "StartTransaction"
_STOP = "StopTransaction"
_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction", "TransactionEvent")  # a constant: no heap
_FIELDS = ("connector_id", "id_tag", "parent", "meter_start", "start", "id", "reservation",
           "deauthorized", "data", "seq", "msgs", "tries", "due", "stopped", "lost", "kind",
           "seqno")


def same(a, b):
    """idTags are CiString (1.6 IdToken, 2.0.1 idToken): equal but for the case of ASCII
    letters, folded as bytes.upper() folds them on every runtime. None matches nothing."""
    return a is not None and b is not None and (
        a == b or len(a) == len(b) and a.encode().upper() == b.encode().upper())


class Transaction:
    def __init__(self, connector_id, id_tag, parent, meter_start):
        self.connector_id = connector_id
        self.id_tag = id_tag  # None: a 2.0.1 transaction not authorized yet (TxStartPoint)
        self.parent = parent  # parentIdTag, for stopping with another card of the same group
        self.meter_start = meter_start
        self.start = clock.iso()  # ISO time, or a marker until the clock is known
        self.id = None  # 1.6: transactionId, once the CSMS has answered StartTransaction;
        # 2.0.1: the one the charge point made at the start (a str)
        self.reservation = None  # reservationId it used
        self.deauthorized = False
        self.data = []  # meterValues for StopTransaction.transactionData
        self.seq = 0  # the journal's record number
        self.msgs = []  # messages owed to the CSMS, oldest first: [order, action, payload]
        self.tries = 0  # failed attempts of msgs[0]
        self.due = 0  # wall-clock second before which msgs[0] waits
        self.wait = 0  # the same as a ticks deadline (not persisted)
        self.stopped = False
        self.lost = False  # StartTransaction given up: nothing more is sent
        self.unreported = False  # charging while the journal is full (not persisted)
        self.kind = None  # 2.0.1: the idToken's type
        self.seqno = 0  # 2.0.1: the seqNo of the next TransactionEvent (counts answered ones)

    def state(self):
        return [getattr(self, f) for f in _FIELDS]

    @classmethod
    def restore(cls, state):
        """A Transaction from state(), or None if the document is not one that state() makes."""
        t = (int, NONE)
        s = (str, NONE)
        if type(state) is list and len(state) == 15:  # a record from before 2.0.1
            state = state + [None, 0]
        if not (rows([state], int, s, s, int, str, (int, str, NONE), t, bool, list, int, list, int,
                     int, bool, bool, s, int) and shallow(state, 10)):
            return None
        tx = cls(0, "", None, 0)
        for f, v in zip(_FIELDS, state):
            setattr(tx, f, v)
        return tx if tx._sane() else None

    def _sane(self):
        """The messages are what the journal makes: StartTransaction first while the CSMS has
        not answered it, StopTransaction last once stopped, payloads objects."""
        msgs = self.msgs
        if not (rows(msgs, int, str, dict) and all([type(d) is dict for d in self.data])
                and self.seq > 0 and self.connector_id > 0):
            return False
        first = msgs[0][1] if msgs else None
        if self.lost and msgs or (self.id is None) != (first == _START) and not self.lost or (
                self.id_tag is None and type(self.id) is not str):  # only 2.0.1 starts unauthorized
            return False
        for i, m in enumerate(msgs):
            a = m[1]
            if a not in _ACTIONS or a == _START and i or a == _STOP and (
                    i < len(msgs) - 1 or not self.stopped):
                return False
        return True

    def add(self, meter_value):
        if meter_value is None:
            return
        if len(self.data) >= _DATA_MAX:
            self.data.pop(1 if len(self.data) > 1 else 0)  # keep the Transaction.Begin sample
        self.data.append(meter_value)

    def matches(self, id_tag, parent):
        return same(id_tag, self.id_tag) or same(parent, self.parent)
