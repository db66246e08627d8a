# The transaction journal: every transaction and the messages it owes the CSMS, one file per
# transaction (txN.json), written atomically at every change before anything depends on it.
# Messages go out one at a time in the order they were made, across all transactions, and
# survive power cuts: after boot the journal is read back and sending resumes.
# A second file, _INDEX, lists the transactions the CSMS knows (written when it answers a
# StartTransaction or a StopTransaction, or a 2.0.1 transaction's first event and every
# _EVERY-th): whichever single file is damaged, every transaction the CSMS knows gets the
# message that ends it (see _recover).
import json

from . import clock
from .compat import log, ticks_add, ticks_ms
from .store import NONE, rows
from .transaction import Transaction

_MV_MAX = const(6)  # MeterValues a transaction may owe; when more are taken offline the oldest goes
_INDEX = "started.json"  # [[seq, transactionId, connectorId, idTag, meterStart(, 2.0.1 seqNo)], ...]
_EVERY = const(32)  # 2.0.1: answered events between index writes at most (a lost record's Ended seqNo)


def _metered(action, p):  # MeterValues, or a 2.0.1 event with nothing but meter values
    return action == "MeterValues" or p.get("triggerReason") in ("MeterValuePeriodic", "MeterValueClock")


def _name(tx):
    return "tx%d.json" % tx.seq


# At boot only, module functions that take the Journal as `self`: the class's dict stays at 17
# names (a dict grows from 17 to 23 slots: 48 B of heap)

def _load(self, name):
    try:
        tx = Transaction.restore(json.loads(self.store.read(name)))
    except MemoryError:
        raise  # not the record's fault: keep it
    except Exception:  # not JSON (or gone): set aside below
        tx = None
    if tx is None or name != _name(tx) or tx.connector_id >= len(self.cp.connectors):
        return self.store.quarantine(name)
    self._add(tx)
    tx.wait = ticks_add(ticks_ms(), max(0, min(tx.due - clock.now(), 86400)) * 1000)


def _recover(self):
    """A transaction the index knows but whose record is lost is stopped, owing the message
    that ends it (its version's `lost`: meter readings and owed messages are gone); messages the CSMS answered just before a power cut
    (1.6: StartTransaction, 2.0.1: events up to the indexed seqNo) are dropped. The index
    follows the records."""
    n = len(self.cp.connectors)
    old = self.store.load(_INDEX, [], lambda d: type(d) is list and all([(  # 1.6 row, or 2.0.1's
        rows([e], int, int, int, str, int) or rows([e], int, str, int, (str, NONE), int, int))
        and 0 < e[0] and 0 < e[2] < n for e in d]))
    for e in old:
        tx = self._find(e[0])
        if tx is None:
            vs = [v for v in self.cp.versions if type(e[1]) is v.TX_ID]  # whose ids look like it
            log("journal: transaction %s lost its record, %s" % (e[1], "stopped" if vs else "not reportable here"))
            if vs:
                tx = Transaction(e[2], e[3], None, e[4])
                tx.seq, tx.id, tx.stopped = e[0], e[1], True
                if len(e) > 5:  # 2.0.1: fewer than _EVERY events were answered since the index
                    tx.seqno = e[5] + _EVERY  # was written: a gap, but no seqNo used twice
                self._add(tx)
                self.push(tx, *vs[0].lost(tx))
            continue
        if tx.id is None and not tx.lost and [tx.connector_id, tx.id_tag, tx.meter_start] == e[2:]:
            tx.id = e[1]
            tx.msgs.pop(0)
        elif len(e) > 5 and tx.id == e[1] and tx.seqno < e[5]:
            del tx.msgs[:e[5] - tx.seqno]
            tx.seqno = e[5]
        else:
            continue
        tx.tries = tx.due = 0
        tx.wait = ticks_ms()
        self.save(tx)
    self.txs.sort(key=lambda t: t.seq)
    if self._known() != old:
        self._index()


