"""A stand-in for MicroPython's `esp32` module on CPython, for the board tests: Partition over
a simulated NOR flash with two OTA app partitions ("ota_0" running at first, "ota_1"), and
the bootloader's rollback. An erase sets a 4096-byte block to 0xFF; a write can only clear
bits (AND), so a write without its erase shows up as corrupt data.

`reset_all(blocks)` starts afresh; `reboot()` does what the bootloader does at a reset: it
boots the partition set_boot() chose, and a new app that did not call
mark_app_valid_cancel_rollback() before the next reset is rolled back. `state` holds
running/boot/previous/pending; `flash[label]` the bytes, `erases`/`writes` count operations."""
BLOCK = 4096
flash = {}
state = {}
ops = {"erases": 0, "writes": 0}


def reset_all(blocks=16):
    flash.clear()
    for label in ("ota_0", "ota_1"):
        flash[label] = bytearray(b"\xff" * (blocks * BLOCK))
    flash["ota_0"][0] = 0xE9  # the running app
    state.clear()
    state.update(running="ota_0", boot="ota_0", previous=None, pending=False)
    ops.update(erases=0, writes=0)


def reboot():
    s = state
    if s["pending"]:  # the new app never said it works: back to the previous one
        s["boot"] = s["running"] = s["previous"]
        s["pending"] = False
    elif s["boot"] != s["running"]:
        s["previous"], s["running"], s["pending"] = s["running"], s["boot"], True


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=BLOCK):
        if id == Partition.BOOT:
            id = state["boot"]
        elif id == Partition.RUNNING:
            id = state["running"]
        if id not in flash:
            raise OSError(2, "ENOENT")
        self.label = id
        self.mem = flash[id]

    def info(self):
        return (0, 0x10 + int(self.label[-1]), 0x10000 + int(self.label[-1]) * len(self.mem),
                len(self.mem), self.label, False)

    def ioctl(self, cmd, arg):
        if cmd == 4:
            return len(self.mem) // BLOCK
        if cmd == 5:
            return BLOCK
        if cmd == 6:
            self._erase(arg)
            return 0
        return None

    def _erase(self, block):
        self.mem[block * BLOCK:(block + 1) * BLOCK] = b"\xff" * BLOCK
        ops["erases"] += 1

    def readblocks(self, block, buf, offset=0):
        a = block * BLOCK + offset
        if a + len(buf) > len(self.mem):
            raise OSError(22, "EINVAL")
        buf[:] = self.mem[a:a + len(buf)]

    def writeblocks(self, block, buf, offset=None):
        a = block * BLOCK + (offset or 0)
        if a + len(buf) > len(self.mem):
            raise OSError(22, "EINVAL")
        if offset is None:  # the simple block protocol erases first
            if len(buf) % BLOCK:
                raise OSError(22, "EINVAL")
            for b in range(len(buf) // BLOCK):
                self._erase(block + b)
        for i, v in enumerate(bytes(buf)):
            self.mem[a + i] &= v
        ops["writes"] += 1

    def get_next_update(self):
        return Partition("ota_1" if self.label == "ota_0" else "ota_0")

    def set_boot(self):
        if self.mem[0] != 0xE9:  # ESP-IDF verifies the app image: ESP_ERR_OTA_VALIDATE_FAILED
            raise OSError(-5379)
        state["boot"] = self.label

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        state["pending"] = False


reset_all()
