"""RFID readers against simulated chips: the MFRC522's register traffic over SPI for card
reads (4-, 7- and 10-byte UIDs, cascade levels, collisions between two cards), the PN532's
frames over I2C, the idTag format options and reader failures."""
import pytest

from tests_host import boardsim  # noqa: F401  (stubs first on sys.path)

import machine  # noqa: E402
import sim_devices as sd  # noqa: E402
from boards.drivers.mfrc522 import MFRC522  # noqa: E402
from boards.drivers.pn532 import PN532, frame, parse  # noqa: E402
from boards.drivers.rfid import FAILURE  # noqa: E402

CS = 5


@pytest.fixture(autouse=True)
def fresh():
    machine.reset_all()
    yield


def mfrc(**fmt):
    chip = sd.SimMFRC522()
    machine.attach_spi(2, CS, chip)
    reader = MFRC522(machine.SPI(2), machine.Pin(CS, machine.Pin.OUT, value=1), **fmt)
    return chip, reader


def picc_frames(log):
    """(bytes sent to the card, BitFramingReg) for every Transceive, in order."""
    out, fifo = [], []
    for op, reg, v in log:
        if op != "w":
            continue
        if reg == 0x0A and v & 0x80:
            fifo = []
        elif reg == 0x09:
            fifo.append(v)
        elif reg == 0x0D and v & 0x80:
            out.append((bytes(fifo), v & 0x7F))
    return out


def crc_inputs(log):
    """The FIFO content of every CalcCRC command."""
    out, fifo = [], []
    for op, reg, v in log:
        if op == "w" and reg == 0x0A and v & 0x80:
            fifo = []
        elif op == "w" and reg == 0x09:
            fifo.append(v)
        elif op == "w" and reg == 0x01 and v == 0x03:
            out.append(bytes(fifo))
    return out


def test_init_register_traffic_and_spi_address_bytes():
    chip, reader = mfrc()
    assert reader.version == 0x92 and reader.error() is None
    # write: (reg << 1) & 0x7E, then the value; read: | 0x80, then 0x00 clocks the value out
    assert chip.frames[0] == (b"\x02\x0f", b"\x00\x00")  # CommandReg <- SoftReset
    assert (b"\xee\x00", b"\x00\x92") in chip.frames  # VersionReg 0x37 -> 0x92
    writes = [(r, v) for op, r, v in chip.ops("w")]
    assert writes == [(0x01, 0x0F), (0x2A, 0x80), (0x2B, 0xA9), (0x2C, 0x00), (0x2D, 0xC8),
                      (0x15, 0x40), (0x11, 0x3D), (0x14, 0x83)]
    assert ("r", 0x14, 0x80) in chip.log  # antenna bits set read-modify-write


def test_no_card_is_one_reqa_that_times_out():
    chip, reader = mfrc()
    del chip.log[:]
    assert reader.poll(0) is None
    assert picc_frames(chip.log) == [(b"\x26", 0x07)]  # REQA, 7 bits
    assert chip.log[:7] == [("w", 0x01, 0x00), ("w", 0x04, 0x7F), ("w", 0x0A, 0x80), ("w", 0x09, 0x26),
                            ("w", 0x0D, 0x07), ("w", 0x01, 0x0C), ("w", 0x0D, 0x87)]
    assert ("r", 0x04, 0x41) in chip.log  # TxIRq | TimerIRq: nobody answered


def test_four_byte_uid_read():
    chip, reader = mfrc()
    chip.present(sd.Card(bytes.fromhex("04A2B3C4")))
    del chip.log[:], chip.frames[:]
    assert reader.poll(0) == "04A2B3C4"
    bcc = 0x04 ^ 0xA2 ^ 0xB3 ^ 0xC4
    sel = bytes((0x93, 0x70, 0x04, 0xA2, 0xB3, 0xC4, bcc))
    assert picc_frames(chip.log) == [
        (b"\x26", 0x07),  # REQA
        (b"\x93\x20", 0x00),  # anticollision, cascade level 1
        (sel + sd.crc_a(sel), 0x00),  # SELECT with the chip's CRC_A
        (b"\x50\x00\x57\xcd", 0x00),  # HLTA
    ]
    assert crc_inputs(chip.log) == [sel, b"\x50\x00"]
    assert ("r", 0x0A, 2) in chip.log  # the REQA's answer: 2 bytes of ATQA in the FIFO
    # the anticollision answer (UID CL1 + BCC) read in one SPI frame, FIFODataReg 5 times
    assert (b"\x92\x92\x92\x92\x92\x00", b"\x00\x04\xa2\xb3\xc4" + bytes((bcc,))) in chip.frames
    assert chip.cards[0].state == "HALT"
    assert reader.poll(1000) is None  # halted: read once while it stays on the reader


