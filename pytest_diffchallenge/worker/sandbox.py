"""The worker's kernel sandbox: what candidate code can reach, enforced by the kernel rather than by Python.

``confine()`` applies two layers to the worker, for good, and reports each one: ``"held ..."``,
``"missing: <why>"`` (this kernel or machine lacks it) or ``"off: --no-sandbox"``.

- Landlock (ctypes; ABI 1 and up): files are read only beneath the interpreter, this package, the probes'
  folder, the system's libraries and pseudo-filesystems; written only beneath the worker's own folder (and
  /dev/null); no program can be started. ABI 4 adds: no TCP at all. ABI 6 adds: no signal and no abstract
  Unix socket beyond the worker.
- seccomp (libseccomp through pyseccomp): no program, no new process, no socket, no signal to another
  process, and none of the kernel's interfaces that a grading never needs (ptrace, bpf, io_uring, mounts,
  namespaces, keys, modules...). A denied call fails with EPERM; the worker goes on.

Landlock confines the calling thread and the threads it starts later. Before ABI 8 (TSYNC), threads that
were already running stay outside, so the worker confines itself before torch starts its thread pools, and
the report names any thread left outside. The seccomp filter covers every thread (TSYNC).
"""

from __future__ import annotations

import ctypes
import errno
import glob
import json
import os
import platform
import stat
import sys
import sysconfig
from dataclasses import dataclass, fields
from typing import Any

LANDLOCK_LAYERS = ("landlock-filesystem", "landlock-network", "landlock-signals")
LAYERS = (*LANDLOCK_LAYERS, "seccomp")


@dataclass(frozen=True)
class SandboxRequest:
    """What the launcher wants (the worker's ``--sandbox`` option, a JSON object)."""

    enabled: bool = True  # False: --no-sandbox, every layer off
    landlock_abi_max: int | None = None  # use at most this Landlock ABI, as an older kernel would (0: none)
    seccomp: bool = True  # False: behave as a machine without seccomp

    @classmethod
    def from_json(cls, text: str) -> SandboxRequest:
        given = json.loads(text or "{}")
        if not isinstance(given, dict):
            raise ValueError(f"--sandbox takes a JSON object, not {text!r}")
        known = {field.name for field in fields(cls)}
        if unknown := sorted(set(given) - known):
            raise ValueError(f"--sandbox: unknown keys {unknown}; known: {sorted(known)}")
        abi_max = given.get("landlock_abi_max")
        if abi_max is not None and (type(abi_max) is not int or abi_max < 0):
            raise ValueError(f"--sandbox: landlock_abi_max must be a whole number >= 0, not {abi_max!r}")
        for flag in ("enabled", "seccomp"):
            if type(given.get(flag, True)) is not bool:
                raise ValueError(f"--sandbox: {flag} must be true or false")
        return cls(**given)


def confine(*, workdir: str, read_only: list[str], device: str, wanted: SandboxRequest) -> dict[str, str]:
    """Confine this process for good; return one line per layer (``LAYERS``), each "held", "missing" or "off".

    ``workdir`` is the worker's own folder (read and write); ``read_only`` lists what the worker reads besides
    the interpreter, this package and the system's folders (the probes' folder). A ``cuda`` device may also
    use the GPU's device files. A layer the kernel lacks is reported missing; any other failure raises: the
    worker must not go on half confined.
    """
    if not wanted.enabled:
        return {layer: "off: --no-sandbox" for layer in LAYERS}
    if os.path.realpath(workdir) == os.path.sep:
        raise ValueError("the worker's folder cannot be / : it would be free to write everywhere")
    # Built first: loading libseccomp runs ldconfig, which neither layer lets the worker do afterwards.
    syscall_filter, seccomp_missing = build_syscall_filter() if wanted.seccomp else \
        (None, "turned off by the sandbox request (as on a machine without seccomp)")
    report = apply_landlock(workdir=workdir, read_only=read_only, device=device, abi_max=wanted.landlock_abi_max)
    if syscall_filter is not None:
        try:
            syscall_filter.load()
        except OSError as error:
            seccomp_missing = f"the kernel refused the filter ({error})"
    report["seccomp"] = f"missing: {seccomp_missing}" if seccomp_missing else "held"
    return report


# -- Landlock --------------------------------------------------------------------------------------------------
# Syscall numbers shared by every architecture's generic table, x86_64 and aarch64 included.
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1 << 0
LANDLOCK_RULE_PATH_BENEATH = 1
LANDLOCK_RESTRICT_SELF_TSYNC = 1 << 3  # ABI 8: every thread of the process, not only the caller
PR_SET_NO_NEW_PRIVS = 38

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2: link or rename into another folder
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

FS_RIGHTS_OF_ABI_1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
FS_RIGHTS_ADDED_BY_ABI = {2: FS_REFER, 3: FS_TRUNCATE, 5: FS_IOCTL_DEV}
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV  # the rest apply to folders
NETWORK_ABI, SCOPES_ABI, TSYNC_ABI = 4, 6, 8

