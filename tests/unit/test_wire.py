"""The wire format: data (JSON and safetensors) goes through unchanged; anything else is refused."""

import io
import json
import math

import pytest
import torch

from pytest_diffchallenge import wire
from pytest_diffchallenge.wire import MAX_FRAME_BYTES, WireError, decode, encode, read_frame, write_frame


def split(frame: bytes) -> tuple[bytes, bytes]:
    """The JSON text and the tensor blob of an encoded frame."""
    text_len, blob_len = wire.HEADER.unpack(frame[:wire.HEADER.size])
    body = frame[wire.HEADER.size:]
    assert len(body) == text_len + blob_len
    return body[:text_len], body[text_len:]


def round_trip(document):
    return decode(*split(encode(document)))


def assert_same(got, want):
    """Structural equality with tensors compared exactly (dtype, shape and values, NaN == NaN)."""
    if isinstance(want, torch.Tensor):
        assert isinstance(got, torch.Tensor), f"{got!r} is not a tensor"
        assert got.dtype == want.dtype and got.shape == want.shape
        assert torch.equal(got, want) or torch.equal(got.isnan(), want.isnan()) and torch.equal(
            got.nan_to_num(), want.nan_to_num())
    elif isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want)
        for key in want:
            assert_same(got[key], want[key])
    elif isinstance(want, (list, tuple)):
        assert isinstance(got, list) and len(got) == len(want)  # tuples come back as lists
        for g, w in zip(got, want, strict=True):
            assert_same(g, w)
    elif isinstance(want, float) and math.isnan(want):
        assert isinstance(got, float) and math.isnan(got)
    else:
        assert type(got) is type(want) and got == want


def tensors():
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=generator)
    return {
        "float32": base,
        "float16": base.half(),
        "bfloat16": base.bfloat16(),
        "float64": base.double(),
        "int64": torch.arange(-5, 7, dtype=torch.int64).reshape(3, 4),
        "int8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "uint8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([[True, False], [False, True]]),
        "scalar": torch.tensor(3.5),
        "scalar_int": torch.tensor(7),
        "empty": torch.empty(0),
        "empty_2d": torch.empty(3, 0, dtype=torch.int64),
        "transposed": base.t(),
        "strided": base[:, ::2],
        "expanded": torch.arange(3.0).expand(4, 3),
        "special": torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0]),
    }


def test_round_trip_of_nested_documents_with_tensors_of_every_kind():
    everything = tensors()
    document = {
        "ok": True,
        "nothing": None,
        "count": 3,
        "big": 2**62,
        "ratio": 0.25,
        "nan": float("nan"),
        "text": "héllo \u2603",
        "tensors": everything,
        "list": [everything["bool"], [everything["scalar"], {"deep": [everything["strided"], 1, "x"]}]],
        "tuple": (1, everything["empty"]),
        "empty_list": [],
        "empty_dict": {},
    }
    assert_same(round_trip(document), document)


def test_non_contiguous_and_shared_tensors_come_back_as_their_values():
    base = torch.arange(12.0).reshape(3, 4)
    view = base.t()[1:, ::2]
    assert not view.is_contiguous()
    got = round_trip({"a": view, "b": base, "c": view})
    assert torch.equal(got["a"], view) and got["a"].is_contiguous()
    assert torch.equal(got["b"], base) and torch.equal(got["c"], view)


def test_a_tensor_that_requires_grad_is_sent_as_data():
    tensor = torch.ones(2, requires_grad=True) * 2
    got = round_trip(tensor)
    assert not got.requires_grad and torch.equal(got, torch.full((2,), 2.0))


def test_plain_json_values_round_trip_and_a_frame_without_tensors_has_no_blob():
    for document in (None, True, False, 0, -1, 1.5, "", "text", [], {}, [1, [2, [3]]], {"a": {"b": None}}):
        frame = encode(document)
        text, blob = split(frame)
        assert blob == b""
        assert json.loads(text) == document
        assert_same(decode(text, blob), document)


def test_dtypes_are_sent_as_their_names_and_keys_as_strings():
    assert round_trip({"dtype": torch.bfloat16, 1: "one"}) == {"dtype": "torch.bfloat16", "1": "one"}


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", bytearray(b"x"), 1j, lambda: None, range(3),
                                   torch.nn.Linear(1, 1), io.BytesIO()],
                         ids=lambda v: type(v).__name__)
