"""The grading session: the workers, the secret, and the hooks that turn test outcomes into the verdict.

One ``GradingSession`` per pytest run. It starts one worker per role (the submission; the reference
solution when a runtime budget needs it), records each test as a ``TestRecord`` with the status and reason
that ``faults.classify`` gives, and writes the verdict through ``verdict.write_results``: after collection
and after every test (so that a session stopped half-way still says which tests it finished), and once
more, complete, at the end.
"""

from __future__ import annotations

import functools
import platform
import signal
import sys
import time
from importlib import metadata as distributions
from pathlib import Path

import pytest

from pytest_diffchallenge import artifacts, branches, figures, markers, recipes, sandboxing, secret
from pytest_diffchallenge.client import WALL_FACTOR, WorkerClient
from pytest_diffchallenge.faults import GraderError, SubmissionMemoryExceeded, TrustedCodeHung, classify
from pytest_diffchallenge.metadata import Challenge, challenge_folder_of, is_secret, load_challenge
from pytest_diffchallenge.processes import become_subreaper
from pytest_diffchallenge.units import format_size
from pytest_diffchallenge.verdict import (
    MESSAGE_CHARS,
    Reason,
    SkippedTest,
    Status,
    TestRecord,
    Verdict,
    clean_figures,
    readable,
    write_results,
)

RESIDENT_SLACK = 16 * 1024**2
BACKSTOP_MARGIN_S = 60  # the backstop stops trusted code that hangs; the worker has its own limits
UNFINISHED = "not finished: the grading session ended before this test did"
PLUGIN_NAME = "diffchallenge-session"
QUOTED_LINE_CHARS = 16  # shorter lines of a hidden test (imports, decorators) say nothing about it
QUOTED_SEED_DIGITS = 6  # a shorter seed is a number like any other
QUOTED_LINE = "[a line that quotes a hidden test was removed]"


@functools.cache
def environment(device: str) -> dict[str, str]:
    import diffusers
    import torch

    try:
        kit = distributions.version("diffchallenge")
    except distributions.PackageNotFoundError:
        kit = "unknown"
    info = {"diffchallenge": kit, "python": platform.python_version(), "torch": torch.__version__,
            "diffusers": diffusers.__version__, "device": device, "platform": platform.platform()}
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def resident_allowance(ceiling: int) -> int:
    """How far a measured call's resident growth, read from outside the worker, may exceed the tensor ceiling.

    The worker maps each allocation of 64 KiB or more on its own (``confinement.return_freed_memory``), so
    the growth follows live memory: chunked-attention's reference, 19.1 MiB of tensors, grew by 18.3 to 20.3
    MiB over six calls. What is left is the interpreter's and the libraries' own: a quarter of the ceiling
    plus 16 MiB. A score matrix hidden from the in-worker meter at 4096 tokens (64 MiB) is well over it.
    """
    return ceiling // 4 + RESIDENT_SLACK


def visibility(item: pytest.Item) -> str:
    """A test is hidden if and only if its file is secret (it lives in the bank's solutions/)."""
    return "hidden" if is_secret(item.path) else "visible"


def failure_message(error: BaseException | None) -> str:
    if error is None:
        return ""
    if isinstance(error, AssertionError) and str(error):
        return str(error)
    return f"{type(error).__name__}: {error}"


