"""grade-batch on a Ray cluster (``--backend ray``): one Ray task per student, placed by Ray where it fits.

Each task asks for one grading's resources (``task_resources``): the CPUs of its threads, the memory of the
candidate's worker plus the trusted grader's, and one GPU for a grading on CUDA. Inside the task the kit's own
runner grades the submission unchanged (``batch.grade_submission``, the local pool's function): a local trusted
session whose sandboxed worker runs the candidate's code, or a Docker container. Candidate code never runs in
the Ray worker's interpreter.

Only data crosses the cluster: a submission travels as one zip archive (bytes in Ray's object store), staged on
the head by ``open_submission`` and unpacked on the node by it again, with the same checks; the result comes back
as JSON text (the verdict, the grader log's tail, the node), parsed and validated on the head by
``Verdict.from_json``. No object built from candidate data is pickled either way. A grading's artifacts stay on
its node: the head renders each report.html from the verdict alone.

Every node proves that it grades with the head's kit and bank (the identity the Docker image carries,
``runners.image.expected_labels``): the head asks each node before the batch and refuses to start on a stale
one, naming it; a node that joins later refuses each task itself. Results are recorded on the head as they
arrive; a node lost mid-batch has its tasks retried elsewhere by Ray (``NODE_RETRIES``), and each student is
recorded once, whichever try answered.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any
from unittest import mock

from rich.console import Console

from diffchallenge import similarity
from diffchallenge.bank.challenges import get_challenge
from diffchallenge.batch import (
    HTML,
    BatchError,
    clear_folder,
    collect_outcomes,
    forkserver_runner,
    grade_submission,
    prepare_batch,
    record_outcome,
    resumed_outcome,
    usable_cores,
    write_class_page,
)
from diffchallenge.grading import LOG_FILE, GradeOptions, GradingError, Runner
from diffchallenge.reports.gradebook import Outcome
from diffchallenge.reports.results import DEFAULT_FORMATS
from diffchallenge.runners.docker import GRADER_MEMORY
from diffchallenge.runners.image import LABEL_HASH, LABEL_VERSION, expected_labels
from diffchallenge.submissions import SubmissionRefused, open_submission
from pytest_diffchallenge.metadata import Challenge
from pytest_diffchallenge.sandboxing import SANDBOX_REQUIRED
from pytest_diffchallenge.staging import copy_submission
from pytest_diffchallenge.units import format_size
from pytest_diffchallenge.verdict import Verdict, VerdictError, write_atomically

NODE_RETRIES = 3  # retries of a task whose node or Ray worker died, each on whichever node Ray picks
IDENTITY_TIMEOUT_S = 300  # a node's first task starts a Ray worker and hashes the bank
LOG_TAIL_CHARS = 200_000  # of the grader log sent back: a submission may flood its output
OUTCOME_STATUSES = ("graded", "error", "refused")
RAY_WORKER_MAIN = "ray._private.workers.default_worker"  # skipped by the fork server if Ray moves it
INSTALL_HINT = "install it on every node: pip install 'diffchallenge[ray]' (README: Grading on a Ray cluster)"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise GradingError(f"the Ray backend needs Ray; {INSTALL_HINT}") from None
    return ray


# -- what a grading asks for, and who may run it ---------------------------------------------------------------
def task_resources(challenge: Challenge, options: GradeOptions) -> dict[str, float]:
    """One grading's needs, by Ray's resource names (memory as the Docker runner sizes a container)."""
    needs = {"CPU": float(options.threads), "memory": float(challenge.meta.limits.worker_memory + GRADER_MEMORY)}
    if options.device.startswith("cuda"):
        needs["GPU"] = 1.0
    return needs


def fitting_nodes(nodes: list[dict], needs: dict[str, float]) -> list[dict]:
    """The live nodes that could ever run one grading; none is a clear error rather than a task that waits forever."""
    alive = [node for node in nodes if node.get("Alive")]
    fitting = [node for node in alive if all(node["Resources"].get(name, 0) >= need for name, need in needs.items())]
    if fitting:
        return fitting
    wanted = amounts(needs, needs)
    declared = "; ".join(f"{describe(node_of(node))}: {amounts(node['Resources'], needs)}" for node in alive)
    hint = (" Declare GPUs when starting a GPU node: ray start --address HEAD:PORT --num-gpus N."
            if "GPU" in needs and not any(node["Resources"].get("GPU") for node in alive) else "")
    raise GradingError(f"no node of the Ray cluster can run a grading: each needs {wanted}, and the cluster has "
                       f"{declared or 'no live node'}.{hint}")


def amounts(resources: dict[str, float], names: Iterable[str]) -> str:
    """Resources as a person reads them: "CPU 2, memory 3548.00 MiB, GPU 1"."""
    shown = {name: resources.get(name, 0) for name in names}
    return ", ".join(f"{name} {format_size(amount) if name == 'memory' else f'{amount:g}'}"
                     for name, amount in shown.items())


# -- a node's identity -------------------------------------------------------------------------------------------
@functools.cache
def this_kit() -> dict[str, str]:
    """The kit version and bank hash this process grades with (once per Ray worker: hashing reads the bank)."""
    labels = expected_labels()
    return {"kit": labels[LABEL_VERSION], "bank_hash": labels[LABEL_HASH]}


def this_node() -> dict[str, str]:
    import ray

    return {"node_id": ray.get_runtime_context().get_node_id(), "ip": ray.util.get_node_ip_address(),
            "hostname": socket.gethostname()}


def node_of(entry: dict) -> dict[str, str]:
    """A node as ``ray.nodes()`` lists it, in this_node's terms."""
    return {"node_id": entry["NodeID"], "ip": entry.get("NodeManagerAddress", "?"),
            "hostname": entry.get("NodeManagerHostname", "?")}