READ = FS_READ_FILE | FS_READ_DIR
WRITE = (FS_WRITE_FILE | FS_TRUNCATE | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_DIR | FS_MAKE_REG | FS_MAKE_SOCK
         | FS_MAKE_FIFO | FS_MAKE_SYM | FS_REFER)  # no device nodes, and never EXECUTE
DEVICE = READ | FS_WRITE_FILE | FS_IOCTL_DEV
# Shared libraries (torch loads some lazily), the pseudo-filesystems that torch and the interpreter read
# (/proc/self, CPU topology in /sys), and the few files of /etc and /dev that libraries open. Not /tmp, not
# /home, not where the kit's repository is, not /etc/shadow (a root worker still owns it), not /dev/shm.
SYSTEM_READ_ONLY = ("/usr", "/lib", "/lib64", "/proc", "/sys",
                    "/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf",
                    "/etc/mime.types", "/etc/os-release", "/etc/hosts",
                    "/dev/zero", "/dev/urandom", "/dev/random", "/dev/full")
GPU_DEVICE_FILES = ("/dev/nvidia*", "/dev/dri")
KIT_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # pytest_diffchallenge/, not the repo


class RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # __attribute__((packed)): 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def ruleset_size(abi: int) -> int:
    """The size of landlock_ruleset_attr that a kernel of this ABI knows: its fields grew with the ABI."""
    if abi < NETWORK_ABI:
        return RulesetAttr.handled_access_net.offset
    if abi < SCOPES_ABI:
        return RulesetAttr.scoped.offset
    return ctypes.sizeof(RulesetAttr)


def handled_filesystem_rights(abi: int) -> int:
    rights = FS_RIGHTS_OF_ABI_1
    for since, right in FS_RIGHTS_ADDED_BY_ABI.items():
        if abi >= since:
            rights |= right
    return rights


def interpreter_folders() -> list[str]:
    """The interpreter's standard library and site-packages (a venv's, and the base interpreter's)."""
    paths = sysconfig.get_paths()
    folders = [paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")]
    prefixes = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    return folders + [prefix for prefix in prefixes if os.path.realpath(prefix) != os.path.sep]  # never all of /


def filesystem_rules(*, workdir: str, read_only: list[str], device: str) -> list[tuple[str, int]]:
    """(path, rights) pairs: what the worker may do beneath each path. Everything else is denied."""
    rules = [(path, READ) for path in (*interpreter_folders(), KIT_PACKAGE, *read_only, *SYSTEM_READ_ONLY)]
    rules += [("/dev/null", READ | FS_WRITE_FILE | FS_TRUNCATE), (workdir, READ | WRITE)]
    if device.startswith("cuda"):
        rules += [(path, DEVICE) for pattern in GPU_DEVICE_FILES for path in sorted(glob.glob(pattern))]
    return rules


class Landlock:
    """The three Landlock syscalls, through libc's syscall()."""

    def __init__(self) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long

    def call(self, number: int, *args) -> int:
        result = self.libc.syscall(ctypes.c_long(number), *args)
        if result < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return result

    def abi(self) -> int:
        return self.call(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                         ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))

    def create_ruleset(self, attr: RulesetAttr, abi: int) -> int:
        return self.call(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ruleset_size(abi)),
                         ctypes.c_uint32(0))

    def add_path_rule(self, ruleset_fd: int, path: str, rights: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            return  # not on this machine (/lib64 on aarch64, /dev/dri without a GPU)
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                rights &= FILE_RIGHTS  # the kernel refuses folder rights on a file
            if rights:
                attr = PathBeneathAttr(allowed_access=rights, parent_fd=fd)
                self.call(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset_fd), ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                          ctypes.byref(attr), ctypes.c_uint32(0))
        finally:
            os.close(fd)

    def restrict_self(self, ruleset_fd: int, abi: int) -> None:
        flags = LANDLOCK_RESTRICT_SELF_TSYNC if abi >= TSYNC_ABI else 0
        self.call(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset_fd), ctypes.c_uint32(flags))


def kernel_landlock_abi(landlock: Landlock) -> tuple[int, str]:
    """The kernel's Landlock ABI, and why it is 0 when it is."""
    if not sys.platform.startswith("linux"):
        return 0, f"Landlock is a Linux feature, and this is {platform.system()}"
    try:
        return landlock.abi(), ""
    except OSError as error:
        if error.errno == errno.ENOSYS:
            return 0, f"the kernel ({platform.release()}) has no Landlock: built without it, or older than 5.13"
        if error.errno == errno.EOPNOTSUPP:
            return 0, "the kernel has Landlock but it is not enabled (it is missing from the lsm= boot parameter)"
        if error.errno == errno.EPERM:
            return 0, "Landlock's syscalls are blocked here (EPERM), by a seccomp filter such as a container's"
        return 0, f"the kernel's Landlock cannot be queried ({error})"


