# Freezes the library and the board support (both board modules, every driver) into a firmware:
#   make firmware MICROPY=/path/to/micropython BOARD=ESP32_GENERIC   (or BOARD=RPI_PICO_W), i.e.
#   cd micropython/ports/esp32 && make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/abs/path/boards/manifest.py
#   cd micropython/ports/rp2   && make BOARD=RPI_PICO_W   FROZEN_MANIFEST=/abs/path/boards/manifest.py
# ../manifest.py includes the board's own manifest (once in the chain) and freezes mpy_ocpp.
# /main.py on the board's filesystem starts the charger: `from boards.main import run; run()`.
include("../manifest.py")
package("boards", files=(
    "__init__.py", "board.py", "main.py", "esp32_devkit.py", "pico_w.py",
    "drivers/__init__.py", "drivers/relay.py", "drivers/rfid.py", "drivers/mfrc522.py",
    "drivers/pn532.py", "drivers/modbus.py", "drivers/meters.py", "drivers/pilot.py",
), base_path="..", opt=3)
