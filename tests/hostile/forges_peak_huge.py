# Class 6, forged figures: monkeypatches the wire format's encoder (pytest_diffchallenge.wire.encode) so that
# the measured peak the worker sends is 10**30 bytes, far past any integer a report can hold. Contained: the
# figure is refused and the memory test fails; the other tests pass and the reports are valid.
from pytest_diffchallenge import wire

encode = wire.encode


def forged_encode(document):
    if isinstance(document, dict) and "peak_bytes" in document:
        document = {**document, "peak_bytes": 10**30}
    return encode(document)


wire.encode = forged_encode


def scaled_sum(a, b, alpha):
    return a + alpha * b
