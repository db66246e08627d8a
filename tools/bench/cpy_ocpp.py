# CPython side of the comparison: the `ocpp` package's v16 ChargePoint (websockets client)
# doing the same session as cpy_ours.py: boot, a StatusNotification per connector, then N
# MeterValues, each awaited. Defaults of the package are kept (schema validation on).
#   python tools/bench/cpy_ocpp.py WS_URL N   -> "SESSION <import s> <session s> <peak RSS KiB>"
import sys
import time


def hwm():
    """Peak RSS of this process in KiB (VmHWM): unlike ru_maxrss it does not start from the
    parent's size at fork."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1])
    return 0


t0 = time.perf_counter()
import asyncio  # noqa: E402
import datetime  # noqa: E402

import websockets  # noqa: E402
from ocpp.v16 import ChargePoint, call  # noqa: E402

t1 = time.perf_counter()


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


async def session(url, n):
    async with websockets.connect(url + "/BENCH_OCPP", subprotocols=["ocpp1.6"]) as ws:
        cp = ChargePoint("BENCH_OCPP", ws)
        task = asyncio.create_task(cp.start())
        res = await cp.call(call.BootNotification(charge_point_vendor="ocpp", charge_point_model="bench"))
        assert res.status == "Accepted", res
        for cid in (0, 1, 2):
            await cp.call(call.StatusNotification(connector_id=cid, error_code="NoError",
                                                  status="Available", timestamp=now()))
        for i in range(n):
            await cp.call(call.MeterValues(connector_id=1, meter_value=[{"timestamp": now(), "sampledValue": [
                {"value": str(1000 + i), "context": "Sample.Periodic",
                 "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]))
        task.cancel()


asyncio.run(session(sys.argv[1], int(sys.argv[2])))
t2 = time.perf_counter()
print("SESSION %.4f %.4f %d" % (t1 - t0, t2 - t1, hwm()))
