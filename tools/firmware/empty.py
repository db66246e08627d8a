# Frozen by qemu_baseline.py: nothing in it.
