# Class 9, garbage data: writes the first bytes of a reply frame on its own pipe (a header announcing 100 bytes,
# and 10 of them), then exits at once with code 0. Contained: the test fails as crashed, the grading goes on; zero.
import os
import struct


def scaled_sum(a, b, alpha):
    argv = open("/proc/self/cmdline", "rb").read().decode().split("\0")
    os.write(int(argv[argv.index("--write-fd") + 1]), struct.pack(">II", 100, 0) + b'{"ok": tru')
    os._exit(0)
