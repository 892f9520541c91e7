# Class 6, forged figures: monkeypatches the wire format's encoder (pytest_diffchallenge.wire.encode) so that
# the measured peak the worker sends is negative. Contained: the figure is refused and the memory test fails;
# the other tests pass.
from pytest_diffchallenge import wire

encode = wire.encode


def forged_encode(document):
    if isinstance(document, dict) and "peak_bytes" in document:
        document = {**document, "peak_bytes": -(1 << 40)}
    return encode(document)


wire.encode = forged_encode


def scaled_sum(a, b, alpha):
    return a + alpha * b
