# Reservation profile (OCPP 1.6 §5.13 ReserveNow, §5.2 CancelReservation): who may use a
# reserved connector, the Reserved status, expiry. Reservations are few: a list, saved as JSON.
# This module declares the profile; the reservations and the code that keeps them are
# reservation_calls.py, loaded while there is one: `cp.reservation` is None without, and an
# idle charger holds none of it.
#
# A reservation on connector 0 holds no connector of its own, it keeps one free: with k such
# reservations, a connector is Reserved (and refuses other idTags) while no more than k
# connectors are free (operative, not faulted, no cable, no session or transaction, no
# reservation of their own). A matching idTag may take any free connector.
# A reservation ends (§5.13) when the wall clock passes its expiryDate (a clock change is
# followed), or when its connector or the charge point becomes Faulted or Unavailable.
PROFILE = "Reservation"
CALLS = ("ReserveNow", "CancelReservation")  # reservation_calls.py, imported for the call only

_KEYS = (("ReserveConnectorZeroSupported", 0, 1, True),)  # config.BOOL, RO: a constant in flash


def setup(cp):
    from .ocpp16 import load

    cp.config.add(_KEYS)
    load("reservation_calls").Reservations(cp)  # those saved before a reboot, if any


def loop(cp, now):
    r = cp.reservation
    if r:
        r.loop(now)