def describe(node: dict[str, str]) -> str:
    return f"Ray node {node['ip']} ({node['hostname']}, id {node['node_id'][:12]})"


def stale_kit(node_kit: dict[str, str], head_kit: dict[str, str]) -> str:
    """Why a node must not grade for this head ("" when it may): another kit or another bank."""
    if node_kit == head_kit:
        return ""
    return (f"stale kit: this node has kit {node_kit['kit']} with bank hash {node_kit['bank_hash'][:12]}, the head "
            f"has kit {head_kit['kit']} with bank hash {head_kit['bank_hash'][:12]}; install the head's kit and bank "
            f"(challenges/ and solutions/) on this node and start it again")


def node_refusal(head_kit: dict[str, str]) -> str:
    """A Ray task: this node's refusal to grade for the head, or "" (the preflight of every node)."""
    refusal = stale_kit(this_kit(), head_kit)
    return f"{describe(this_node())} refuses the work: {refusal}" if refusal else ""


def check_nodes(ray: Any, nodes: list[dict], head_kit: dict[str, str]) -> None:
    """Ask every node that may grade whether it grades with the head's kit; refuse the batch if one does not."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    ask = ray.remote(node_refusal)
    questions = {ask.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False))
                 .remote(head_kit): node for node in nodes}
    answered, late = ray.wait(list(questions), num_returns=len(questions), timeout=IDENTITY_TIMEOUT_S)
    refusals = [f"{describe(node_of(questions[question]))} did not say which kit it has within "
                f"{IDENTITY_TIMEOUT_S} s" for question in late]
    for answer in answered:
        try:
            refusals.append(ray.get(answer))
        except ray.exceptions.RayError as error:
            refusals.append(f"{describe(node_of(questions[answer]))} could not say which kit it has: {error}")
    if refusals := [refusal for refusal in refusals if refusal]:
        raise GradingError("\n".join(refusals))


# -- one student on a node ---------------------------------------------------------------------------------------
def pack_submission(source: Path, scratch: Path) -> bytes:
    """The student's submission as a zip of its regular files, checked on the head as a local batch checks it."""
    submission = open_submission(source, scratch / "opened")
    staged = scratch / "staged"
    try:
        copy_submission(submission.folder, staged)
    except ValueError as error:
        raise SubmissionRefused(f"{source}: {error}") from None
    return Path(shutil.make_archive(str(scratch / "submission"), "zip", root_dir=staged)).read_bytes()


