# Raspberry Pi Pico W (RP2040 + CYW43439). GP23-25 and GP29 belong to the radio; the LED is
# on the radio chip ("LED"). The watchdog tops out at 8388 ms and cannot be stopped.
from .board import Board


class PicoW(Board):
    NAME = "pico_w"
    PINS = {
        "led": "LED",
        "relay": 14, "relay_fb": 15,
        "cp_pwm": 13, "cp_adc": 26, "pp_adc": 27,  # ADC0, ADC1
        "spi_sck": 18, "spi_mosi": 19, "spi_miso": 16, "rfid_cs": 17, "rfid_rst": 22,  # SPI0
        "i2c_scl": 21, "i2c_sda": 20,  # I2C0
        "uart_tx": 0, "uart_rx": 1, "rs485_de": 2,  # UART0
    }
    SPI_ID = 0
    I2C_ID = 0
    UART_ID = 0
    WDT_MS = 8000
    PILOT_ZERO = 32768  # 3.3 V ADC, front-end centred at 1.65 V
    PILOT_SCALE = 24.0 / 65535

    def wifi(self, wait_ms=15000):
        country = self.cfg.get("wifi", {}).get("country")
        if country:
            import rp2
            rp2.country(country)
        return Board.wifi(self, wait_ms)


BOARD = PicoW