def test_seven_and_ten_byte_uids_use_the_cascade_levels():
    chip, reader = mfrc()
    chip.present(sd.Card(bytes.fromhex("04112233445566")))
    del chip.log[:]
    assert reader.poll(0) == "04112233445566"
    sent = [f for f, _ in picc_frames(chip.log)]
    assert sent[1] == b"\x93\x20" and sent[2][:3] == b"\x93\x70\x88" and sent[2][3:6] == b"\x04\x11\x22"
    assert sent[3] == b"\x95\x20" and sent[4][:6] == b"\x95\x70\x33\x44\x55\x66"
    assert len(sent) == 6
    chip.present(sd.Card(bytes.fromhex("04112233445566778899")))
    del chip.log[:]
    assert reader.poll(5000) == "04112233445566778899"
    assert [f[:2] for f, _ in picc_frames(chip.log)][1:6] == [b"\x93\x20", b"\x93\x70", b"\x95\x20",
                                                              b"\x95\x70", b"\x97\x20"]


def test_anticollision_resolves_two_cards_bit_by_bit():
    chip, reader = mfrc()
    a, b = sd.Card(bytes.fromhex("11223344")), sd.Card(bytes.fromhex("11A23344"))  # differ in bit 15
    chip.present(a, b)
    del chip.log[:]
    assert reader.poll(0) == "11A23344"  # the 1 branch wins
    frames = picc_frames(chip.log)
    # after the collision at UID bit 15 the known 16 bits go out: NVB 0x40, the 1 at bit 15 set
    assert (b"\x93\x40\x11\xa2", 0x00) in frames
    assert ("r", 0x06, 0x08) in chip.log  # ErrorReg: CollErr
    assert ("r", 0x0E, 0x10) in chip.log  # CollReg: CollPos 16
    assert reader.poll(10000) == "11223344"  # the other one, once the first is halted
    # a collision in the middle of a byte: bit-oriented frame with RxAlign = TxLastBits
    chip.present(sd.Card(bytes.fromhex("11223344")), sd.Card(bytes.fromhex("11223364")))
    del chip.log[:]
    assert reader.poll(20000) == "11223364"
    assert (b"\x93\x56\x11\x22\x33\x24", 0x66) in picc_frames(chip.log)  # 30 bits known


def test_id_tag_format_and_repeat_suppression():
    chip, reader = mfrc(order="lsb", case="lower", repeat_ms=2000)
    card = sd.Card(bytes.fromhex("04A2B3C4"))
    chip.present(card)
    assert reader.poll(0) == "c4b3a204"
    chip.present(card)  # taken away and shown again at once: a bounce, not a new swipe
    assert reader.poll(500) is None
    chip.present(card)
    assert reader.poll(3000) == "c4b3a204"


def test_missing_mfrc522_is_a_reader_failure():
    reader = MFRC522(machine.SPI(2), machine.Pin(CS, machine.Pin.OUT, value=1))  # nothing on the bus
    assert reader.version == 0 and reader.error() == FAILURE
    assert FAILURE[0] == "ReaderFailure" and FAILURE[3] is False  # reported, not Faulted
    assert reader.poll(0) is None


# PN532 on I2C

def pn532():
    chip = sd.SimPN532()
    machine.attach_i2c(0, 0x24, chip)
    return chip, PN532(machine.I2C(0), poll_ms=0)


def run(reader, polls, t0=0, step=10):
    for i in range(polls):
        tag = reader.poll(t0 + i * step)
        if tag:
            return tag
    return None


def test_pn532_frames():
    assert frame(0x14, b"\x01\x14\x01") == bytes.fromhex("0000ff05fbd414011401020 0".replace(" ", ""))
    assert frame(0x4A, b"\x01\x00") == bytes.fromhex("0000ff04fcd44a0100e100")
    assert parse(b"\x01" + sd.SimPN532.frame(b"\xd5\x15"), 0x14) == b""
    assert parse(b"\x01\x00\x00\xff\x02\xfe\xd5\x15\x17\x00", 0x14) is None  # bad DCS


def test_pn532_reads_a_card_without_blocking():
    chip, reader = pn532()
    assert run(reader, 20) is None  # SAM configured, InListPassiveTarget waits for a card
    assert chip.written == [bytes.fromhex("0000ff05fbd414011401 0200".replace(" ", "")),
                            bytes.fromhex("0000ff04fcd44a0100e100")]
    chip.cards = [sd.Card(bytes.fromhex("04112233445566"))]
    assert run(reader, 10, 1000) == "04112233445566"
    assert run(reader, 10, 1200) is None  # the same card still there: not again
    chip.cards = []


def test_pn532_gone_is_a_reader_failure_then_recovers():
    chip, reader = pn532()
    run(reader, 5)
    chip.present = False
    run(reader, 3, 100)
    assert reader.error() == FAILURE
    chip.present = True
    chip.cards = [sd.Card(bytes.fromhex("DEADBEEF"))]
    assert run(reader, 50, 5000, 100) == "DEADBEEF"
    assert reader.error() is None
