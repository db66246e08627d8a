# The transaction journal: every transaction and the messages it owes the CSMS, one file per
# transaction (txN.json), written atomically at every change before anything depends on it.
# Messages go out one at a time in the order they were made, across all transactions, and
# survive power cuts: after boot the journal is read back and sending resumes.
import json

from . import clock
from .compat import log, ticks_add, ticks_ms
from .transaction import Transaction

_MV_MAX = 6  # MeterValues a transaction may owe; when more are taken offline the oldest goes


def _name(tx):
    return "tx%d.json" % tx.seq


class Journal:
    def __init__(self, cp, size):
        self.cp = cp
        self.store = cp.store
        self.size = size  # transactions per connector: running + not yet fully reported
        self.txs = []
        self.seq = self.order = 0
        for name in self.store.names("tx"):
            self._load(name)
        self.txs.sort(key=lambda t: t.seq)

    def _load(self, name):
        data = self.store.read(name)
        try:
            tx = Transaction.restore(json.loads(data))
        except (ValueError, TypeError):
            tx = None
        if tx is None or name != _name(tx):
            log("journal: %s is corrupt, set aside as %s.bad" % (name, name))
            self.store.quarantine(name)
            return
        self.txs.append(tx)
        self.seq = max(self.seq, tx.seq)
        for m in tx.msgs:
            self.order = max(self.order, m[0])
        tx.wait = ticks_add(ticks_ms(), max(0, min(tx.due - clock.now(), 86400)) * 1000)

    def room(self, cid):
        n = 0
        for t in self.txs:
            n += t.connector_id == cid
        return n < self.size

    def save(self, tx):
        if not tx.unreported:
            self.store.save(_name(tx), tx.state())

    def add(self, tx, payload):
        """A new transaction and its StartTransaction, on flash before the charge begins."""
        self.seq += 1
        tx.seq = self.seq
        self.txs.append(tx)
        self.push(tx, "StartTransaction", payload)

    def push(self, tx, action, payload):
        """A message the transaction owes the CSMS."""
        if tx.lost or tx.unreported:
            return
        mvs = [m for m in tx.msgs if m[1] == "MeterValues"]
        if action == "MeterValues" and len(mvs) >= _MV_MAX:
            tx.msgs.remove(mvs[0])  # offline too long: keep the newest readings
        self.order += 1
        tx.msgs.append([self.order, action, payload])
        self.save(tx)

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
        action = tx.msgs.pop(0)[1]
        tx.tries = tx.due = 0
        if action == "StartTransaction":
            tx.id = res["transactionId"]
            self.cp.connectors[tx.connector_id].started(tx, res["idTagInfo"])
        elif action == "StopTransaction" and "idTagInfo" in res:
            self.cp.remember(tx.id_tag, res["idTagInfo"])
        self._settle(tx)

    def failed(self, tx, attempts, interval):
        """A CALLERROR or no answer to msgs[0]: attempt n+1 waits n × interval."""
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
        if tx in self.txs:
            self.txs.remove(tx)
        self.store.remove(_name(tx))
