"""Identity of code: a fingerprint that a function's copies share, and the functions that a namespace holds.

Two functions are the same code when their bytecode, names, argument layout and constants (nested code objects
included, docstrings excluded) are equal, wherever they were defined: diffusers' "# Copied from" twins, a module
executed again, source compiled anew. File names, line numbers and qualified names are not part of it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from types import CodeType, FunctionType

Fingerprint = tuple
CODE_FLAGS = 0xFFFF  # co_flags' bits about the code; those above are its module's __future__ imports


def shape(code: CodeType) -> tuple[int, ...]:
    """A cheap key that equal fingerprints share: to skip most functions before fingerprinting them."""
    return code.co_argcount, code.co_kwonlyargcount, code.co_nlocals, code.co_stacksize, code.co_flags & CODE_FLAGS


def fingerprint(code: CodeType) -> Fingerprint:
    """What two copies of a function share, and two different functions do not."""
    consts = code.co_consts
    if code.co_flags & inspect.CO_NEWLOCALS and consts and isinstance(consts[0], str):
        consts = (None, *consts[1:])  # a function's docstring: twins often differ in it alone
    return (code.co_code, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars, shape(code),
            code.co_posonlyargcount, tuple(_constant(c) for c in consts))


def _constant(value: object) -> object:
    if isinstance(value, CodeType):
        return fingerprint(value)
    if isinstance(value, tuple):
        return tuple, tuple(_constant(v) for v in value)
    if isinstance(value, frozenset):
        return frozenset, tuple(sorted(repr(v) for v in value))
    return type(value), repr(value)  # the type too: 1, 1.0 and True are equal, but not the same code


def nested_codes(code: CodeType) -> Iterator[CodeType]:
    """``code`` and every code object in its constants, recursively (a module's functions, their closures...)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from nested_codes(const)


def unwrapped(function: FunctionType) -> Iterator[FunctionType]:
    """``function`` and the functions it wraps (``__wrapped__``, as functools.wraps and torch.no_grad leave it)."""
    seen = set()
    current: object = function
    while isinstance(current, FunctionType) and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__dict__.get("__wrapped__")


def functions_in(namespace: Mapping[str, object], seen_classes: set[int]) -> Iterator[FunctionType]:
    """The functions of a module's or class's namespace: plain, static and class methods, those of the classes it
    holds (each class once across calls sharing ``seen_classes``), and what each wraps.

    Reads namespaces only (``__dict__``), so nothing is imported or computed: diffusers' lazy modules stay lazy.
    """
    stack = [namespace]
    while stack:
        for value in list(stack.pop().values()):
            kind = type(value)
            if (kind is staticmethod or kind is classmethod) and isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
                kind = type(value)
            if kind is FunctionType and isinstance(value, FunctionType):
                yield from unwrapped(value)
            elif issubclass(kind, type) and id(value) not in seen_classes:  # not isinstance: no __class__ lookup
                seen_classes.add(id(value))
                stack.append(value.__dict__)