def test_values_that_are_not_data_are_refused(value):
    with pytest.raises(WireError, match=type(value).__name__):
        encode({"nested": [value]})


def test_numpy_arrays_are_refused_not_pickled():
    np = pytest.importorskip("numpy")
    with pytest.raises(WireError, match="ndarray"):
        encode(np.zeros(3))


@pytest.mark.parametrize("text", [b"{not json", b"", b"\xff\xfe", b'{"a": }', b"[1, 2"], ids=repr)
def test_malformed_json_is_a_wire_error(text):
    with pytest.raises(WireError, match="malformed frame"):
        decode(text, b"")


@pytest.mark.parametrize("blob", [b"garbage", b"\x00" * 8, b"\xff" * 16,
                                  # a header that announces more than there is
                                  (200).to_bytes(8, "little") + b'{"t0": {"dtype": "F32"'],
                         ids=["garbage", "zeros", "ones", "truncated-header"])
def test_malformed_tensor_blob_is_a_wire_error(blob):
    with pytest.raises(WireError, match="malformed frame"):
        decode(b'{"__tensor__": "t0"}', blob)


def test_truncated_tensor_blob_is_a_wire_error():
    text, blob = split(encode({"x": torch.arange(100.0)}))
    with pytest.raises(WireError, match="malformed frame"):
        decode(text, blob[:-10])


@pytest.mark.parametrize("reference", ['"t1"', '"nope"', "5", "null", '["t0"]', '{"k": "t0"}'])
def test_a_reference_to_a_missing_tensor_is_a_wire_error(reference):
    _, blob = split(encode({"x": torch.zeros(2)}))  # holds t0 only
    with pytest.raises(WireError, match="missing tensor"):
        decode(f'{{"y": {{"__tensor__": {reference}}}}}'.encode(), blob)


def test_a_reference_without_any_blob_is_a_wire_error():
    with pytest.raises(WireError, match="missing tensor"):
        decode(b'[{"__tensor__": "t0"}]', b"")


def decoded_or_refused(text: bytes) -> None:
    """decode may return a deep document or refuse it with WireError, but never raise RecursionError."""
    try:
        decode(text, b"")
        return
    except WireError:
        return
    except RecursionError:
        pass  # failed outside the handler, so that the report is not a thousand frames of traceback
    pytest.fail(f"decode raised RecursionError for {len(text)} bytes of nesting instead of WireError")


@pytest.mark.parametrize("depth", [300, 600, 900, 5000])
def test_deeply_nested_lists_are_a_wire_error_not_a_recursion_error(depth):
    # A worker controls what it sends: a reply of nested lists must be refused as malformed (the client turns
    # WireError into MalformedReply, the submission's fault), never escape as RecursionError, which the
    # trusted side classifies as an infrastructure error (a test that never counts as a zero).
    decoded_or_refused(("[" * depth + "]" * depth).encode())


@pytest.mark.parametrize("depth", [200, 700])
def test_deeply_nested_objects_are_a_wire_error_not_a_recursion_error(depth):
    decoded_or_refused(('{"a": ' * depth + "1" + "}" * depth).encode())


class Chunked(io.RawIOBase):
    """A stream that returns at most `chunk` bytes per read, like a pipe."""

    def __init__(self, data: bytes, chunk: int = 3):
        self.data, self.chunk, self.position, self.requested = data, chunk, 0, 0

    def readable(self):
        return True

    def read(self, size=-1):
        self.requested += size
        piece = self.data[self.position:self.position + min(size, self.chunk)]
        self.position += len(piece)
        return piece


def test_frames_are_read_back_from_a_stream_in_small_chunks():
    documents = [{"op": "call", "x": torch.arange(6).reshape(2, 3)}, {"ok": True}, [torch.tensor(True)]]
    stream = io.BytesIO()
    for document in documents:
        write_frame(stream, document)
    reader = Chunked(stream.getvalue())
    for document in documents:
        assert_same(read_frame(reader), document)
    with pytest.raises(EOFError):
        read_frame(reader)


@pytest.mark.parametrize("text_len, blob_len", [(MAX_FRAME_BYTES + 1, 0), (0, MAX_FRAME_BYTES + 1),
                                                (MAX_FRAME_BYTES, 1), (2**32 - 1, 2**32 - 1)])
def test_a_header_over_the_limit_is_refused_before_the_body_is_read(text_len, blob_len):
    reader = Chunked(wire.HEADER.pack(text_len, blob_len) + b"x" * 64, chunk=1 << 20)
    with pytest.raises(WireError, match="exceeds"):
        read_frame(reader)
    assert reader.position == wire.HEADER.size, "the body must not be read"


