# Freezes mpy_ocpp into a MicroPython firmware (`make firmware` runs this), e.g.
#   cd micropython/ports/esp32 && make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/abs/path/manifest.py
#   cd micropython/ports/rp2   && make BOARD=RPI_PICO_W   FROZEN_MANIFEST=/abs/path/manifest.py
#   cd micropython/ports/unix  && make FROZEN_MANIFEST=/abs/path/manifest.py BOARD_DIR=variants/standard
# Frozen bytecode stays in flash: the schema and configuration tables then cost no heap.
#
# FROZEN_MANIFEST replaces the manifest the board would freeze, so include that one first,
# found as the port's build finds it: the board's own (rp2 RPI_PICO_W: ntptime, ssl, mip,
# aioble...), else the port's (esp32, rp2 RPI_PICO), else, on the unix port, whose variant is
# its board (pass BOARD_DIR=variants/<variant>), the variants' shared one. qemu has none.
# A board whose mpconfigboard names another file (manifest_2MiB.py, another board's as on
# PYBD_SF3) needs an include of its own. makemanifest.py has no exists() for manifests: a
# missing file is an include() that fails on opening it, told apart from an error inside one.


import os  # noqa: E402


def _board_manifest(*paths):
    for path in paths:
        try:
            include(path)  # noqa: F821 (makemanifest.py provides include, package, metadata)
            return
        except Exception as e:
            if not isinstance(e.__context__, FileNotFoundError):
                raise


_board_manifest("$(BOARD_DIR)/manifest.py", "$(PORT_DIR)/boards/manifest.py",
                "$(PORT_DIR)/variants/manifest.py")
# No version= here: makemanifest.py would append `__version__ = ...` to every module without
# one, a global of each frozen module on the heap (8 B each). The version is the package's own,
# mpy_ocpp.__version__, as in package.json.
metadata(description="OCPP 1.6-J charge point for microcontrollers", license="MIT")  # noqa: F821
# The build's environment chooses the versions: no MPY_OCPP_201, 1.6 only (a 1.6 firmware
# carries nothing of 2.0.1); MPY_OCPP_201=1, both (e.g. `MPY_OCPP_201=1 make firmware ...`);
# MPY_OCPP_201=only, 2.0.1 without 1.6's version module, tables and feature profiles (the
# firmware then passes versions=(ocpp201,)). The manifest runs in its own directory
# (makemanifest.py changes to it).
_V201 = ("ocpp201.py", "schema201.py", "device_model.py", "provisioning.py", "availability.py",
         "remote_control.py", "transactions.py")
_V16 = ("ocpp16.py", "core.py", "schema.py", "local_auth_list.py", "reservation.py",
        "smart_charging.py", "remote_trigger.py", "firmware_management.py", "http.py",
        "security.py")
_which = os.environ.get("MPY_OCPP_201")
_out = {"1": (), "only": _V16 + ("negotiation.py",)}.get(_which, _V201 + ("negotiation.py",))
# MPY_OCPP_SECURITY=1 adds the 1.6 Security extension, signed meter values and Plug & Charge
# (security.py with certificate_chains.py and certificates.py, which 2.0.1 needs anyway): without it a firmware pays
# nothing for them.
if os.environ.get("MPY_OCPP_SECURITY") != "1":
    _out += ("security.py", "certificate_chains.py", "signed_meter_values.py", "plug_and_charge.py") + (
        ("certificates.py",) if _which is None else ())
_out += tuple([f[:-3] + "_calls.py" for f in _out])  # a profile's calls go with it
_files = sorted([f for f in os.listdir("mpy_ocpp") if f.endswith(".py") and f not in _out])
# opt=3: no asserts, no line numbers (tracebacks name none): 6 % less flash than opt=2
package("mpy_ocpp", files=_files, opt=3)  # noqa: F821
