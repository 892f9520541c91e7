"""Forbidden APIs: a call from candidate code raises ``ForbiddenAPIError``; the library's own calls go through.

Candidate code is any frame whose file lies in the submission's folder; a forbidden API refuses to run while one
is on the stack. It is guarded by what it is, not by the name it is reached through:

- a Python function is guarded in place: its ``__code__`` becomes a trampoline to a guard, so every reference to it
  is guarded, and so is every function with the same code (``identity``): its "# Copied from" twins in the loaded
  modules of ``TWIN_PACKAGES``, and in any module executed later (the import system's ``exec_module`` is wrapped:
  lazy imports, ``importlib.reload``, ``spec_from_file_location``);
- the guard keeps the original code, not a function: it makes one for each call it lets through. Candidate code may
  not make a function of a forbidden function's code, nor compile, unmarshal, execute or rebuild code that holds it
  (an audit hook: the library's source executed again, ``types.FunctionType(code, ...)``, ``f.__code__ = code``),
  except to import a library module from the libraries' own folders (its twins are guarded right after);
- an aten operator (SDPA) is guarded at the dispatcher, with every aten operator of its family, so that
  ``torch.ops.aten.*``, ``torch._C._nn.*`` and any other route to the same kernels is refused too;
- anything else (a builtin such as ``torch.add``) is replaced where it is named.

What an in-process guard cannot stop: candidate code that changes this module's state or the dispatcher's
registrations, or reaches into the interpreter with ctypes; candidate code called back during a call that a guard
let through, which can find the function made for it (through the guard's frame or ``gc``); a thread the candidate
starts (its stack holds no candidate frame); candidate code compiled under another file name and run with no
candidate frame below it.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.machinery
import inspect
import marshal
import os
import sys
import sysconfig
import threading
import warnings
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable
from types import CodeType, FrameType, FunctionType, ModuleType
from typing import Any

from pytest_diffchallenge.worker.identity import (
    Fingerprint,
    fingerprint,
    functions_in,
    nested_codes,
    shape,
    unwrapped,
)

# A torch builtin of this name is an aten operator: guarded at the dispatcher with every aten operator whose name
# holds the family's word (the kernels that compute the same thing: flash, efficient, math, cuDNN, MHA fast path).
OPERATOR_FAMILIES = {"scaled_dot_product_attention": "attention"}
# Dispatch keys whose kernels compute no values (Meta) or only pass the call on: left alone.
PASS_ON_KEYS = ("Meta", "Tracer", "Autocast", "Functionalize", "ADInplaceOrView")
# Where an alias key's kernel can be read back: runtime keys it fills, in order of preference.
ALIAS_SLOTS = {
    "CompositeImplicitAutograd": ("CPU", "CUDA"),
    "CompositeExplicitAutograd": ("CPU", "CUDA"),
    "CompositeExplicitAutogradNonFunctional": ("CPU", "CUDA"),
    "Autograd": ("AutogradCPU", "AutogradCUDA"),
    "FuncTorchBatchedDecomposition": ("FuncTorchBatched",),
}
# Libraries that keep "# Copied from" twins: their loaded modules are searched for a forbidden function's twins (a
# search of torch's would cost half a second per worker, for none).
TWIN_PACKAGES = frozenset({"diffusers", "transformers"})
PLACEHOLDER = "diffchallenge-guard"
STOCK_LOADERS = (importlib.machinery.SourceFileLoader, importlib.machinery.SourcelessFileLoader)
LIBRARY_PATHS = ("stdlib", "platstdlib", "purelib", "platlib")  # sysconfig's


class ForbiddenAPIError(RuntimeError):
    """Candidate code called an API that the challenge forbids."""


def resolve_owner(dotted: str):
    """'torch.nn.functional.scaled_dot_product_attention' -> (torch.nn.functional module, 'scaled_dot_...')."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:-1]:
            owner = getattr(owner, name)
        return owner, parts[-1]
    raise ValueError(f"cannot resolve forbidden API {dotted!r}")


def guard_forbidden(dotted: str, candidate_dir: str) -> None:
    GUARDS.forbid(dotted, candidate_dir)


def refusal(dotted: str) -> str:
    return f"{dotted} is forbidden in this challenge: write this part yourself"