class Journal:
    def __init__(self, cp, size):
        self.cp = cp
        self.store = cp.store
        self.size = size  # transactions per connector: running + not yet fully reported
        self.txs = []
        self.seq = self.order = 0
        for name in self.store.names("tx"):
            _load(self, name)
        _recover(self)

    def _add(self, tx):
        self.txs.append(tx)
        self.seq = max(self.seq, tx.seq)
        for m in tx.msgs:
            self.order = max(self.order, m[0])

    def _find(self, seq):
        for t in self.txs:
            if t.seq == seq:
                return t
        return None

    def _known(self):  # 1.6: the ids the CSMS gave; 2.0.1: ours, once the CSMS answered an event
        return [[t.seq, t.id, t.connector_id, t.id_tag, t.meter_start] + ([] if type(t.id) is int else [t.seqno])
                for t in self.txs if type(t.id) is int or t.seqno]

    def _index(self):
        return self.store.save(_INDEX, self._known())

    def room(self, cid):
        n = 0
        for t in self.txs:
            n += t.connector_id == cid
        return n < self.size

    def save(self, tx):
        """False if the record could not be written: the transaction goes on in RAM (its
        messages are still sent) and the next save writes it whole."""
        return tx.unreported or self.store.save(_name(tx), tx.state())

    def add(self, tx, action, payload):
        """A new transaction and its first message, on flash before the charge begins;
        False if the record could not be written (the caller decides, see Connector._start)."""
        self.seq += 1
        tx.seq = self.seq
        self.txs.append(tx)
        self.cp._offer()  # from now on the link must speak this transaction's version
        return self.push(tx, action, payload)

    def push(self, tx, action, payload):
        """A message the transaction owes the CSMS; False if not on flash."""
        if tx.lost or tx.unreported:
            return True
        if _metered(action, payload):
            out = self.cp._txe  # the message in the queue or in flight stays
            mvs = [m for m in tx.msgs if _metered(m[1], m[2]) and not (out and out[2] is m[2])]
            if len(mvs) >= _MV_MAX:
                tx.msgs.remove(mvs[0])  # offline too long: keep the newest readings
        self.order += 1
        tx.msgs.append([self.order, action, payload])
        return self.save(tx)

    def next(self):
        """The transaction whose message is the oldest owed, or None."""
        best = None
        for t in self.txs:
            if t.msgs and (best is None or t.msgs[0][0] < best.msgs[0][0]):
                best = t
        return best

    def busy(self):
        for t in self.txs:
            if t.msgs:
                return True
        return False

    def done(self, tx, res):
        """The CSMS answered msgs[0]."""
        m = tx.msgs.pop(0)
        action = m[1]
        tx.tries = tx.due = 0
        if action == "StartTransaction":
            tx.id = res["transactionId"]
            self._index()  # before the record: the CSMS knows this transaction now
            self.cp.connectors[tx.connector_id].started(tx, res["idTagInfo"])
        elif action == "StopTransaction" and "idTagInfo" in res:
            self.cp.remember(tx.id_tag, res["idTagInfo"])
        elif action == "TransactionEvent":
            tx.seqno += 1  # saved with the record below: the next event's seqNo
            if tx.seqno % _EVERY == 1:  # known to the CSMS now; and so that a lost record's
                self._index()  # Ended gets a seqNo above every one answered (see _recover)
            t = m[2].get("idToken")
            if "idTokenInfo" in res and t and t["idToken"] == tx.id_tag:
                self.cp.connectors[tx.connector_id].started(tx, self.cp.v.id_info(res))
        self._settle(tx)

    def failed(self, tx, attempts, interval):
        """A CALLERROR or an invalid answer to msgs[0] (no answer is no attempt: see
        ChargePoint._timeout): attempt n+1 waits n × interval."""
        tx.tries += 1
        if tx.tries < attempts:
            tx.due = clock.now() + tx.tries * interval
            tx.wait = ticks_add(ticks_ms(), min(tx.tries * interval, 86400) * 1000)
            return self.save(tx)
        action = tx.msgs.pop(0)[1]
        log("journal: %s of transaction %s given up after %d attempts" % (action, tx.id, tx.tries))
        tx.tries = tx.due = 0
        if action == "StartTransaction":  # without an id nothing else can be reported
            tx.lost = True
            tx.msgs = []
            c = self.cp.connectors[tx.connector_id]
            if c.tx is tx:
                c.end("Other")
        self._settle(tx)

    def _settle(self, tx):
        if tx.stopped and not tx.msgs:
            self.forget(tx)
        else:
            self.save(tx)

    def forget(self, tx):
        ok = True
        if tx in self.txs:
            self.txs.remove(tx)
            ok = self._index()  # before the record goes: a cut sends its end twice, not never
        self.store.remove(_name(tx))
        if not ok:  # the removed record made room
            self._index()