@functools.cache
def local_runner() -> Runner:
    """The Ray worker's fork server, kept for its next tasks (it exits with the worker)."""
    # multiprocessing runs the main script again in each forked session (CPython never passes it to the fork
    # server's preload), and a Ray worker's main imports all of ray: about 2 s a grading, unless preloaded.
    return forkserver_runner(preload=[RAY_WORKER_MAIN])


def node_runner(docker: dict | None, options: GradeOptions) -> Runner:
    if docker is None:
        return local_runner()
    import ray

    from diffchallenge.runners.docker import DockerRunner

    settings = dict(docker)
    if options.device.startswith("cuda") and settings.get("gpus") is None:
        settings["gpus"] = ",".join(map(str, ray.get_gpu_ids()))  # the container gets the GPU Ray gave this task
    return DockerRunner(**settings)


def grade_on_node(slug: str, student: str, archive: bytes, options: dict, docker: dict | None,
                  head_kit: dict[str, str]) -> str:
    """A Ray task: grade one student on this node with the kit's runner; return the outcome as JSON text."""
    node = this_node()
    if refusal := node_refusal(head_kit):  # a node that joined after the batch's check
        return json.dumps({"node": node, "status": "error", "message": refusal, "seconds": 0.0, "verdict": None,
                           "log": ""})
    grade_options = GradeOptions(**options)
    with tempfile.TemporaryDirectory(prefix="diffchallenge-ray-") as scratch:
        archive_path = Path(scratch) / "submission.zip"
        archive_path.write_bytes(archive)
        folder = Path(scratch) / "out"
        folder.mkdir()
        outcome = grade_submission(node_runner(docker, grade_options), get_challenge(slug), student, archive_path,
                                   folder, grade_options)
        log = folder / LOG_FILE
        log_tail = log.read_text(errors="replace")[-LOG_TAIL_CHARS:] if log.is_file() else ""
    return json.dumps({"node": node, "status": outcome.status, "message": outcome.message,
                       "seconds": outcome.seconds, "log": log_tail,
                       "verdict": outcome.verdict.to_json() if outcome.verdict is not None else None})


