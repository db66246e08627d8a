# One charging transaction as the CSMS will see it: StartTransaction, MeterValues, StopTransaction.
from . import clock

_DATA_MAX = 8  # transactionData entries kept for StopTransaction (Transaction.Begin + newest)


class Transaction:
    def __init__(self, connector_id, id_tag, parent, meter_start):
        self.connector_id = connector_id
        self.id_tag = id_tag
        self.parent = parent  # parentIdTag, for stopping with another card of the same group
        self.meter_start = meter_start
        self.start_time = clock.now()
        self.id = None  # transactionId, once the CSMS has answered StartTransaction
        self.deauthorized = False
        self.reservation = None  # reservationId it used
        self.data = []  # meterValues for StopTransaction.transactionData

    def add(self, meter_value):
        if meter_value is None:
            return
        if len(self.data) >= _DATA_MAX:
            self.data.pop(1 if len(self.data) > 1 else 0)  # keep the Transaction.Begin sample
        self.data.append(meter_value)

    def matches(self, id_tag, parent):
        return id_tag == self.id_tag or (parent is not None and parent == self.parent)