def candidate_on_stack(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith(GUARDS.candidate_dirs):
            return True
        frame = frame.f_back
    return False


def refusing(call: Callable, message: str) -> Callable:
    """``call``, unless candidate code is on the stack."""

    def guarded(*args, **kwargs):
        if candidate_on_stack(sys._getframe().f_back):
            raise ForbiddenAPIError(message)
        return call(*args, **kwargs)

    return guarded


@functools.cache
def trampoline_template(free_variables: int) -> CodeType:
    """``def _(*args, **kwargs): return PLACEHOLDER(*args, **kwargs)`` with that many free variables (unused), so that
    it can become the ``__code__`` of a function with that many closure cells."""
    names = [f"cell{i}" for i in range(free_variables)]
    lines = ["def outer():", f"    {' = '.join([*names, 'None'])}", "    def trampoline(*args, **kwargs):"]
    if names:
        lines += ["        if 0:", f"            {', '.join(names)},"]  # free variables, compiled away
    lines += [f"        return {PLACEHOLDER!r}(*args, **kwargs)", "    return trampoline"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # "'str' object is not callable": the constant is replaced
        module = compile("\n".join(lines), "<trampoline>", "exec")
    return next(c for c in nested_codes(module) if c.co_name == "trampoline")


def running(function: FunctionType, message: str) -> Callable:
    """What ``function`` did, unless candidate code is on the stack. It keeps the code, not a function: each call
    makes one, and making a function of that code is refused to candidate code (``Guards.audit``)."""
    parts = (function.__code__, function.__globals__, function.__name__, function.__defaults__, function.__closure__)
    kwdefaults = function.__kwdefaults__

    def guarded_code(*args, **kwargs):
        if candidate_on_stack(sys._getframe().f_back):
            raise ForbiddenAPIError(message)
        body = FunctionType(*parts)
        body.__kwdefaults__ = kwdefaults
        return body(*args, **kwargs)

    return guarded_code


GUARDED_CODE = next(c for c in running.__code__.co_consts if isinstance(c, CodeType))  # guarded_code's


def guard_in_place(function: FunctionType, message: str) -> None:
    """Make ``function`` itself refuse candidate callers, whoever holds it and under whatever name."""
    code = function.__code__
    template = trampoline_template(len(code.co_freevars))
    guarded = running(function, message)
    if "__signature__" not in function.__dict__ and "__wrapped__" not in function.__dict__:
        function.__signature__ = inspect.signature(function)  # type: ignore[attr-defined]  # diffusers reads them
    function.__code__ = template.replace(
        co_consts=tuple(guarded if const == PLACEHOLDER else const for const in template.co_consts),
        co_name=code.co_name, co_qualname=code.co_qualname, co_filename=code.co_filename,
        co_firstlineno=code.co_firstlineno)


def guard_binding(owner: Any, name: str, raw: Any, dotted: str) -> Callable:
    """Replace ``owner.name`` (a builtin, an operator...) by a guard, and return the guard."""
    wrapper_type = type(raw) if isinstance(raw, (staticmethod, classmethod)) else None
    guarded = refusing(raw.__func__ if wrapper_type else raw, refusal(dotted))
    setattr(owner, name, wrapper_type(guarded) if wrapper_type else guarded)
    return guarded


def package_folder(package: str) -> str | None:
    """The folder that holds an imported package (site-packages, or wherever it was installed)."""
    path = getattr(sys.modules.get(package), "__file__", None)
    if not path:
        return None
    folder = os.path.dirname(os.path.realpath(path))
    return (os.path.dirname(folder) if os.path.basename(path).startswith("__init__.") else folder) + os.sep


class Guards:
    """The process's forbidden APIs and the hooks that enforce them (one per process: an audit hook stays)."""

    def __init__(self) -> None:
        self.candidate_dirs: tuple[str, ...] = ()
        self.forbidden: dict[Fingerprint, str] = {}  # the code of a forbidden function -> its dotted name
        self.shapes: set[tuple] = set()
        self.bytecodes: dict[bytes, str] = {}
        self.library_dirs: set[str] = set()  # where the libraries lie: their modules may be imported again
        self.twin_packages: set[str] = set()  # whose loaded modules are searched for twins
        self.index: dict[tuple, list[FunctionType]] = defaultdict(list)  # their functions, by shape
        self.indexed: dict[str, ModuleType] = {}
        self.guarded: weakref.WeakSet[Callable] = weakref.WeakSet()  # functions guarded in place, and guards
        self.operator_families: set[str] = set()
        self.dispatcher_kernels: Any = None  # the torch.library.Library that holds them: they live as long as it does
        self.checking = threading.local()
        self.exec_module_code: CodeType | None = None  # of the import system's exec_module once wrapped

    def forbid(self, dotted: str, candidate_dir: str) -> None:
        if candidate_dir not in self.candidate_dirs:
            self.candidate_dirs += (candidate_dir,)
        owner, name = resolve_owner(dotted)
        try:
            raw = inspect.getattr_static(owner, name)
        except AttributeError:  # made on first access, like the operators in torch.ops.aten
            raw = getattr(owner, name)
        function = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
        if function in self.guarded:  # forbidden before, under this name or another
            return
        if isinstance(function, FunctionType):
            self.forbid_code(list(unwrapped(function))[-1], dotted)
        else:
            self.guarded.add(guard_binding(owner, name, raw, dotted))
            family = OPERATOR_FAMILIES.get(getattr(function, "__name__", "").split(".")[0])
            if family and (getattr(function, "__module__", None) or "").startswith("torch"):
                self.guard_operators(family, dotted)
        self.install_hooks()

    # -- identity of code ----------------------------------------------------------------------------------------
    def forbid_code(self, function: FunctionType, dotted: str) -> None:
        code = function.__code__
        self.forbidden.setdefault(fingerprint(code), dotted)
        self.shapes.add(shape(code))
        self.bytecodes.setdefault(code.co_code, dotted)
        package = (function.__module__ or "").partition(".")[0]
        self.library_dirs.update(filter(None, [package_folder(package)]))
        if package in TWIN_PACKAGES:
            self.twin_packages.add(package)
        self.index_new_modules()
        self.guard_if_forbidden(function, refusal(dotted))
        for twin in self.index.get(shape(code), ()):
            self.guard_if_forbidden(twin)

    def index_new_modules(self) -> None:
        seen_classes: set[int] = set()
        for name, module in list(sys.modules.items()):
            if name.partition(".")[0] in self.twin_packages and self.indexed.get(name) is not module:
                self.indexed[name] = module
                for function in self.functions_of(module, seen_classes):
                    self.index[shape(function.__code__)].append(function)

    def functions_of(self, module: object, seen_classes: set[int]) -> Iterable[FunctionType]:
        if not isinstance(module, ModuleType) or (vars(module).get("__file__") or "").startswith(self.candidate_dirs):
            return ()  # the candidate's own modules are candidate code, not the library's
        return functions_in(vars(module), seen_classes)

    def guard_if_forbidden(self, function: FunctionType, message: str = "") -> None:
        code = function.__code__
        if shape(code) not in self.shapes or function in self.guarded:
            return
        dotted = self.forbidden.get(fingerprint(code))
        if dotted is not None:
            guard_in_place(function, message or f"{function.__module__}.{function.__qualname__} is forbidden in this "
                                                f"challenge (the same code as {dotted}): write this part yourself")
            self.guarded.add(function)

    def guard_module(self, module: object) -> None:
        """Guard the twins that a module just executed holds."""
        if self.shapes:
            for function in self.functions_of(module, set()):
                self.guard_if_forbidden(function)

    def forbidden_in(self, code: CodeType) -> str | None:
        for nested in nested_codes(code):
            if shape(nested) in self.shapes:
                dotted = self.forbidden.get(fingerprint(nested))
                if dotted is not None:
                    return dotted
        return None

    # -- hooks: modules executed later, code compiled or rebuilt by the candidate ---------------------------------
    def install_hooks(self) -> None:
        if self.exec_module_code is not None:
            return
        owner = next(c for c in importlib.machinery.SourceFileLoader.__mro__ if "exec_module" in vars(c))
        owner.exec_module = guarded_exec_module(owner.exec_module)  # type: ignore[attr-defined]
        self.exec_module_code = owner.exec_module.__code__  # type: ignore[attr-defined]
        self.library_dirs.update(os.path.realpath(sysconfig.get_path(name)) + os.sep for name in LIBRARY_PATHS)
        sys.addaudithook(self.audit)

    def trusted_loader(self, loader: object) -> bool:
        """A stock loader of a file in the libraries' folders or the submission's: not a file that the candidate
        wrote, nor a loader it made."""
        path = getattr(loader, "path", None)
        return type(loader) in STOCK_LOADERS and isinstance(path, str) and os.path.realpath(path).startswith(
            (*self.library_dirs, *self.candidate_dirs))

    def audit(self, event: str, args: tuple) -> None:
        if event not in AUDITED or not self.forbidden or getattr(self.checking, "on", False) or (
                event == "object.__setattr__" and args[1] != "__code__"):
            return
        asker: FrameType | None = sys._getframe().f_back
        if asker is not None and asker.f_code is GUARDED_CODE:
            return  # a guard that has just checked the stack makes the function it runs
        while asker is not None:
            if asker.f_code is self.exec_module_code and self.trusted_loader(asker.f_locals.get("self")):
                return  # a library imported, lazily or again: guard_module guards its twins next
            if asker.f_code.co_filename.startswith(self.candidate_dirs):
                break
            asker = asker.f_back
        else:
            return  # no candidate code asks
        self.checking.on = True  # our own compile and marshal.loads below raise events too
        try:
            message = AUDITED[event](self, args)
        finally:
            self.checking.on = False
        if message is not None:
            raise ForbiddenAPIError(message)

    def holding_forbidden(self, code: object, event: str) -> str | None:
        dotted = self.forbidden_in(code) if isinstance(code, CodeType) else None
        return None if dotted is None else f"{dotted} is forbidden in this challenge, and so is its code ({event}): " \
                                           "write this part yourself"

    def compiled(self, args: tuple) -> str | None:
        source, filename = args
        mode = {ast.Expression: "eval", ast.Interactive: "single"}.get(type(source), "exec")
        try:
            code = compile(source, filename, mode, dont_inherit=True)
        except (SyntaxError, TypeError, ValueError):
            return None  # another mode or flags than ours, or no valid code: compile itself answers
        return self.holding_forbidden(code, "compile")

    def unmarshalled(self, args: tuple) -> str | None:
        try:
            loaded = marshal.loads(args[0])
        except (EOFError, ValueError, TypeError):
            return None
        return self.holding_forbidden(loaded, "marshal.loads")

    def rebuilt(self, args: tuple) -> str | None:
        dotted = self.bytecodes.get(args[0])
        return None if dotted is None else f"{dotted} is forbidden in this challenge, and so is its bytecode " \
                                           "(code.__new__): write this part yourself"

    def marshal_file(self, args: tuple) -> str | None:
        return "marshal.load is forbidden in this challenge, as it could load a forbidden function's code unseen: " \
               "read the bytes and use marshal.loads"

    # -- the dispatcher ------------------------------------------------------------------------------------------
    def guard_operators(self, family: str, dotted: str) -> None:
        """Refuse, from candidate code, every aten operator of the family, at the dispatch keys that compute."""
        import torch

        if family in self.operator_families:
            return
        self.operator_families.add(family)
        if self.dispatcher_kernels is None:
            self.dispatcher_kernels = torch.library.Library("aten", "IMPL")
        keys = {key for key in torch._C.DispatchKey.__members__.values() if not key.name.startswith(PASS_ON_KEYS)}
        for op in torch._C._dispatch_get_all_op_names():
            namespace, _, name = op.partition("::")
            if namespace != "aten" or family not in name or "backward" in name:
                continue
            registered = {key.name for key in keys if torch._C._dispatch_has_kernel_for_dispatch_key(op, key)}
            plan = []  # every original kernel is read before any is replaced: an alias's fills the runtime keys
            for key in registered:
                slots = ALIAS_SLOTS.get(key, ()) if torch._C._dispatch_is_alias_key(key) else (key,)
                slot = next((s for s in slots if s == key or s not in registered), None)
                if slot is not None:
                    plan.append((key, torch.library.get_kernel(op, slot)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Overriding a previously registered kernel": that is the point
                for key, kernel in plan:
                    self.dispatcher_kernels.impl(name, refusing_kernel(kernel, refusal(dotted)), key,
                                                 with_keyset=True)


def refusing_kernel(kernel: Any, message: str) -> Callable:
    def guarded(keyset, *args, **kwargs):
        if candidate_on_stack(sys._getframe().f_back):
            raise ForbiddenAPIError(message)
        return kernel.call_boxed(keyset, *args, **kwargs)

    return guarded


def guarded_exec_module(exec_module: Callable) -> Callable:
    def exec_module_then_guard(self, module):
        try:
            exec_module(self, module)
        finally:  # a module that raised half-way holds the functions it defined before
            GUARDS.guard_module(module)

    return exec_module_then_guard


AUDITED: dict[str, Callable[[Guards, tuple], str | None]] = {
    "exec": lambda guards, args: guards.holding_forbidden(args[0], "exec"),
    "function.__new__": lambda guards, args: guards.holding_forbidden(args[0], "types.FunctionType"),
    "object.__setattr__": lambda guards, args: guards.holding_forbidden(args[2], "__code__ ="),
    "compile": Guards.compiled,
    "marshal.loads": Guards.unmarshalled,
    "marshal.load": Guards.marshal_file,
    "code.__new__": Guards.rebuilt,
}
GUARDS = Guards()
