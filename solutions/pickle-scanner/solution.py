"""pickle-scanner: list the globals a pickle would resolve, without running it."""

import io
import pickletools
import zipfile

SAFE_GLOBALS = frozenset({
    "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
    *(f"torch.{kind}Storage" for kind in
      ("Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte", "Bool")),
})
UNKNOWN = "?"  # a value only running the pickle would know
MARK = object()
STRINGS = {"UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "STRING", "BINSTRING", "SHORT_BINSTRING"}
BYTES = {"BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"}
PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
GETS = {"GET", "BINGET", "LONG_BINGET"}


def pop_to_mark(stack: list) -> None:
    while stack and stack.pop() is not MARK:
        pass


def as_name(value) -> str:
    return value if isinstance(value, str) else UNKNOWN


def globals_of_one_pickle(stream: io.BytesIO) -> set[str]:
    """The globals of the pickle starting at the stream's position, read up to its STOP (or up to where it breaks:
    an unpickler would have run everything before)."""
    found: set[str] = set()
    stack: list = []
    memo: dict = {}
    try:
        for opcode, argument, _ in pickletools.genops(stream):
            name = opcode.name
            if name in ("GLOBAL", "INST"):
                found.add(argument.replace(" ", ".", 1))
            if name == "STACK_GLOBAL":
                module, global_name = stack[-2], stack[-1]  # too short: an underflow, where unpickling stops too
                found.add(f"{as_name(module)}.{as_name(global_name)}")
            if name in BYTES and argument[:1] == b"\x80":  # a nested pickle
                found |= globals_in(bytes(argument))
            # the stack and the memo, as far as strings go
            if name in PUTS or name == "MEMOIZE":  # the stack stays as it is
                memo[argument if name in PUTS else len(memo)] = stack[-1]
            elif name in GETS:
                stack.append(memo.get(argument, UNKNOWN))
            elif name == "DUP":
                stack.append(stack[-1])
            elif name == "MARK":
                stack.append(MARK)
            elif name == "POP_MARK":
                pop_to_mark(stack)
            else:
                taken = opcode.stack_before
                if pickletools.markobject in taken:  # the items above the mark, the mark, then those below it
                    pop_to_mark(stack)
                    taken = taken[:taken.index(pickletools.markobject)]
                del stack[len(stack) - len(taken):]
                pushed = argument if name in STRINGS else UNKNOWN
                stack.extend([pushed] * len(opcode.stack_after))
    except (ValueError, IndexError):  # not a pickle from here on (an unknown opcode, the stack underflows)
        stream.seek(0, io.SEEK_END)
    return found


def globals_in(data: bytes) -> set[str]:
    """The globals of every pickle in ``data``, back to back."""
    stream = io.BytesIO(data)
    found: set[str] = set()
    while stream.tell() < len(data):
        found |= globals_of_one_pickle(stream)
    return found


def scan(path: str) -> list[str]:
    """The unsafe globals that loading the file would resolve, as sorted ``module.name``; [] for a safe file."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            found = set().union(*(globals_in(archive.read(member)) for member in archive.namelist()
                                  if member.endswith(".pkl")))
    else:
        with open(path, "rb") as file:
            found = globals_in(file.read())
    return sorted(found - SAFE_GLOBALS)
