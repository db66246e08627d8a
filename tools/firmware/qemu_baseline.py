# The "without the library" qemu firmware of tools/firmware_bench.py. The qemu port has no
# board manifest, so ../../manifest.py freezes the library alone there; this freezes one
# empty module instead, so that both builds carry the frozen-module support and the text
# difference is the library's.
module("empty.py")  # noqa: F821 (makemanifest.py provides module)
