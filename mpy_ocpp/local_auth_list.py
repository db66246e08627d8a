# Local Auth List Management profile (OCPP 1.6 §3.5.3, §5.10, §5.15). The list lives in one
# file of fixed-width records sorted by idTag, searched in place by binary search: it costs
# no heap however long it is. This module declares the profile; the list's code is
# local_auth_list_calls.py, loaded for each use: a lookup, a call (`cp.local_list` is the
# list's version, None without a list).
PROFILE = "LocalAuthListManagement"
CALLS = ("GetLocalListVersion", "SendLocalList")  # local_auth_list_calls.py, imported for the call only

# config.BOOL, INT, RO: constants of this module, so that the table is one constant in flash
_BOOL = const(0)
_INT = const(1)
_RO = const(1)
_KEYS = (("LocalAuthListEnabled", _BOOL, 0, True),
         ("LocalAuthListMaxLength", _INT, _RO, 500),  # 45 bytes of flash each, no RAM
         ("SendLocalListMaxLength", _INT, _RO, 50))  # 50 entries fit the default 4 KB frame


def setup(cp):
    from .ocpp16 import load

    cp.config.add(_KEYS)
    load("local_auth_list_calls").LocalList(cp, True)  # the list stored, if any
