# Grows outside torch, where tensor accounting cannot see it: only the resident-memory guard can.
chunks = []


def scaled_sum(a, b, alpha):
    while True:
        chunks.append(bytearray(64 * 1024**2))
