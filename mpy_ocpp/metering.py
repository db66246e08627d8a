# Meter values: which measurands exist, how a connector's inputs are sampled into a meterValue.
from . import clock

# OCPP 1.6 measurands and their units ("" = the value has no unit).
MEASURANDS = (
    ("Energy.Active.Export.Register", "Wh"), ("Energy.Active.Import.Register", "Wh"),
    ("Energy.Reactive.Export.Register", "varh"), ("Energy.Reactive.Import.Register", "varh"),
    ("Energy.Active.Export.Interval", "Wh"), ("Energy.Active.Import.Interval", "Wh"),
    ("Energy.Reactive.Export.Interval", "varh"), ("Energy.Reactive.Import.Interval", "varh"),
    ("Power.Active.Export", "W"), ("Power.Active.Import", "W"), ("Power.Offered", "W"),
    ("Power.Reactive.Export", "var"), ("Power.Reactive.Import", "var"), ("Power.Factor", ""),
    ("Current.Import", "A"), ("Current.Export", "A"), ("Current.Offered", "A"),
    ("Voltage", "V"), ("Frequency", ""), ("Temperature", "Celsius"), ("SoC", "Percent"),
    ("RPM", ""),
)

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"


def _entry(measurand):
    """(name, unit) of the table: its name is the string in flash on a frozen build, where
    the one split from the configuration would take heap in every kept meter value."""
    for e in MEASURANDS:
        if e[0] == measurand:
            return e
    return measurand, None


def inputs(c, measurand):
    """The (read, phase) inputs connector `c` has for a measurand."""
    if measurand == ENERGY and c.energy:
        return ((c.energy, None),)
    if measurand == POWER and c.power:
        return ((c.power, None),)
    return [(f, p) for m, f, p in c.meters if m == measurand]


def _text(v):
    return str(v) if isinstance(v, int) else "%.1f" % v


def sample(c, measurands, context, sign=False):
    """A meterValue of connector `c` for a comma-separated measurand list, or None if empty;
    `sign`: with the signed reading of its "SignedData" input, if the context calls for one."""
    values = []
    for m in measurands.split(",") if measurands else ():
        m, u = _entry(m)
        for read, phase in inputs(c, m):
            v = read()
            if v is None:
                continue
            sv = {"value": _text(v), "context": context, "measurand": m}
            if u:
                sv["unit"] = u
            if phase:
                sv["phase"] = phase
            values.append(sv)
    if sign and c.cp.config.entry("SampledDataSignReadings"):  # signed_meter_values.py is in
        from .signed_meter_values import add
        add(c, context, values)
    if not values:
        return None
    return {"timestamp": clock.iso(), "sampledValue": values}
