# mpy_ocpp: an OCPP 1.6-J charge point for MicroPython and CPython.
from . import compat  # noqa: F401 (first: CPython's const)
from .chargepoint import ChargePoint

__version__ = "0.1.0"
