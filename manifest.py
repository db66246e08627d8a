# Freezes mpy_ocpp into a MicroPython firmware, e.g. in micropython/ports/esp32:
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/abs/path/to/mpy_ocpp/manifest.py
# (ports/rp2: BOARD=RPI_PICO_W). Frozen bytecode stays in flash: the schema and
# configuration tables then cost no heap.
include("$(PORT_DIR)/boards/manifest.py")
metadata(description="OCPP 1.6-J charge point for microcontrollers", version="0.1.0", license="MIT")
package("mpy_ocpp", opt=2)
