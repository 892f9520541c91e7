import os


def scaled_sum(a, b, alpha):
    os._exit(3)
