# Smart Charging (OCPP 1.6 §3.13): charging profiles, the composite schedule and the limit
# output. Decisions (README / DESIGN say the same):
# - connector.limit, handed to the firmware's on_limit, is always amps per phase rounded to
#   0.1 A (the control pilot signals amps); W converts with `voltage` (230 V) × numberPhases
#   (3 when the period does not say). None = no limit. `voltage` and `max_current` are class
#   attributes of smart_charging_calls.SmartCharging: a firmware sets them there.
# - Effective limit = min(ChargePointMaxProfile, TxProfile in effect, else TxDefaultProfile).
#   The ChargePointMaxProfile applies in full to each connector (it is not shared out).
#   Within a purpose the highest stack level in effect wins; a TxDefaultProfile of the
#   connector beats connector 0's on the same level. A profile whose schedule has ended
#   (duration) or is not valid (validFrom/validTo) makes way for lower stack levels.
# - A Recurring schedule repeats before its startSchedule too (validFrom bounds it).
# - Relative schedules start with the connector's transaction (without one: now, and for
#   GetCompositeSchedule at scheduleStart); Absolute without startSchedule starts when received.
# - GetCompositeSchedule reports `max_current` where no profile limits; for connector 0 it
#   gives the ChargePointMaxProfile. minChargingRate is reported there, it never changes the limit.
# - Profiles are compact lists (limits in tenths, periods flat), persisted in _FILE when the
#   set changes. A TxProfile is saved with its transaction's journal record number: it dies
#   with the transaction and comes back with it when a power cut resumes it.
# This module declares the profile; the profiles and the code that computes the limits are
# smart_charging_calls.py, held while a profile is installed or waits for its transaction
# (`cp.smart_charging`, None without one): an idle charger holds none of it.
PROFILE = "SmartCharging"
# smart_charging_calls.py, imported for the call only
CALLS = ("SetChargingProfile", "ClearChargingProfile", "GetCompositeSchedule")

# config.INT, LIST, RO: constants of this module, so that the table is one constant in flash
_INT = const(1)
_LIST = const(5)
_RO = const(1)
_KEYS = (("ChargeProfileMaxStackLevel", _INT, _RO, 8),
         ("ChargingScheduleAllowedChargingRateUnit", _LIST, _RO, "Current,Power"),
         ("ChargingScheduleMaxPeriods", _INT, _RO, 24), ("MaxChargingProfilesInstalled", _INT, _RO, 8))


def setup(cp):
    from .ocpp16 import load

    # A microcontroller keeps every profile in RAM: 8 profiles of up to 24 periods (an hourly
    # day plan) are about 4 KB of heap and a 5 KB file at most, and 8 levels cover the usual
    # CSMS layering (base, tariff, grid operator, override).
    cp.config.add(_KEYS)
    load("smart_charging_calls").SmartCharging(cp)  # the profiles saved before a reboot, if any


def loop(cp, now):
    s = cp.smart_charging
    if s:
        s.loop(now)
