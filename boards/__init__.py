# Board support for mpy_ocpp chargers: one module per board (pin map, bring-up), main.py
# (the charger, chosen by /config.json) and the device drivers in drivers/.
