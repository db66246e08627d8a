"""The flash fills up during a transaction, against the real CSMS (tools/csms.py) over a real
WebSocket, in-process on CPython: every write from then on fails with ENOSPC, nothing raises
out of loop(), and the CSMS gets the StartTransaction, the MeterValues and the
StopTransaction, each exactly once. Then there is room again and the next transaction is
stored as usual. The same faults over a fake link, on both runtimes:
tests_host/mpy/test_flash_full_mp.py."""
import os

from tests_host.mpy.test_flash_full_mp import LOG, Full
from tests_host.test_state_files import Charger


def test_the_flash_fills_during_a_transaction(csms, tmp_path):
    ch = Charger(csms, str(tmp_path))
    cp = ch.cp
    ch.run(lambda: cp.accepted)
    tid = ch.start()
    full = Full()
    try:
        c = cp.connectors[1]
        c.sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")
        ch.run(lambda: csms.transactions[tid]["meter_values"])
        cp.tag(1, "A")
        ch.run(lambda: csms.transactions[tid]["stop"] is not None and not cp.journal.txs)
        ch.settle()
        assert full.failed >= 3 and len([x for x in LOG if "not written" in x]) == full.failed
        t = csms.transactions[tid]
        assert t["starts"] == 1 and t["stops"] == 1 and len(t["meter_values"]) == 1
        assert "tx1.json" not in os.listdir(tmp_path)
        full.room = None  # room again
        ch.plugged[1] = False
        ch.settle(0.2)
        tid2 = ch.start(tag="B")
        assert "tx2.json" in os.listdir(tmp_path)
        cp.tag(1, "B")
        ch.run(lambda: csms.transactions[tid2]["stop"] is not None and not cp.journal.txs)
        ch.settle()
    finally:
        full.undo()
        ch.off()
    assert len(csms.transactions) == 2 and csms.transactions[tid2]["stops"] == 1
    assert csms.violations == []
