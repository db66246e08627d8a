# ESP32 DevKit (ESP32-WROOM-32). Analog inputs only on ADC1 (GPIO 32-39): ADC2 stops
# working once Wi-Fi is on. GPIO 34-39 are input-only, without pull-ups.
import machine

from .board import Board


class ESP32DevKit(Board):
    NAME = "esp32_devkit"
    PINS = {
        "led": 2,  # on-board blue LED
        "relay": 26, "relay_fb": 27,  # contactor driver, feedback (opto, active low)
        "cp_pwm": 25, "cp_adc": 34, "pp_adc": 35,  # control pilot out/in, proximity pilot
        "spi_sck": 18, "spi_mosi": 23, "spi_miso": 19, "rfid_cs": 5, "rfid_rst": 32,  # VSPI
        "i2c_scl": 22, "i2c_sda": 21,  # PN532 alternative
        "uart_tx": 17, "uart_rx": 16, "rs485_de": 4,  # UART2 to the RS-485 transceiver
    }
    SPI_ID = 2  # VSPI
    UART_ID = 2
    # With 11 dB attenuation the ADC reads about 0.15-2.45 V linearly: the front-end maps
    # -12..+12 V onto that span; calibrate per board in config.json ("pilot_zero"/"pilot_scale").
    PILOT_ZERO = 25600
    PILOT_SCALE = 24.0 / 47000

    def adc(self, name):
        a = machine.ADC(machine.Pin(self.pin_id(name)))
        a.atten(machine.ADC.ATTN_11DB)
        return a


BOARD = ESP32DevKit
