# Class 9, garbage data: closes both ends of its own channel to the trusted side, and keeps the process alive (a
# non-daemon thread sleeps 90 s). Contained: the worker is seen as gone (crashed) and stopped; zero, and no
# process left.
import os
import threading
import time


def scaled_sum(a, b, alpha):
    argv = open("/proc/self/cmdline", "rb").read().decode().split("\0")
    threading.Thread(target=time.sleep, args=(90,)).start()
    for flag in ("--read-fd", "--write-fd"):
        os.close(int(argv[argv.index(flag) + 1]))
    return a + alpha * b