def received_outcome(student: str, source: Path, answer: str) -> tuple[Outcome, str]:
    """The outcome a node sent, checked as data; and the grader log's tail."""
    try:
        record = json.loads(answer)
        node = {key: str(record["node"][key]) for key in ("node_id", "ip", "hostname")}
        status, message, log = record["status"], record["message"], record["log"]
        if status not in OUTCOME_STATUSES or not isinstance(message, str) or not isinstance(log, str):
            raise TypeError("status, message or log malformed")
        seconds = record["seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError("seconds is not a number")
        verdict = None if record["verdict"] is None else Verdict.from_json(record["verdict"])
    except (ValueError, KeyError, TypeError, VerdictError) as error:
        return Outcome(student, "error", message=f"a Ray node sent a malformed result: {error!r}"), ""
    if verdict is not None:
        verdict = verdict.with_(submission=str(source), runner={**verdict.runner, "ray_node": node})
    if status == "error" and describe(node) not in message:
        message = f"on {describe(node)}: {message}"
    return Outcome(student, status, message=message, verdict=verdict, seconds=seconds), log


def graded_on_cluster(ray: Any, challenge: Challenge, students: dict[str, Path], out: Path, options: GradeOptions,
                      force: bool, docker: dict | None, head_kit: dict[str, str],
                      formats: Sequence[str]) -> Generator[Outcome]:
    """Submit every student not yet graded; yield each outcome, recorded, as it comes back."""
    needs = task_resources(challenge, options)
    task = ray.remote(grade_on_node).options(num_cpus=needs["CPU"], memory=needs["memory"],
                                             num_gpus=needs.get("GPU", 0), max_retries=NODE_RETRIES)
    pending: dict[Any, tuple[str, Path]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="diffchallenge-ray-head-") as scratch:
            for student, source in students.items():
                folder = out / student
                if not force and (resumed := resumed_outcome(student, folder, formats)) is not None:
                    yield resumed
                    continue
                clear_folder(folder)
                try:
                    archive = pack_submission(source, Path(scratch) / student)
                except SubmissionRefused as refusal:
                    yield record_outcome(Outcome(student, "refused", message=str(refusal)), folder, challenge,
                                         formats)
                    continue
                reference = task.remote(challenge.slug, student, ray.put(archive), asdict(options), docker, head_kit)
                pending[reference] = (student, source)
        while pending:
            [done], _ = ray.wait(list(pending), num_returns=1)
            student, source = pending.pop(done)
            try:
                outcome, log = received_outcome(student, source, ray.get(done))
            except ray.exceptions.RayError as error:  # every try failed: the student is graded again next run
                outcome, log = Outcome(student, "error", message=f"the Ray task failed: {error}"), ""
            if log:
                write_atomically(out / student / LOG_FILE, log)
            yield record_outcome(outcome, out / student, challenge, formats)
    finally:
        for reference in pending:  # an interrupted batch: each grading stops and cleans up (grading.grade)
            ray.cancel(reference)


@contextmanager
def connected(ray: Any, address: str | None) -> Iterator[None]:
    """Joined to the cluster at ``address``, or to a Ray instance started on this machine for this batch alone.

    A Ray instance of our own keeps everything in a temporary folder, removed once it has stopped: its session
    files, and what its workers leave when it kills them (their fork servers' folders).
    """
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}  # the grader logs are in the result folders
    scratch = None if address is not None else tempfile.mkdtemp(prefix="dcray-")  # short: Ray's socket paths
    try:
        if scratch is None:
            ray.init(address=address, **quiet)
        else:
            with mock.patch.dict(os.environ, TMPDIR=scratch):  # inherited by the raylet, then by every Ray worker
                ray.init(address="local", num_cpus=usable_cores(), include_dashboard=False, **quiet)
    except ConnectionError as error:
        raise GradingError(f"cannot reach the Ray cluster at {address}: {error}") from None
    except OSError as error:  # e.g. socket paths too long under a long TMPDIR
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise GradingError(f"cannot start Ray on this machine: {error}") from None
    try:
        yield
    finally:
        ray.shutdown()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def grade_batch(challenge: Challenge, submissions: Path, out: Path, *, address: str | None = None, threads: int = 1,
                force: bool = False, device: str = "cpu", console: Console | None = None,
                sandbox: str = SANDBOX_REQUIRED, docker: dict | None = None, formats: Sequence[str] = DEFAULT_FORMATS,
                similarity_threshold: float = similarity.DEFAULT_THRESHOLD) -> list[Outcome]:
    """``batch.grade_batch`` on a Ray cluster: same folders, reports, gradebook and class page, written on this
    machine."""
    if threads < 1:
        raise BatchError("--threads must be at least 1")
    students = prepare_batch(challenge, submissions, out, force, formats)
    options = GradeOptions(device=device, threads=threads, sandbox=sandbox)
    head_kit = this_kit()
    ray = import_ray()
    with connected(ray, address):
        check_nodes(ray, fitting_nodes(ray.nodes(), task_resources(challenge, options)), head_kit)
        with closing(graded_on_cluster(ray, challenge, students, out, options, force, docker, head_kit,
                                       formats)) as graded:
            outcomes = collect_outcomes(challenge, students, out, console or Console(stderr=True), graded)
    if HTML in formats:
        write_class_page(challenge, students, out, outcomes, similarity_threshold)
    return outcomes