def test_a_header_at_the_limit_is_not_refused_for_its_size():
    # exactly MAX_FRAME_BYTES is allowed: the stream then ends early, which is an EOFError, not a WireError
    reader = Chunked(wire.HEADER.pack(MAX_FRAME_BYTES - 10, 10) + b"[]", chunk=1 << 20)
    with pytest.raises(EOFError):
        read_frame(reader)


@pytest.mark.parametrize("cut", [0, 1, wire.HEADER.size - 1, wire.HEADER.size, wire.HEADER.size + 5, -1])
def test_a_truncated_stream_is_an_eof_error(cut):
    frame = encode({"x": torch.arange(4.0), "label": "some text"})
    with pytest.raises(EOFError):
        read_frame(io.BytesIO(frame[:cut] if cut >= 0 else frame[:-1]))


def test_read_exactly_reads_across_short_reads():
    reader = Chunked(b"abcdefghij", chunk=3)
    assert wire.read_exactly(reader, 7) == b"abcdefg"
    assert wire.read_exactly(reader, 0) == b""
    with pytest.raises(EOFError):
        wire.read_exactly(reader, 4)


# -- a measured run's reply: its peak and memory timeline, checked by the client ---------------------------------
def measured_reply(timeline) -> dict:
    """A worker's measured reply as the client gets it: through the wire, then WorkerClient.reply's checks."""
    return round_trip({"ok": True, "result": {"out": torch.ones(2)}, "peak_bytes": 4096, "timeline": timeline})


def test_a_measured_reply_brings_its_timeline():
    from pytest_diffchallenge.client import WorkerClient
    from pytest_diffchallenge.worker.memory import measure_peak, phase

    with measure_peak("cpu") as meter:
        phase("encode")
        torch.zeros(256)
    reply = WorkerClient.reply("probe", measured_reply(meter.timeline.as_json()))
    assert reply.timeline_phases[0][1] == "encode" and reply.timeline_samples[0] == (0.0, 0.0)
    assert max(live for _, live in reply.timeline_samples) >= 1024
    unmeasured = WorkerClient.reply("probe", round_trip({"ok": True, "result": {"out": 1}}))
    assert unmeasured.timeline_samples == unmeasured.timeline_phases == ()


@pytest.mark.parametrize("timeline", [
    None,  # a peak without its timeline
    [],
    {"samples": [[0.0, 0]]},
    {"samples": [[0.0, 0]], "phases": [], "extra": 1},
    {"samples": [], "phases": []},
    {"samples": [[0.0, 0]] * 4001, "phases": []},
    {"samples": [[0.0, math.nan]], "phases": []},
    {"samples": [[math.inf, 0]], "phases": []},
    {"samples": [[0.0, -1]], "phases": []},
    {"samples": [[0.0, 1 << 60]], "phases": []},
    {"samples": [[0.0, True]], "phases": []},
    {"samples": [[0.0, "1"]], "phases": []},
    {"samples": [[0.0]], "phases": []},
    {"samples": [[1.0, 0], [0.5, 0]], "phases": []},
    {"samples": [[0.0, 0]], "phases": [[0.2, "b"], [0.1, "a"]]},
    {"samples": [[0.0, 0]], "phases": [[0.1, "two\nlines"]]},
    {"samples": [[0.0, 0]], "phases": [[0.1, ""]]},
    {"samples": [[0.0, 0]], "phases": [[0.1, "x" * 61]]},
    {"samples": [[0.0, 0]], "phases": [[0.1, 5]]},
    {"samples": [[0.0, 0]], "phases": [[0.1, "step"]] * 501},
])
def test_a_malformed_timeline_is_a_malformed_reply(timeline):
    from pytest_diffchallenge.client import WorkerClient
    from pytest_diffchallenge.faults import MalformedReply

    with pytest.raises(MalformedReply):
        WorkerClient.reply("probe", measured_reply(timeline))


def test_a_timeline_without_a_peak_is_a_malformed_reply():
    from pytest_diffchallenge.client import WorkerClient
    from pytest_diffchallenge.faults import MalformedReply

    reply = round_trip({"ok": True, "result": {"out": 1}, "timeline": {"samples": [[0.0, 0]], "phases": []}})
    with pytest.raises(MalformedReply):
        WorkerClient.reply("probe", reply)
