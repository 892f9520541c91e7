"""Issue 10's hostile corpus: every submission in tests/hostile/ graded, and the damage it could do checked.

Each file of ``tests/hostile/`` is the toy challenge's ``solution.py`` with an attack in it (its header says
which, and what containment means). ``CASES`` says, per submission, what its verdict must show; whatever
the verdict, every case also checks the damage (``LocalHarness.damage``):

- the verdict is valid: graded (never the grader's error), every test has a status, and results.json,
  gradescope.json, junit.xml and feedback.md were written as ``diffchallenge grade`` writes them and read back;
- nothing was written into the checkout (bank, kit, tests) or the venv;
- /tmp and /dev/shm hold nothing new, nor does the grader's working directory; the out folder holds only
  the reports and the log; the submission folder is untouched;
- no process of the grading is left;
- nothing secret (a line of the hidden tests, the reference solution, the canary planted in copies of them)
  reaches feedback.md or a visible test's message, not even cut into pieces or reversed;
- planting attacks (``twice``) are followed by a second grading of ``half_right`` (it passes two tests and
  fails one, so a plant that forges passes or failures shows), whose verdict must equal a clean one's.

The attacks are real: until the worker's sandbox holds, many succeed. So that one that succeeds cannot damage
the shared checkout, the venv or the machine's /tmp, each grading runs in a throwaway view of the machine
when this process may make one (root, overlayfs): a private mount namespace where the checkout (venv
included) is an overlay whose upper layer records every write, and /tmp and /dev/shm are private folders.
The grading itself is ``diffchallenge.grading.grade`` as ``diffchallenge grade`` runs it, default TMPDIR,
in a fresh interpreter started from the grader's working directory (``python -c``: the directory is on
sys.path, as for ``python -m diffchallenge.cli``). Processes are attributed to a grading by that namespace and its
mounts.
Without that view, the cases whose attack would write into the checkout are skipped, and the rest run in
place with hashes of the venv and the bank and a listing of /tmp (which other users of the machine change too).

Two more pieces of the setting: cases of class 5 grade a copy of the toy bank with a runtime-budget test
(``make_timed_bank``: a reference worker then runs beside the candidate's), and every private /tmp holds copies
of the secrets as gradings and test runs leave them (``seed_copies``). Both carry a canary.

``DIFFCHALLENGE_HOSTILE_KIT=<folder>`` lays another kit over the checkout in the throwaway view (e.g. an older
commit, ``git archive <commit>`` unpacked) to see which attacks it does not contain. The Docker runner's
parametrization runs only with an image of the toy bank: see ``DOCKER_SKIP``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import marshal
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import pytest
from _pytest.assertion.rewrite import _rewrite_test
from conftest import DOCKER_SKIP, HOSTILE, TOY, TOY_BANK, TOY_IMAGE

from pytest_diffchallenge.verdict import RESULTS_FILE, Reason, Status, Verdict, VerdictError, read_results

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SLUG = "toy-challenge"
REPORTS = {RESULTS_FILE, "gradescope.json", "junit.xml", "feedback.md", "grader.log"}
MAX_FEEDBACK_BYTES = 64 * 1024
GRADING_TIMEOUT_S = 600
LEFTOVER_GRACE_S = 5  # a worker may take a moment to notice that its channel closed (as in test_cleanup)
# In every copy of a secret this harness makes: any trace of one in what candidates see is a leak. Two, so that the
# kit's filter of hidden-test lines does not hide a published reference.
CANARIES = {"test_hidden.py": "hostile-canary-hidden-0f3c9a7e", "solution.py": "hostile-canary-reference-5b21d8"}
T_SMALL, T_MEMORY, T_SPEED, T_HIDDEN = "test_small", "test_memory", "test_speed", "test_secret_inputs"
TESTS = {"toy": [T_SMALL, T_MEMORY, T_HIDDEN], "timed": [T_SMALL, T_MEMORY, T_SPEED, T_HIDDEN]}
# Another kit laid over the checkout in the throwaway view (say `git archive <commit>` unpacked): to see which
# attacks an older kit does not contain. Only with the throwaway view.
KIT = os.environ.get("DIFFCHALLENGE_HOSTILE_KIT", "")
NOISE_IN_SHARED_TMP = re.compile(r"(bash_tool_|pytest-of-|tmp|diffchallenge-).*")  # other users', in-place mode


# -- what each verdict must show -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expect:
    score: str  # "full", "zero", "below" (under full marks), "any", or "=N"
    failing: tuple[tuple[str, Reason | None], ...] = ()  # tests that must fail, with their reason (None: any)
    passing: tuple[str, ...] = ()
    reasons: frozenset[Reason] | None = None  # every test that did not pass has one of these
    fragment: str = ""  # some test's message says this


FULL, ZERO, ANY = Expect("full"), Expect("zero"), Expect("any")


def zero(reason: Reason | None = None, fragment: str = "") -> Expect:
    return Expect("zero", reasons=None if reason is None else frozenset({reason}), fragment=fragment)


def fails(test: str, reason: Reason | None, *passing: str) -> Expect:
    return Expect("below", failing=((test, reason),), passing=passing)


MEMORY_FORGED = fails(T_MEMORY, Reason.OVER_MEMORY, T_SMALL, T_HIDDEN)  # the memory test fails, and only it
TIMING_FORGED = fails(T_SPEED, Reason.OVER_RUNTIME_BUDGET, T_SMALL, T_MEMORY, T_HIDDEN)


@dataclass(frozen=True)
class Case:
    name: str
    attack: str  # issue 10's class (1-9), or "classic"
    expect: Expect
    bank: str = "toy"  # or "timed": the toy challenge plus a runtime-budget test, so a reference worker runs
    twice: bool = False  # a planting attack: grade half_right after it and compare with a clean grading
    writes: bool = False  # not contained, the attack writes into the checkout or the venv: needs the overlay


CASES = [
    # baselines and classics
    Case("correct", "classic", FULL),
    Case("half_right", "classic", Expect("=3", ((T_HIDDEN, Reason.WRONG_OUTPUT),), passing=(T_SMALL, T_MEMORY))),
    Case("infinite_loop", "classic", zero(Reason.TIMED_OUT, "time limit")),
    Case("sleeps", "classic", zero(Reason.TIMED_OUT, "wall-clock")),
    Case("memory_bomb", "classic", zero(fragment="can't allocate memory")),
    Case("resident_memory_bomb", "classic", zero(Reason.OVER_MEMORY, "resident memory, over its 1500.00 MiB limit")),
    Case("tensor_memory_hog", "classic", fails(T_MEMORY, Reason.OVER_MEMORY, T_SMALL, T_HIDDEN)),
    Case("segfaults", "classic", zero(Reason.CRASHED, "killed by signal SIGSEGV")),
    Case("exits", "classic", zero(Reason.CRASHED, "worker exited with code 3")),
    Case("raises_system_exit", "classic", zero(Reason.RAISED, "SystemExit")),
    Case("interrupts_at_import", "classic", zero(fragment="KeyboardInterrupt")),
    Case("recursion_bomb", "classic", ZERO),
    Case("syntax_error", "classic", zero(fragment="solution.py could not be imported: SyntaxError")),
    Case("prints_fake_passes", "classic", ZERO),
    Case("tampers_with_checks", "classic", zero(Reason.WRONG_OUTPUT)),
    Case("patches_pytest_and_numpy", "classic", zero(Reason.WRONG_OUTPUT)),
    Case("returns_lying_subclass", "classic", zero(Reason.WRONG_OUTPUT)),
    Case("returns_lying_object", "classic", ZERO),
    Case("returns_wrong_dtype", "classic", zero(Reason.WRONG_OUTPUT, "dtype")),
    # test_memory's probe sums the answer, so a leading dimension of 1 does not change what it checks
    Case("returns_wrong_shape", "classic",
         Expect("below", ((T_SMALL, Reason.WRONG_OUTPUT), (T_HIDDEN, Reason.WRONG_OUTPUT)), fragment="shape")),
    Case("returns_wrong_device", "classic", ZERO),
    Case("forbidden_call", "classic", zero(Reason.FORBIDDEN_API, "torch.add is forbidden in this challenge")),
    # 1. killing the parent
    Case("kills_parent", "1", FULL),
    Case("interrupts_parent", "1", FULL),
    Case("writes_results", "1", ZERO),
    # 2. a fresh interpreter, past the forbidden-API guard: it must never score
    Case("forbidden_via_subprocess", "2", ZERO),
    Case("forbidden_via_os_system", "2", ZERO),
    Case("forbidden_via_posix_spawn", "2", ZERO),
    Case("forbidden_via_fork_exec", "2", ZERO),
    Case("forbidden_via_multiprocessing", "2", ZERO),
    # 3. reading the disk: each raises with what it found, else answers right
    Case("publishes_hidden_tests", "3", ZERO),
    Case("reads_hidden_via_parent_cmdline", "3", FULL),
    Case("publishes_hidden_obfuscated", "3", FULL),
    Case("reads_reference_solution", "3", FULL),
    Case("finds_copies_in_tmp", "3", FULL),
    Case("reads_grader_memory", "3", FULL),
    Case("reads_secret", "3", FULL),
    # 4. planting what the trusted side imports or runs later
    Case("plants_conftest", "4", ZERO, twice=True, writes=True),
    Case("plants_module_in_grader_cwd", "4", ZERO, twice=True),
    Case("replaces_grader_python", "4", ZERO, twice=True, writes=True),
    # 5. the reference worker
    Case("stops_reference_worker", "5", TIMING_FORGED, bank="timed"),
    Case("kills_reference_worker", "5", TIMING_FORGED, bank="timed"),
    Case("reads_reference_worker_copy", "5", FULL, bank="timed"),
    # 6. forged figures
    Case("slow_unless_timed", "6", fails(T_SPEED, None, T_SMALL, T_MEMORY, T_HIDDEN), bank="timed"),
    Case("exits_memory_mode", "6", MEMORY_FORGED),
    Case("patches_memory_meter", "6", MEMORY_FORGED),
    Case("forges_peak_small", "6", MEMORY_FORGED),
    Case("numpy_score_matrix", "6", MEMORY_FORGED),
    Case("preallocates_at_import", "6", MEMORY_FORGED),
    Case("memory_in_child_processes", "6", ZERO),
    Case("forges_peak_nan", "6", fails(T_MEMORY, None, T_SMALL, T_HIDDEN)),
    Case("forges_peak_negative", "6", fails(T_MEMORY, None, T_SMALL, T_HIDDEN)),
    Case("forges_peak_huge", "6", fails(T_MEMORY, None, T_SMALL, T_HIDDEN)),
    # 7. process control
    Case("fork_bomb", "7", FULL),
    Case("reforks_to_outlive", "7", FULL),
    Case("double_fork_daemon", "7", FULL),
    Case("daemon_execs_sleep", "7", FULL),
    Case("opens_grader_fds", "7", FULL),
    Case("spins_after_reply", "7", FULL),
    Case("counts_workers", "7", FULL),
    # 8. persistence: graded twice
    Case("plants_pth_in_venv", "8", ZERO, twice=True, writes=True),
    Case("edits_diffusers_source", "8", ZERO, twice=True, writes=True),
    Case("plants_pyc_in_bank", "8", ZERO, twice=True, writes=True),
    Case("plants_probes_pyc", "8", ZERO, twice=True, writes=True),
    Case("plants_kit_pyc", "8", ZERO, twice=True, writes=True),
    Case("rewrites_bank_tests", "8", ZERO, twice=True, writes=True),
    Case("leaves_files_in_tmp", "8", FULL, twice=True),
    Case("leaves_files_in_shm", "8", FULL, twice=True),
    # 9. garbage data
    Case("reply_nested_600", "9", zero(Reason.CRASHED)),
    Case("frame_header_1gib", "9", zero(Reason.CRASHED)),
    Case("nan_in_nested_figures", "9", FULL),
    Case("non_utf8_frame", "9", zero(Reason.CRASHED)),
    Case("non_utf8_messages", "9", ZERO),
    Case("sparse_worker_log", "9", zero(Reason.CRASHED)),
    Case("floods_output", "9", Expect("any", reasons=frozenset({Reason.CRASHED}))),
    Case("exits_mid_reply", "9", zero(Reason.CRASHED)),
    Case("closes_own_pipe", "9", zero(Reason.CRASHED)),
]


# -- the secrets a leak is looked for -------------------------------------------------------------------------
def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@dataclass(frozen=True)
class Secrets:
    lines: tuple[str, ...]  # every line of the hidden tests of 16 characters or more (the kit's own threshold)
    blocks: tuple[str, ...]  # texts that must not appear whole: the reference solution

    @classmethod
    def of(cls, bank: Path) -> Secrets:
        hidden = (bank / "solutions" / SLUG / "test_hidden.py").read_text()
        reference = (bank / "solutions" / SLUG / "solution.py").read_text()
        lines = tuple(line.strip() for line in hidden.splitlines() if len(line.strip()) >= 16)
        return cls(lines=lines + tuple(CANARIES.values()), blocks=(reference,))

    def leaks(self, text: str) -> list[str]:
        """Secrets in ``text``: whole, or cut into pieces across lines, or reversed."""
        flat = squash(text)
        return [secret for secret in self.lines + self.blocks
                if squash(secret) in flat or squash(secret)[::-1] in flat]


# -- banks -----------------------------------------------------------------------------------------------------
TIMED_TEST = '''

@pytest.mark.points(1)
@pytest.mark.runtime_budget(3.0)
def test_speed(equivalence, runtime):
    equivalence.check("big_sum", rtol=1e-6, atol=1e-6, size=2_000_000, alpha=3.0)
    runtime.check("big_sum", size=2_000_000, alpha=3.0)
'''


def make_timed_bank(into: Path) -> Path:
    """The toy bank plus a runtime-budget test (a reference worker runs beside the candidate's), with a
    canary in its reference and its hidden tests."""
    shutil.copytree(TOY_BANK, into, ignore=shutil.ignore_patterns("__pycache__"))
    challenge, secret = into / "challenges" / SLUG, into / "solutions" / SLUG
    toml = challenge / "challenge.toml"
    toml.write_text(toml.read_text().replace("points = 6", "points = 7"))
    (challenge / "test_public.py").write_text((challenge / "test_public.py").read_text() + TIMED_TEST)
    for name in ("solution.py", "test_hidden.py"):
        (secret / name).write_text((secret / name).read_text() + f"# {CANARIES[name]}\n")
    return into


def seed_copies(tmp: Path) -> None:
    """Copies of secrets where gradings and test runs leave them in /tmp: a concurrent grading's reference
    worker, a pytester run's bank. Each holds the canary."""
    reference, hidden = ((TOY_BANK / "solutions" / SLUG / name).read_text() + f"# {CANARIES[name]}\n"
                         for name in ("solution.py", "test_hidden.py"))
    worker = tmp / "diffchallenge-grading-concurrent" / "diffchallenge-worker-reference" / "submission"
    bank = tmp / "pytest-of-grader" / "pytest-1" / "test_verify0" / "bank" / "solutions" / SLUG
    for folder in (worker, bank):
        folder.mkdir(parents=True)
        (folder / "solution.py").write_text(reference)
    (bank / "test_hidden.py").write_text(hidden)


# -- snapshots -------------------------------------------------------------------------------------------------
def listing(folder: Path, skip: Path | None = None) -> dict[str, tuple]:
    """Every entry under ``folder`` (but ``skip``): kind, size and, for files, a content hash."""
    found = {}
    for root, dirs, files in os.walk(folder):
        if skip is not None and Path(root) == skip.parent:
            dirs[:] = [d for d in dirs if d != skip.name]
        for name in dirs + files:
            path = Path(root) / name
            try:
                info = path.lstat()
            except OSError:
                continue
            digest = ""
            if path.is_file() and not path.is_symlink() and info.st_size <= 1 << 20:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            found[str(path.relative_to(folder))] = (info.st_mode >> 12, info.st_size, digest)
    return found


def changes(before: dict, after: dict) -> list[str]:
    return ([f"new {p}" for p in sorted(after.keys() - before.keys())]
            + [f"removed {p}" for p in sorted(before.keys() - after.keys())]
            + [f"changed {p}" for p in sorted(before.keys() & after.keys()) if before[p] != after[p]])


def venv_hash() -> str:
    """Relative path, size and mtime of every file under sys.prefix: fast, and any write shows."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(sys.prefix):
        dirs.sort()
        for name in sorted(files):
            try:
                info = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            digest.update(f"{os.path.relpath(os.path.join(root, name), sys.prefix)}\0{info.st_size}\0"
                          f"{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def tree_hash(folder: Path, skip_pycache: bool = False) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not (skip_pycache and "__pycache__" in path.parts):
            digest.update(f"{path.relative_to(folder)}\0".encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


BANK_FOLDERS = [REPO / "challenges", REPO / "solutions", TOY_BANK, REPO / "pytest_diffchallenge", REPO / "grader"]


def bank_hashes() -> dict[str, str]:
    return {str(folder): tree_hash(folder) for folder in BANK_FOLDERS}


def is_bytecode_cache(written: Path, upper: Path, lowers: list[Path]) -> bool:
    """Whether a file written in the view is harmless bytecode cache: exactly what Python (or pytest's assertion
    rewriter) compiles from the unchanged source beside it, or a pyc that no import would load (stale for the
    source as it is now: the kit's own, written before someone edited the source). Trusted sessions run with -I,
    so they write such caches; a plant is a pyc that would be loaded and holds other code."""
    relative = written.relative_to(upper)
    stem, _, tail = written.name.partition(".")
    source_relative = relative.parent.parent / f"{stem}.py"
    source = next((lower / source_relative for lower in lowers if (lower / source_relative).is_file()), None)
    if written.parent.name != "__pycache__" or (upper / source_relative).exists() or source is None:
        return False
    data, text, info = written.read_bytes(), source.read_bytes(), source.stat()
    tag = sys.implementation.cache_tag
    if tail == f"{tag}.pyc":
        header = b"\0\0\0\0" + struct.pack("<II", int(info.st_mtime) & 0xFFFFFFFF, info.st_size & 0xFFFFFFFF)
        compiled = compile(text, str(source), "exec", dont_inherit=True)
    elif tail == f"{tag}-pytest-{pytest.__version__}.pyc":
        header = b"\3\0\0\0" + importlib.util.source_hash(text)[:8]
        compiled = _rewrite_test(source, None)[1]  # type: ignore[arg-type]  # no config: the defaults
    else:
        return False
    if data[:16] != importlib.util.MAGIC_NUMBER + header:
        return data[:4] == importlib.util.MAGIC_NUMBER and data[4:8] == header[:4]  # stale: never loaded
    try:
        return marshal.loads(data[16:]) == compiled
    except (EOFError, ValueError, TypeError):
        return False


# -- processes -------------------------------------------------------------------------------------------------
def read_proc(pid: int | str, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    stat = read_proc(pid, "stat")
    return bool(stat) and stat.rsplit(b")", 1)[1].split()[0] != b"Z"


def processes_in_view(namespace: str, root: Path) -> list[int]:
    """Processes in the grading's mount namespace that see its throwaway view (mounts from ``root``). A
    namespace's id is an inode number, reused once the namespace is gone, say by a container that another test
    process starts: the mounts tell ours from the next owner of the number."""
    found, marker = [], str(root.resolve()).encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/mnt") == namespace and alive(int(entry)) \
                        and marker in read_proc(entry, "mountinfo"):
                    found.append(int(entry))
            except OSError:
                continue
    return found


def processes_mentioning(marker: str) -> list[int]:
    """Processes whose command line, environment or working directory mentions ``marker``."""
    found, me = [], os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            cwd = ""
        if (marker in cwd or marker.encode() in read_proc(entry, "cmdline")
                or marker.encode() in read_proc(entry, "environ")) and alive(int(entry)):
            found.append(int(entry))
    return found


def describe(pids: list[int]) -> list[str]:
    return [f"{pid}: " + read_proc(pid, "cmdline").replace(b"\0", b" ").decode(errors="replace")[:150] for pid in pids]


def kill_all(pids: list[int]) -> None:
    """Stop, then kill, processes this test started (a grading's leftovers); by pid, nothing else."""
    for signum in (signal.SIGSTOP, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, signum)
            except OSError:
                pass


# -- the grading, inside a throwaway view of the machine ------------------------------------------------------
INSIDE = r'''
import ctypes, json, os, signal, sys, time, traceback
from pathlib import Path

spec = json.loads(sys.argv[1])
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: whatever the grading leaves comes back here
me = os.getpid()
report = {"namespace": os.readlink("/proc/self/ns/mnt"), "error": None, "left": []}


def descendants():
    children = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, pending = set(), [me]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def reap():
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


try:
    from diffchallenge.grading import GradeOptions, grade
    from diffchallenge.reports.results import write_reports
    from pytest_diffchallenge.metadata import load_challenge

    challenge = load_challenge(Path(spec["challenge"]))
    verdict = grade(challenge, Path(spec["submission"]), Path(spec["out"]), GradeOptions())
    write_reports(verdict, Path(spec["out"]), challenge.meta.limits)
except BaseException:
    report["error"] = traceback.format_exc()[-4000:]
deadline = time.monotonic() + spec["grace"]
while True:
    reap()
    left = descendants()
    if not left or time.monotonic() > deadline:
        break
    time.sleep(0.2)
for pid in sorted(left):
    try:
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        cmdline = "?"
    report["left"].append(f"{pid}: {cmdline[:150]}")
stopped = set()
for _ in range(100):  # stop them all first (a fork bomb cannot outrun that), then kill
    new = descendants() - stopped
    if not new:
        break
    for pid in new:
        try:
            os.kill(pid, signal.SIGSTOP)
        except OSError:
            pass
    stopped |= new
for pid in stopped:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
time.sleep(0.2)
reap()
Path(spec["report"]).write_text(json.dumps(report))
'''

MOUNTS = r'''
set -e
shm=$1 tmp=$2 home=$3
shift 3
while [ "$1" != "--" ]; do
    mount -t overlay overlay -o "lowerdir=$2,upperdir=$3,workdir=$4" "$1"
    case "$1" in  # a checkout under /tmp (CI clones there) stays in view under the private /tmp
        /tmp/*) mount --bind "$1" "$tmp${1#/tmp}" ;;
    esac
    shift 4
done
shift
mount --bind "$shm" /dev/shm
mount --rbind "$tmp" /tmp
cd "$home"
exec "$@"
'''


def overlay_roots() -> list[tuple[Path, list[Path]]]:
    """What the throwaway view overlays, with its lower layers: the checkout (bank, kit, tests, and the venv when
    it lives there), under $DIFFCHALLENGE_HOSTILE_KIT when set."""
    roots = [(REPO, ([Path(KIT)] if KIT else []) + [REPO])]
    if not Path(sys.prefix).resolve().is_relative_to(REPO):
        roots.append((Path(sys.prefix).resolve(), [Path(sys.prefix).resolve()]))
    return roots


def overlay_unavailable(scratch: Path) -> str:
    """Why this process cannot make the throwaway view ('' if it can)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("unshare") is None:
        return "the throwaway view needs root, Linux and unshare(1)"
    lower, upper, work = scratch / "lower", scratch / "upper", scratch / "work"
    for folder in (lower, upper, work):
        folder.mkdir(parents=True)
    try:
        probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                                f"mount -t overlay overlay -o lowerdir={lower},upperdir={upper},workdir={work} "
                                f"{lower} && touch {lower}/written"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unshare failed: {error}"
    if probe.returncode != 0 or not (upper / "written").exists() or (lower / "written").exists():
        return f"no overlay in a private mount namespace here: {probe.stderr.decode(errors='replace')[-300:]}"
    return ""


@dataclass
class Graded:
    name: str
    verdict: Verdict | None
    out: Path
    problems: list[str]  # what went wrong in the grading itself, or in reading its reports back


class LocalHarness:
    """One case's gradings with the local runner, and the damage they did."""

    def __init__(self, root: Path, overlay: bool, timed: bool):
        self.root, self.overlay = root, overlay
        self.token = f"hostile-{uuid.uuid4().hex[:12]}"
        self.tmp, self.shm = root / "tmp", root / "shm"  # /tmp and /dev/shm, as the grading sees them
        self.home = self.tmp / self.token  # the grader's working directory: submissions, out folders, a bank
        self.home.mkdir(parents=True)
        self.shm.mkdir()
        seed_copies(self.tmp)
        self.timed_bank = make_timed_bank(self.home / "bank-timed") if timed else None
        self.timed_hash = tree_hash(self.timed_bank, skip_pycache=True) if timed else ""
        self.uppers: list[tuple[Path, list[Path], Path, Path]] = []  # mount point, lower layers, upper, work
        for number, (mount_point, lowers) in enumerate(overlay_roots() if overlay else []):
            upper, work = root / f"upper{number}", root / f"work{number}"
            upper.mkdir()
            work.mkdir()
            if mount_point.is_relative_to("/tmp"):  # where MOUNTS shows it under the private /tmp
                (self.tmp / mount_point.relative_to("/tmp")).mkdir(parents=True)
            self.uppers.append((mount_point, lowers, upper, work))
        self.submissions: dict[Path, dict] = {}
        self.outs: list[Path] = []
        self.namespaces: set[str] = set()
        self.leftovers: list[str] = []
        self.before_tmp, self.before_shm = listing(self.tmp, skip=self.home), listing(self.shm)
        if not overlay:
            self.before_venv, self.before_bank = venv_hash(), bank_hashes()
            self.before_shared = {folder: set(os.listdir(folder)) for folder in ("/tmp", "/dev/shm")}

    def inside(self, path: Path) -> str:
        """A path as the grading sees it (in the throwaway view, the private /tmp is mounted at /tmp)."""
        if self.overlay and path.is_relative_to(self.tmp):
            return f"/tmp/{path.relative_to(self.tmp)}"
        return str(path)

    def grade(self, name: str, bank: str) -> Graded:
        number = len(self.outs) + 1
        submission, out = self.home / f"{number}-{name}", self.home / f"out-{number}-{name}"
        submission.mkdir()
        shutil.copyfile(HOSTILE / f"{name}.py", submission / "solution.py")
        self.submissions[submission] = listing(submission)
        self.outs.append(out)
        report = self.tmp / f"{self.token}-report-{number}.json"
        challenge = TOY if bank == "toy" else self.timed_bank / "challenges" / SLUG
        spec = {"challenge": self.inside(challenge), "submission": self.inside(submission), "out": self.inside(out),
                "report": self.inside(report), "grace": LEFTOVER_GRACE_S}
        # TORCHINDUCTOR_CACHE_DIR: set in this process once a test imports diffusers (torch._inductor sets it): the
        # grading would make that folder in its private /tmp
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("TMPDIR", "PYTHONPATH", "TORCHINDUCTOR_CACHE_DIR") and not k.startswith("PYTEST_")}
        command = [sys.executable, "-B", "-c", INSIDE, json.dumps(spec)]
        if self.overlay:
            layers = [str(part) for mount_point, lowers, upper, work in self.uppers
                      for part in (mount_point, ":".join(map(str, lowers)), upper, work)]
            command = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", MOUNTS, "sh",
                       str(self.shm), str(self.tmp), self.inside(self.home), *layers, "--", *command]
        else:
            environment["TMPDIR"] = str(self.tmp)
        helper = subprocess.Popen(command, cwd=self.home, env=environment, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = helper.communicate(timeout=GRADING_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(helper.pid, signal.SIGKILL)
            output, _ = helper.communicate()
        try:
            result = json.loads(report.read_text())
            report.unlink()
        except (OSError, ValueError):
            return Graded(name, None, out, [f"the grading of {name} left no report (exit {helper.returncode}): "
                                            f"{output.decode(errors='replace')[-3000:]}"])
        self.namespaces.add(result["namespace"])
        self.leftovers += [f"after grading {name}, still running: {line}" for line in result["left"]]
        problems = [f"the grading of {name} raised:\n{result['error']}"] if result["error"] else []
        verdict, reading = read_reports(out)
        return Graded(name, verdict, out, problems + reading)

    def damage(self) -> list[str]:
        """Everything the gradings left or changed beside their verdicts; leftover processes are killed."""
        found = list(self.leftovers)
        if self.overlay:
            for namespace in self.namespaces:
                if pids := processes_in_view(namespace, self.root):
                    found += [f"left running: {line}" for line in describe(pids)]
                    kill_all(pids)
            for mount_point, lowers, upper, _ in self.uppers:
                written = sorted(p for p in upper.rglob("*")
                                 if not p.is_dir() and not is_bytecode_cache(p, upper, lowers))
                found += [f"written into {mount_point}: {path.relative_to(upper)}" for path in written[:20]]
        else:
            if pids := processes_mentioning(str(self.root)):
                found += [f"left running: {line}" for line in describe(pids)]
                kill_all(pids)
            if venv_hash() != self.before_venv:
                found.append(f"the venv changed ({sys.prefix})")
            after = bank_hashes()
            found += [f"the bank changed: {folder}" for folder in after if after[folder] != self.before_bank[folder]]
            for folder, before in self.before_shared.items():
                new = {n for n in set(os.listdir(folder)) - before if not NOISE_IN_SHARED_TMP.fullmatch(n)}
                found += [f"new in {folder}: {name}" for name in sorted(new)]
        found += [f"/tmp: {change}" for change in changes(self.before_tmp, listing(self.tmp, skip=self.home))]
        found += [f"/dev/shm: {change}" for change in changes(self.before_shm, listing(self.shm))]
        known = {path.name for path in [*self.submissions, *self.outs]} | {"bank-timed"}
        found += [f"the grader's working directory: new {name}" for name in sorted(os.listdir(self.home))
                  if name not in known]
        for out in self.outs:
            extra = sorted(set(os.listdir(out)) - REPORTS) if out.is_dir() else []
            found += [f"the out folder {out.name}: new {name}" for name in extra]
        for submission, before in self.submissions.items():
            found += [f"the submission folder: {change}" for change in changes(before, listing(submission))]
        if self.timed_bank is not None and tree_hash(self.timed_bank, skip_pycache=True) != self.timed_hash:
            found.append("the timed bank changed")
        return found


def read_reports(out: Path) -> tuple[Verdict | None, list[str]]:
    """The verdict from results.json, and whatever is wrong with the reports beside it."""
    problems = []
    try:
        verdict = read_results(out / RESULTS_FILE)
    except VerdictError as error:
        return None, [f"results.json: {error}"]
    again = Verdict.from_json(json.loads(json.dumps(verdict.to_json(), allow_nan=False)))
    if again != verdict:
        problems.append("results.json does not read back to the same verdict")

    def no_constants(name):
        raise ValueError(f"{name} in strict JSON")

    try:
        if verdict.status == "graded" or (out / "gradescope.json").exists():  # not written for the grader's errors
            json.loads((out / "gradescope.json").read_text(encoding="utf-8"), parse_constant=no_constants)
    except (OSError, ValueError) as error:
        problems.append(f"gradescope.json: {error}")
    try:
        ElementTree.parse(out / "junit.xml")
    except (OSError, ElementTree.ParseError) as error:
        problems.append(f"junit.xml: {error}")
    try:
        feedback = (out / "feedback.md").read_bytes()
        feedback.decode("utf-8")
        if len(feedback) > MAX_FEEDBACK_BYTES:
            problems.append(f"feedback.md is {len(feedback)} bytes")
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"feedback.md: {error}")
    return verdict, problems


# -- checks ----------------------------------------------------------------------------------------------------
def figures(measured: dict[str, float]) -> str:
    shown = ("peak_tensor_memory_bytes", "resident_growth_bytes", "runtime_ratio", "candidate_ms", "reference_ms")
    return "{" + ", ".join(f"{name}={measured[name]:g}" for name in shown if name in measured) + "}"


def verdict_problems(graded: Graded, expect: Expect, bank: str, secrets: Secrets) -> list[str]:
    verdict = graded.verdict
    if verdict is None:
        return graded.problems
    problems = list(graded.problems)
    tests = {t.name: t for t in verdict.tests}
    shown = "; ".join(f"{t.name} {t.status} ({t.reason}) {figures(t.figures)}: {t.message[:300]!r}"
                      for t in verdict.tests)
    if verdict.status != "graded" or verdict.errors:
        problems.append(f"not graded: status {verdict.status}, errors {verdict.errors}; {shown}")
    if [t.name for t in verdict.tests] != TESTS[bank] or verdict.unfinished:
        problems.append(f"tests {[t.name for t in verdict.tests]} (unfinished {len(verdict.unfinished)}), "
                        f"expected {TESTS[bank]}")
    score_ok = {"full": verdict.score == verdict.max_score, "zero": verdict.score == 0,
                "below": verdict.score < verdict.max_score, "any": True}.get(expect.score)
    if score_ok is None:
        score_ok = verdict.score == float(expect.score.removeprefix("="))
    if not score_ok:
        problems.append(f"score {verdict.score:g}/{verdict.max_score:g}, expected {expect.score}; {shown}")
    for name, reason in expect.failing:
        test = tests.get(name)
        if test is None or test.status is not Status.FAILED or (reason is not None and test.reason is not reason):
            problems.append(f"{name} must fail" + (f" ({reason})" if reason else "") + f"; {shown}")
    for name in expect.passing:
        if name not in tests or tests[name].status is not Status.PASSED:
            problems.append(f"{name} must pass; {shown}")
    if expect.reasons is not None:
        wrong = [t.name for t in verdict.tests if t.status is not Status.PASSED and t.reason not in expect.reasons]
        if wrong:
            problems.append(f"{wrong}: expected reasons {sorted(map(str, expect.reasons))}; {shown}")
    if expect.fragment and not any(expect.fragment in t.message for t in verdict.tests):
        problems.append(f"no message says {expect.fragment!r}; {shown}")
    visible = [t.message for t in verdict.tests if not t.hidden]
    try:
        visible.append((graded.out / "feedback.md").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        pass
    leaks = {leak: None for text in visible for leak in secrets.leaks(text)}
    problems += [f"a secret reached what candidates see: {leak[:80]!r}" for leak in leaks]
    return problems


def summary(verdict: Verdict | None):
    if verdict is None:
        return None
    return (verdict.status, verdict.score, [(t.name, str(t.status), str(t.reason), t.score) for t in verdict.tests])


# In the container the same trusted code reads the same replies: the classics and garbage data (class 9) are
# graded there by the local runner's cases alone; every attack on a boundary (classes 1 to 8) runs in both.
DOCKER_CLASSES = {str(attack) for attack in range(1, 9)}
# Memory allocated and touched before the measured call, then reused in it, is seen by neither meter (README,
# "Measuring memory"): recorded as a known limit, and XPASS (strict) once something contains it.
KNOWN_LIMITS = {"preallocates_at_import": "a buffer taken at import and reused during the measured call"}


def hostile_params() -> list:
    params = []
    for case in CASES:
        known = KNOWN_LIMITS.get(case.name)
        marks = [pytest.mark.xfail(strict=True, reason=f"known limit: {known}")] if known else []
        params.append(pytest.param(case, "local", id=f"{case.name}-local", marks=marks))
        if case.attack in DOCKER_CLASSES and case.bank == "toy":
            docker = [pytest.mark.hostile_docker, pytest.mark.skipif(not TOY_IMAGE, reason=DOCKER_SKIP), *marks]
            params.append(pytest.param(case, "docker", id=f"{case.name}-docker", marks=docker))
    return params


class DockerHarness:
    """One case's gradings with the Docker runner, in containers of $DIFFCHALLENGE_TOY_IMAGE (not run here yet:
    no engine on the machine this was written on). Each grading is a fresh container: a plant cannot outlive it
    unless it reaches the host, which the host-side checks look for."""

    # The venv as the last case left it: the next case's "before", as nothing else runs meanwhile (a walk of the
    # venv takes seconds); a change that shows up between two cases is then found by the second.
    venv_after_last_case: str | None = None

    def __init__(self, root: Path, monkeypatch):
        from diffchallenge.runners.docker import DockerRunner

        monkeypatch.setenv("DIFFCHALLENGE_BANK", str(TOY_BANK))  # the label check hashes the local bank
        self.runner = DockerRunner(image=TOY_IMAGE)
        self.home = root / "home"
        self.home.mkdir()
        self.timed_bank = None
        self.outs: list[Path] = []
        self.before_venv, self.before_bank = DockerHarness.venv_after_last_case or venv_hash(), bank_hashes()
        self.before_shared = {folder: set(os.listdir(folder)) for folder in ("/tmp", "/dev/shm")}

    def grade(self, name: str, bank: str) -> Graded:
        from diffchallenge.grading import GradeOptions, GradingError
        from diffchallenge.reports.results import write_reports
        from pytest_diffchallenge.metadata import load_challenge

        out = self.home / f"out-{len(self.outs) + 1}-{name}"
        submission = self.home / f"{len(self.outs) + 1}-{name}"
        self.outs.append(out)
        submission.mkdir()
        shutil.copyfile(HOSTILE / f"{name}.py", submission / "solution.py")
        challenge = load_challenge(TOY)
        try:
            verdict = self.runner.grade(challenge, submission, out, GradeOptions())
            write_reports(verdict, out, challenge.meta.limits)
        except (GradingError, OSError, ValueError) as error:
            return Graded(name, None, out, [f"the grading of {name} raised: {error!r}"])
        verdict, reading = read_reports(out)
        return Graded(name, verdict, out, reading)

    def damage(self) -> list[str]:
        from diffchallenge.runners.docker import CONTAINER_LABEL

        found = [f"container left: {c.name}" for c in self.runner.client.containers.list(
            all=True, filters={"label": f"{CONTAINER_LABEL}={SLUG}"})]
        DockerHarness.venv_after_last_case = venv_hash()
        if DockerHarness.venv_after_last_case != self.before_venv:
            found.append(f"the venv changed ({sys.prefix})")
        after = bank_hashes()
        found += [f"the bank changed: {folder}" for folder in after if after[folder] != self.before_bank[folder]]
        for folder, before in self.before_shared.items():
            new = {n for n in set(os.listdir(folder)) - before if not NOISE_IN_SHARED_TMP.fullmatch(n)}
            found += [f"new in {folder}: {name}" for name in sorted(new)]
        for out in self.outs:
            extra = sorted(set(os.listdir(out)) - REPORTS) if out.is_dir() else []
            found += [f"the out folder {out.name}: new {name}" for name in extra]
        return found


@pytest.fixture(scope="session")
def view(tmp_path_factory) -> bool:
    """Whether gradings run in the throwaway view (else in place, with hashes)."""
    return not overlay_unavailable(tmp_path_factory.mktemp("overlay-probe"))


@pytest.fixture(scope="session")
def clean_half_right(tmp_path_factory, view):
    """half_right's verdict per bank, graded in a clean view: what a second grading after a plant must equal."""
    verdicts = {}

    def get(bank: str):
        if bank not in verdicts:
            harness = LocalHarness(tmp_path_factory.mktemp(f"clean-{bank}"), view, timed=bank == "timed")
            graded = harness.grade("half_right", bank)
            assert not graded.problems, graded.problems
            verdicts[bank] = summary(graded.verdict)
        return verdicts[bank]

    return get


@pytest.fixture
def harness(tmp_path, view, request, monkeypatch):
    case, runner = request.node.callspec.params["case"], request.node.callspec.params["runner"]
    if runner == "docker":
        if case.bank != "toy":
            pytest.skip("the toy image holds the toy bank, not the timed one that this case needs")
        return DockerHarness(tmp_path, monkeypatch)
    if KIT and not view:
        pytest.skip("DIFFCHALLENGE_HOSTILE_KIT needs the throwaway view")
    if case.writes and not view:
        pytest.skip("not contained, this attack writes into the shared checkout or venv, and no throwaway view "
                    f"can be made here ({overlay_unavailable(tmp_path / 'probe')})")
    return LocalHarness(tmp_path, view, timed=case.bank == "timed")


@pytest.mark.parametrize(("case", "runner"), hostile_params())
def test_hostile_submission(case: Case, runner: str, harness: LocalHarness | DockerHarness, clean_half_right):
    secrets = Secrets.of(harness.timed_bank or TOY_BANK)
    graded = harness.grade(case.name, case.bank)
    problems = verdict_problems(graded, case.expect, case.bank, secrets)
    if case.twice:
        again = harness.grade("half_right", case.bank)
        problems += [f"second grading: {p}" for p in again.problems]
        if summary(again.verdict) != clean_half_right(case.bank):
            problems.append(f"the second grading differs from a clean one: {summary(again.verdict)} "
                            f"!= {clean_half_right(case.bank)}")
    problems += [f"damage: {line}" for line in harness.damage()]
    assert not problems, "\n".join(problems)


def test_the_corpus_is_complete():
    """Every file in tests/hostile/ is in the table, and the corpus covers every class of issue 10."""
    assert sorted(path.stem for path in HOSTILE.glob("*.py")) == sorted(case.name for case in CASES)
    assert {case.attack for case in CASES} == {"classic", *map(str, range(1, 10))}
    for case in CASES:
        header = (HOSTILE / f"{case.name}.py").read_text().splitlines()[0]
        assert header.startswith("#") or case.name in ("correct", "exits", "forbidden_call", "infinite_loop",
                                                       "memory_bomb", "prints_fake_passes", "segfaults",
                                                       "syntax_error"), case.name