class GradingSession:
    """Per-session state: the workers, the secret and the test records."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.secret = secret.read_secret()
        self.workers: dict[tuple[str, str], WorkerClient] = {}
        self.records: dict[str, TestRecord] = {}
        self.skipped: dict[str, SkippedTest] = {}
        self.selected: list[pytest.Item] = []
        self.challenges: dict[Path, Challenge | None] = {}
        self.errors: list[str] = []
        self.hidden_lines: set[str] = set()  # the hidden tests' source, kept out of what candidates see
        self.hidden_values: set[str] = set()  # the hidden tests' seeds
        self.started = time.time()
        self.device: str = config.getoption("diffchallenge_device")
        self.threads: int = config.getoption("diffchallenge_threads")
        scratch = config.getoption("diffchallenge_scratch")
        self.scratch = Path(scratch) if scratch else None
        results = config.getoption("diffchallenge_results")
        self.results_path = Path(results) if results else None
        kept = config.getoption("diffchallenge_artifacts")
        self.artifacts = artifacts.ArtifactWriter(Path(kept)) if kept else None
        self.only: set[str] = set(config.getoption("diffchallenge_only"))
        import torch

        # The oracle runs with the workers' thread count: results can depend on it (1e-6 in a forward pass,
        # far more after a few optimizer steps), and the comparison must see only the candidate's doing.
        torch.set_num_threads(self.threads)
        become_subreaper()

    # -- challenges and workers --------------------------------------------------------------------------
    def challenge(self, item: pytest.Item) -> Challenge | None:
        folder = challenge_folder_of(Path(str(item.path)))
        if folder is None:
            return None
        if folder not in self.challenges:
            self.challenges[folder] = load_challenge(folder)
        return self.challenges[folder]

    def probes(self, challenge: Challenge):
        from pytest_diffchallenge.worker.serve import load_module

        name = "diffchallenge_probes_" + challenge.slug.replace("-", "_")
        return sys.modules.get(name) or load_module(name, str(challenge.probes))

    def worker(self, challenge: Challenge, role: str) -> WorkerClient:
        key = (str(challenge.root), role)
        if key not in self.workers:
            if role == "submission":
                option = self.config.getoption("submission")
                solution_dir = Path(option) if option else challenge.root
            else:
                option = self.config.getoption("reference")
                solution_dir = Path(option) if option else challenge.reference_dir  # type: ignore[assignment]
                if solution_dir is None or not (solution_dir / "solution.py").is_file():
                    pytest.skip("this check needs the reference solution, which only graders have")
            from pytest_diffchallenge.inprocess import InProcessClient

            client = InProcessClient if self.config.getoption("diffchallenge_in_process") else WorkerClient
            self.workers[key] = client(
                solution_dir=solution_dir.resolve(), probes=challenge.probes, forbidden=challenge.meta.forbidden,
                device=self.device, threads=self.threads, memory_limit=challenge.meta.limits.worker_memory,
                label="submission" if role == "submission" else "reference solution", scratch=self.scratch,
                sandbox=self.config.getoption("diffchallenge_sandbox"))
        return self.workers[key]

    # -- collection --------------------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        selected, deselected = [], []
        for item in items:
            challenge = self.challenge(item)
            if challenge is not None and ((config.getoption("public_only") and is_secret(item.path))
                                          or (self.only and item.nodeid not in self.only)):
                deselected.append(item)
                continue
            selected.append(item)
            if challenge is not None and item.get_closest_marker("timeout") is None:
                limit = markers.time_limit(item, challenge) * WALL_FACTOR + BACKSTOP_MARGIN_S
                item.add_marker(pytest.mark.timeout(limit))
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = selected
        for nodeid in sorted(self.only - {item.nodeid for item in selected}):
            self.errors.append(f"no test {nodeid} to run (--diffchallenge-only)")
        self.selected = [item for item in selected if self.challenge(item) is not None]
        for item in self.selected:
            challenge = self.challenge(item)
            if challenge is not None and (unknown := markers.unknown_items(item, challenge)):
                self.errors.append(f"{item.nodeid} covers {', '.join(unknown)}, not in its challenge.toml's contract")
        hidden = [item for item in self.selected if is_secret(item.path)]
        for path in {item.path for item in hidden}:
            self.hidden_lines |= {line.strip() for line in path.read_text().splitlines()
                                  if len(line.strip()) >= QUOTED_LINE_CHARS}
        seeds = (str(secret.hidden_seed(self.secret, item.nodeid)) for item in hidden)
        self.hidden_values = {seed for seed in seeds if len(seed) >= QUOTED_SEED_DIGITS}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Launch the workers now, so that their imports overlap with the oracle's first work here."""
        recipes.exact_float32(self.device)  # the oracle computes here
        self.write(final=False)
        for challenge in {id(c): c for item in self.selected if (c := self.challenge(item))}.values():
            self.worker(challenge, "submission").launch()
            needs_reference = any(item.get_closest_marker("runtime_budget") for item in self.selected
                                  if self.challenge(item) is challenge)
            reference = self.config.getoption("reference") or challenge.reference_dir
            if needs_reference and reference and (Path(reference) / "solution.py").is_file():
                self.worker(challenge, "reference").launch()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(f"could not collect {report.nodeid}: {str(report.longrepr)[-MESSAGE_CHARS:]}")

    # -- running a test ----------------------------------------------------------------------------------
    @pytest.hookimpl(optionalhook=True)
    def pytest_timeout_set_timer(self, item: pytest.Item, settings) -> bool | None:
        """pytest-timeout's backstop, raising a grader fault of its own class (trusted code hung)."""
        if self.challenge(item) is None or not settings.timeout:
            return None

        def expire(signum, frame):
            raise TrustedCodeHung(f"the grader's side of this test ran past its {settings.timeout:g} s backstop")

        signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, settings.timeout)
        return True

    @pytest.hookimpl(optionalhook=True)
    def pytest_timeout_cancel_timer(self, item: pytest.Item) -> bool | None:
        if self.challenge(item) is None:
            return None
        signal.setitimer(signal.ITIMER_REAL, 0)
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        challenge = self.challenge(item)
        if challenge is None:
            return (yield)
        measured = figures.start_test()
        if self.artifacts is not None:
            artifacts.start_test()
        for worker in self.workers.values():
            worker.begin_test(markers.time_limit(item, challenge))
        if self.config.getoption("diffchallenge_trace_oracle"):
            with branches.lines_reached(branches.watched_files(tuple(challenge.meta.forbidden))) as reached:
                result = yield
            figures.record(branches.DIGEST_FIGURE, branches.digest(reached))
        else:
            result = yield
        ceiling = markers.memory_ceiling(item, challenge, self.device)
        if ceiling is not None:
            peak = measured.get("peak_tensor_memory_bytes")
            figures.record(figures.TENSOR_MEMORY_CEILING, ceiling)  # the device's ceiling, for the reports
            if peak is None:
                raise GraderError("memory_limit test made no measured submission call")
            if peak > ceiling:
                raise SubmissionMemoryExceeded(f"peak tensor memory {format_size(peak)} exceeds the ceiling of "
                                               f"{format_size(ceiling)}")
            growth = measured.get("resident_growth_bytes", 0)
            if growth > ceiling + resident_allowance(ceiling):
                raise SubmissionMemoryExceeded(
                    f"the worker's resident memory grew by {format_size(growth)} during the measured call, more than "
                    f"a peak of {format_size(ceiling)} allows, although it reported {format_size(peak)}: memory "
                    f"was kept out of the tensor accounting")
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        if self.challenge(item) is None:
            return report
        if report.skipped:
            why = report.longrepr[-1] if isinstance(report.longrepr, tuple) else "skipped"
            self.skipped[item.nodeid] = SkippedTest(name=item.name, nodeid=item.nodeid, visibility=visibility(item),
                                                    why=str(why))
            return report
        error = call.excinfo.value if call.excinfo is not None else None
        status, why = classify(error)
        previous = self.records.get(item.nodeid)
        if report.when == "setup" and status is Status.PASSED:
            return report
        if report.when == "teardown" and (status is Status.PASSED or
                                          (previous is not None and previous.status is not Status.PASSED)):
            return report  # a clean teardown keeps the call's outcome; the first failure wins
        self.records[item.nodeid] = TestRecord(
            name=item.name, nodeid=item.nodeid, status=status, reason=why, max_score=markers.points(item),
            visibility=visibility(item), message=readable(self.shown(item, failure_message(error))[:MESSAGE_CHARS]),
            raised=readable(getattr(error, "raised", "")),
            figures=clean_figures(figures.current()), covers=markers.covered(item))
        return report

    def pytest_runtest_logfinish(self, nodeid: str, location) -> None:
        kept = artifacts.finish_test(nodeid)
        if self.artifacts is not None and kept is not None:
            try:
                self.artifacts.write(kept)
            except OSError as error:  # the artifacts only illustrate the verdict: losing them changes no grade
                print(f"diffchallenge: could not keep the artifacts of {nodeid}: {error}", file=sys.stderr)
        if self.selected:
            self.write(final=False)

    def shown(self, item: pytest.Item, message: str) -> str:
        """A visible test's message with every line that quotes a hidden test (source or seed) taken out.

        Defence in depth: nothing hidden should reach a visible test, but a submission that read a hidden
        test somehow must not be able to publish it through a message that candidates see.
        """
        if is_secret(item.path):
            return message
        return "\n".join(QUOTED_LINE if any(hidden in line for hidden in self.hidden_lines)
                         or any(value in line for value in self.hidden_values) else line
                         for line in message.splitlines())

    # -- the end -----------------------------------------------------------------------------------------
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        for worker in self.workers.values():
            worker.stop()
        if self.challenges:
            self.write(final=True)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.records:
            return
        verdict = self.verdict(final=True)
        terminalreporter.section("diffchallenge")
        for test in verdict.tests:
            terminalreporter.write_line(f"{test.status:>7}  {test.score:g}/{test.max_score:g}  {test.name}")
        terminalreporter.write_line(f"score: {verdict.score:g} / {verdict.max_score:g}", bold=True)

    def write(self, *, final: bool) -> None:
        if self.results_path is not None:
            write_results(self.results_path, self.verdict(final=final))

    def verdict(self, *, final: bool) -> Verdict:
        """The verdict so far; unless ``final``, the selected tests not finished yet are in ``unfinished``."""
        challenges = [c for c in self.challenges.values() if c is not None]
        tests = [self.records[item.nodeid] for item in self.selected if item.nodeid in self.records]
        unfinished = [] if final else [
            TestRecord(name=item.name, nodeid=item.nodeid, status=Status.ERROR, reason=Reason.INFRASTRUCTURE,
                       max_score=markers.points(item), visibility=visibility(item), message=UNFINISHED)
            for item in self.selected if item.nodeid not in self.records and item.nodeid not in self.skipped]
        errors = list(self.errors)
        max_score = sum(t.max_score for t in tests)
        complete_run = not (self.config.getoption("public_only") or self.config.getoption("maxfail") or self.only)
        if final and len(challenges) == 1 and complete_run and not errors and not self.skipped \
                and max_score != challenges[0].meta.points:
            errors.append(f"the tests add up to {max_score:g} points but challenge.toml declares "
                          f"{challenges[0].meta.points}")
        in_process = self.config.getoption("diffchallenge_in_process")
        sandbox = next((worker.sandbox_layers for (_, role), worker in self.workers.items() if role == "submission"),
                       {})
        return Verdict(
            challenge=challenges[0].slug if len(challenges) == 1 else ",".join(c.slug for c in challenges),
            title=challenges[0].meta.title if len(challenges) == 1 else "",
            tests=tests, unfinished=unfinished, errors=errors, skipped=list(self.skipped.values()),
            isolation="none (in-process)" if in_process else sandboxing.summary(sandbox), sandbox=sandbox,
            environment=environment(self.device), duration_s=round(time.time() - self.started, 2))
