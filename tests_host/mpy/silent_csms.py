# A charge point against a CSMS that stops answering, run on CPython or the MicroPython unix
# port by tests_host/test_protocol_hardening.py:
#   silent_csms.py URL STATE_DIR FLAG
# Boots, prints READY, waits for the file FLAG.silent (the CSMS is silent from then on), starts
# a transaction and charges on until FLAG.answer appears (the CSMS answers again), then ends it
# and prints "OK <transactionId>" once the journal is empty. A failed check exits 1.
import sys
import time

from mpy_ocpp import ChargePoint
from mpy_ocpp.compat import ticks_diff, ticks_ms
from mpy_ocpp.store import Store
from mpy_ocpp.ws import WebSocket

url, state, flag = sys.argv[1:4]
cp = ChargePoint("CP_1", WebSocket(url + "/CP_1"), Store(state), connectors=1, call_timeout=2)
c = cp.connectors[1]
plugged = [False]
c.plugged = lambda: plugged[0]
c.energy = lambda: 1000


def exists(path):
    try:
        open(path).close()
        return True
    except OSError:
        return False


def run(cond, ms, what, check=None):
    t = ticks_ms()
    while not cond():
        cp.loop()
        if check:
            check()
        time.sleep(0.005)
        assert ticks_diff(ticks_ms(), t) < ms, what


def charging():
    tx = c.tx
    assert tx is not None and not tx.lost and tx.tries == 0, "the transaction was given up"


run(lambda: cp.accepted and not cp.queue and cp.pending is None, 20000, "boot")
cp.config.change("TransactionMessageAttempts", "1")  # a single error answer would end it
print("READY")
run(lambda: exists(flag + ".silent"), 20000, "no silence")
plugged[0] = True
c.begin("TAG")
run(lambda: c.tx is not None, 5000, "no start")
run(lambda: exists(flag + ".answer"), 60000, "the CSMS never answered again", charging)
tx = c.tx
run(lambda: tx.id is not None, 20000, "no transactionId", charging)
c.end()
run(lambda: not cp.journal.txs, 20000, "the StopTransaction never went")
print("OK %d" % tx.id)