def apply_landlock(*, workdir: str, read_only: list[str], device: str, abi_max: int | None) -> dict[str, str]:
    landlock = Landlock()
    kernel_abi, why_none = kernel_landlock_abi(landlock)
    abi = kernel_abi if abi_max is None else min(kernel_abi, abi_max)
    if abi < kernel_abi:
        limit = f"Landlock is limited to ABI {abi} by the sandbox request (the kernel has ABI {kernel_abi})"
    else:
        limit = why_none or f"the kernel's Landlock ABI is {abi}"
    if abi == 0:
        return {layer: f"missing: {limit}" for layer in LANDLOCK_LAYERS}

    attr = RulesetAttr(handled_access_fs=handled_filesystem_rights(abi))
    if abi >= NETWORK_ABI:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP  # handled with no rule: no TCP at all
    if abi >= SCOPES_ABI:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    ruleset_fd = landlock.create_ruleset(attr, abi)
    try:
        for path, rights in filesystem_rules(workdir=workdir, read_only=read_only, device=device):
            landlock.add_path_rule(ruleset_fd, path, rights & attr.handled_access_fs)
        threads_outside = 0 if abi >= TSYNC_ABI else len(os.listdir("/proc/self/task")) - 1  # all but this one
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # required to restrict
        landlock.restrict_self(ruleset_fd, abi)
    finally:
        os.close(ruleset_fd)

    outside = "" if not threads_outside else \
        f", except for {threads_outside} thread(s) started before it (Landlock confines them from ABI 8)"
    return {
        "landlock-filesystem": f"held (ABI {abi}){outside}",
        "landlock-network": f"held{outside}" if abi >= NETWORK_ABI else f"missing: {limit}; TCP is handled from ABI 4",
        "landlock-signals": f"held{outside}" if abi >= SCOPES_ABI else
        f"missing: {limit}; signals and abstract Unix sockets are scoped from ABI 6",
    }


# -- seccomp ---------------------------------------------------------------------------------------------------
DENIED_SYSCALLS = (
    "execve", "execveat",  # no program, even where Landlock (which grants EXECUTE nowhere) is missing
    "fork", "vfork",  # no process; clone and clone3 below
    "pidfd_send_signal", "pidfd_open", "pidfd_getfd",  # other processes, by descriptor
    "socket", "socketpair",  # the worker talks only over the pipes it inherits
    "ptrace", "process_vm_readv", "process_vm_writev",  # other processes' memory
    "perf_event_open", "bpf", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key",
    "unshare", "setns",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
    "fspick", "mount_setattr", "open_by_handle_at",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "acct",
)
# The first argument of these is the target process; they may signal the worker itself only.
SIGNALLING_SYSCALLS = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
# Numbered alike on every architecture (Linux 5.1 and later): used where an older libseccomp lacks the name.
GENERIC_SYSCALL_NUMBERS = {"pidfd_send_signal": 424, "io_uring_setup": 425, "io_uring_enter": 426,
                           "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
                           "fsconfig": 431, "fsmount": 432, "fspick": 433, "pidfd_open": 434, "clone3": 435,
                           "pidfd_getfd": 438, "mount_setattr": 442}
UNKNOWN_TO_LIBSECCOMP = -1  # __NR_SCMP_ERROR; other negative numbers name calls this architecture lacks
CLONE_THREAD = 0x00010000
PERSONALITY_QUERY = 0xFFFFFFFF


def build_syscall_filter() -> tuple[Any, str | None]:
    """The seccomp filter, built but not loaded; or None and why seccomp is missing."""
    try:
        import pyseccomp as seccomp
    except ImportError:
        return None, "the Python package pyseccomp is not installed"
    except (OSError, RuntimeError) as error:  # raised at import when libseccomp.so cannot be found or loaded
        return None, f"libseccomp cannot be loaded ({error})"
    eperm = seccomp.ERRNO(errno.EPERM)
    syscall_filter = seccomp.SyscallFilter(seccomp.ALLOW)
    syscall_filter.set_attr(seccomp.Attr.CTL_TSYNC, 1)  # every thread, torch's included

    def deny(name: str, *conditions, action: int = eperm) -> None:
        number = seccomp.resolve_syscall(seccomp.Arch.NATIVE, name)
        if number == UNKNOWN_TO_LIBSECCOMP:
            number = GENERIC_SYSCALL_NUMBERS.get(name, UNKNOWN_TO_LIBSECCOMP)
        if number >= 0:  # else not a syscall of this architecture (fork on aarch64)
            syscall_filter.add_rule(action, number, *conditions)

    for name in DENIED_SYSCALLS:
        deny(name)
    # threads yes, processes no (the flags are clone's first argument on x86_64 and aarch64)
    deny("clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    # clone3's flags lie in memory, where seccomp cannot look; ENOSYS makes glibc fall back to clone for threads
    deny("clone3", action=seccomp.ERRNO(errno.ENOSYS))
    for name in SIGNALLING_SYSCALLS:
        deny(name, seccomp.Arg(0, seccomp.NE, os.getpid()))  # also kill(0) and kill(-1): groups, everyone
    deny("personality", seccomp.Arg(0, seccomp.NE, PERSONALITY_QUERY))  # reading it is fine, changing it is not
    return syscall_filter, None
