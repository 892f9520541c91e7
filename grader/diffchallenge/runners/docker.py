"""Grade a submission inside a hardened container of the grading image (``--runner docker``).

Each grading gets a fresh container: no network, a read-only root filesystem with a tmpfs /tmp,
memory/CPU/pids limits, all capabilities dropped but those the grader needs to run its workers as other
users (KEPT_CAPABILITIES; docker/entrypoint.sh), no-new-privileges, the submission mounted read-only and
/results, a volume only the grader's uid may write. Inside, the same trusted ``grading.grade`` runs (the one
grading path); the candidate's worker and the reference worker each run as their own random unprivileged uid
with no capabilities, so the candidate's can neither write the results, read the hidden tests or the
reference, nor signal the reference worker while it is timed. A hard wall-clock limit kills the container;
the container is removed whatever happens, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import io
import json
import secrets
import shutil
import signal
import tarfile
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from diffchallenge.bank.challenges import get_challenge
from diffchallenge.grading import (
    LOG_FILE,
    SESSION_FILE,
    GradeOptions,
    GradingError,
    grade,
    session_limit,
    session_verdict,
)
from diffchallenge.runners import DEFAULT_PIDS
from diffchallenge.runners.image import TAGS, ImageError, check_labels
from pytest_diffchallenge.artifacts import ARTIFACTS_DIR, is_artifact_file
from pytest_diffchallenge.metadata import Challenge
from pytest_diffchallenge.sandboxing import SANDBOX_MODES, SANDBOX_REQUIRED
from pytest_diffchallenge.staging import copy_submission
from pytest_diffchallenge.units import format_size, parse_size
from pytest_diffchallenge.users import UID_VARIABLES
from pytest_diffchallenge.verdict import RESULTS_FILE, Reason, Verdict, VerdictError, read_results, write_results

CONTAINER_LABEL = "org.diffchallenge.grading"
GRADER_MEMORY = 2 * 1024**3  # the trusted pytest process (torch, diffusers, the oracle) beside the worker
STARTUP_MARGIN_S = 120

TMPFS_SIZE = "1g"
# The grader's: switch to a worker's user, stop it, give its folder to its group (CHOWN) and remove what the
# worker left there (DAC_OVERRIDE); also what the entrypoint needs as root to hand /tmp to the grader.
KEPT_CAPABILITIES = ["SETUID", "SETGID", "KILL", "CHOWN", "DAC_OVERRIDE"]
WORKER_UIDS = (200_000, 260_000)  # random per container: no other container's worker shares its process count
# Named by absolute path, and with -I: nothing on PATH or in the working directory decides what runs.
IMAGE_PYTHON = "/opt/venv/bin/python"
SUBMISSION_MOUNT, RESULTS_MOUNT = "/submission", "/results"
UNREACHABLE_HINT = ("start the Docker engine (dockerd), check DOCKER_HOST and your access to its socket, "
                    "or grade without containers: --runner local")


@dataclass(frozen=True)
class ContainerLimits:
    memory: int
    cpus: float
    pids: int
    wall_clock_s: float

    @classmethod
    def for_challenge(cls, challenge: Challenge, options: GradeOptions, *, memory: str | None = None,
                      cpus: float | None = None, pids: int | None = None, wall_clock_s: float | None = None):
        """From the challenge's metadata (the worker's memory, the session's time), overridden by the CLI."""
        return cls(memory=parse_size(memory) if memory else challenge.meta.limits.worker_memory + GRADER_MEMORY,
                   cpus=cpus or float(options.threads), pids=pids or DEFAULT_PIDS,
                   wall_clock_s=wall_clock_s or session_limit(challenge) + STARTUP_MARGIN_S)


def docker_client():
    """A client for the Docker engine, or a GradingError that says how to go on without one."""
    try:
        import docker
    except ImportError:
        raise GradingError("the Docker runner needs the docker Python SDK (pip install 'diffchallenge[docker]'); "
                           "or grade without containers: --runner local") from None
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as error:
        raise GradingError(f"cannot reach the Docker engine: {error}. {UNREACHABLE_HINT}") from None
    return client


def device_requests(gpus: str | None, device: str) -> list:
    """GPUs for the container: `--gpus all|N|ID,ID`, or every GPU when the grading runs on CUDA."""
    from docker.types import DeviceRequest

    if gpus is None and not device.startswith("cuda"):
        return []
    gpus = gpus or "all"
    if gpus == "all":
        return [DeviceRequest(count=-1, capabilities=[["gpu"]])]
    if gpus.isdigit():
        return [DeviceRequest(count=int(gpus), capabilities=[["gpu"]])]
    return [DeviceRequest(device_ids=gpus.split(","), capabilities=[["gpu"]])]


def pick_worker_uids() -> dict[str, int]:
    """A distinct random uid for each worker role: no worker can read, signal or trace another."""
    uids = secrets.SystemRandom().sample(range(*WORKER_UIDS), len(UID_VARIABLES))
    return dict(zip(UID_VARIABLES, uids, strict=True))


def container_options(*, image: str, challenge: Challenge, options: GradeOptions, limits: ContainerLimits,
                      submission: Path, gpus: str | None, worker_uids: dict[str, int]) -> dict:
    """Everything `containers.create` gets: the whole hardening in one place."""
    from docker.types import Mount

    command = [IMAGE_PYTHON, "-I", "-B", "-m", "diffchallenge.runners.docker", "--inside", challenge.slug,
               "--device", options.device, "--threads", str(max(1, int(limits.cpus))), "--sandbox", options.sandbox]
    if options.public_only:
        command.append("--public-only")
    if options.artifacts:
        command.append("--artifacts")
    command += [f"--only={nodeid}" for nodeid in options.only]  # "=": a node id is never taken for an option
    return dict(
        image=image, command=command, labels={CONTAINER_LABEL: challenge.slug},
        user="root",  # only until docker/entrypoint.sh switches to the grader's uid
        environment={**{UID_VARIABLES[role]: str(uid) for role, uid in worker_uids.items()}, "TQDM_DISABLE": "1"},
        network_disabled=True, network_mode="none",
        # The engine gives the tmpfs the image's /tmp mode (1777) whatever the options say; the entrypoint then
        # hands it to the grader (0711): workers reach their own folders in it, and plant nothing else.
        read_only=True, tmpfs={"/tmp": f"rw,nosuid,nodev,size={TMPFS_SIZE}"},
        mem_limit=limits.memory, memswap_limit=limits.memory, nano_cpus=int(limits.cpus * 1e9),
        pids_limit=limits.pids, cap_drop=["ALL"], cap_add=KEPT_CAPABILITIES,
        security_opt=["no-new-privileges"], ipc_mode="private", init=True,
        mounts=[Mount(SUBMISSION_MOUNT, str(submission), type="bind", read_only=True),
                Mount(RESULTS_MOUNT, None, type="volume")],  # anonymous: created from the image's /results
        device_requests=device_requests(gpus, options.device), detach=True)


def image_tag(options: GradeOptions, image: str | None) -> tuple[str, str]:
    variant = "gpu" if options.device.startswith("cuda") else "cpu"
    return image or TAGS[variant], variant


@contextmanager
def interrupts_as_keyboard_interrupt():
    """SIGTERM cleans up like Ctrl-C does (only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def remove(container) -> None:
    import docker

    try:
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        pass


def copy_results(container, into: Path) -> None:
    """Take the verdict files, the log and the artifacts out of /results: only the grader's uid could write there."""
    stream, _ = container.get_archive(RESULTS_MOUNT)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        for member in archive.getmembers():
            path = Path(member.name)
            if not member.isfile():
                continue
            if path.parent.name == ARTIFACTS_DIR and is_artifact_file(path.name):
                target = into / ARTIFACTS_DIR / path.name
            elif path.name in (RESULTS_FILE, SESSION_FILE, LOG_FILE):
                target = into / path.name
            else:
                continue
            extracted = archive.extractfile(member)
            if extracted is not None:
                target.parent.mkdir(exist_ok=True)
                target.write_bytes(extracted.read())


def explain_oom(verdict: Verdict, limits: ContainerLimits) -> Verdict:
    """A worker killed by the kernel only says SIGKILL: the container's state says it was over memory."""
    note = (f"\n(the container reached its memory limit of {format_size(limits.memory)} and the kernel's "
            f"out-of-memory killer stopped the process)")
    return verdict.with_(tests=[replace(t, reason=Reason.OVER_MEMORY, message=t.message + note)
                                if t.reason is Reason.CRASHED else t for t in verdict.tests])


class DockerRunner:
    """Grades in containers of one image; safe to call from several threads (grade-batch --jobs)."""

    def __init__(self, *, image: str | None = None, gpus: str | None = None, memory: str | None = None,
                 cpus: float | None = None, pids: int | None = None, wall_clock_s: float | None = None):
        self.client = docker_client()
        self.image, self.gpus = image, gpus
        self.memory, self.cpus, self.pids, self.wall_clock_s = memory, cpus, pids, wall_clock_s
        self.checked: set[str] = set()
        self.live: set = set()
        self.lock = threading.Lock()

    def check_image(self, tag: str, variant: str) -> None:
        import docker

        if tag in self.checked:
            return
        try:
            labels = self.client.images.get(tag).labels
        except docker.errors.ImageNotFound:
            raise GradingError(f"no grading image {tag}: build it with `diffchallenge image build --{variant}` "
                               f"(docker/README.md), or grade without containers: --runner local") from None
        try:
            check_labels(labels, tag, variant)
        except ImageError as error:
            raise GradingError(str(error)) from None
        self.checked.add(tag)

    def grade(self, challenge: Challenge, submission: Path, out: Path,
              options: GradeOptions = GradeOptions()) -> Verdict:
        """Same contract as ``grading.grade``: return the verdict; the grader log goes to ``out``."""
        import requests

        import docker

        tag, variant = image_tag(options, self.image)
        self.check_image(tag, variant)
        limits = ContainerLimits.for_challenge(challenge, options, memory=self.memory, cpus=self.cpus,
                                               pids=self.pids, wall_clock_s=self.wall_clock_s)
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="diffchallenge-submission-") as staging, \
                interrupts_as_keyboard_interrupt():
            # A copy of regular files only (no symlinks out, size-capped), readable by the container's grader.
            staged = Path(staging) / "submission"
            staged.mkdir(mode=0o755)
            Path(staging).chmod(0o755)
            try:
                copy_submission(Path(submission), staged)
            except ValueError as error:
                raise GradingError(f"cannot stage the submission: {error}") from None
            for path in staged.rglob("*"):
                path.chmod(0o755 if path.is_dir() else 0o644)
            container = None
            started = time.monotonic()
            try:
                container = self.client.containers.create(**container_options(
                    image=tag, challenge=challenge, options=options, limits=limits, submission=staged,
                    gpus=self.gpus, worker_uids=pick_worker_uids()))
                with self.lock:
                    self.live.add(container)
                container.start()
                try:
                    exit_code = container.wait(timeout=limits.wall_clock_s)["StatusCode"]
                except requests.exceptions.RequestException:  # a read timeout, however the transport words it
                    if time.monotonic() - started < limits.wall_clock_s:
                        raise
                    container.kill()
                    exit_code = None
                verdict = self.container_verdict(container, out, Path(staging), exit_code, limits)
            except docker.errors.ImageNotFound:
                raise GradingError(
                    f"no grading image {tag}: build it with `diffchallenge image build --{variant}`") from None
            except docker.errors.APIError as error:
                raise GradingError(f"the Docker engine refused the grading container: {error}") from None
            finally:
                if container is not None:
                    remove(container)
                    with self.lock:
                        self.live.discard(container)
        return verdict.with_(submission=str(submission), runner={
            "kind": "docker", "image": tag, "limits": asdict(limits), "gpus": self.gpus,
            "container_seconds": round(time.monotonic() - started, 2)})

    @staticmethod
    def container_verdict(container, out: Path, staging: Path, exit_code: int | None,
                          limits: ContainerLimits) -> Verdict:
        """The verdict the container left: complete, or its session's partial one when the wall clock hit."""
        received = staging / "results"
        received.mkdir()
        copy_results(container, received)
        for name in (LOG_FILE, SESSION_FILE):
            if (received / name).is_file():
                shutil.copyfile(received / name, out / name)
        shutil.rmtree(out / ARTIFACTS_DIR, ignore_errors=True)  # an earlier grading's never pass for this one's
        if (received / ARTIFACTS_DIR).is_dir():
            shutil.copytree(received / ARTIFACTS_DIR, out / ARTIFACTS_DIR)
        if exit_code is None:  # killed at the wall clock: the same outcome as a local session that overran
            return session_verdict(out, returncode=None, limit_s=limits.wall_clock_s)
        (out / SESSION_FILE).unlink(missing_ok=True)  # the container finished it: results.json is the verdict
        try:
            verdict = read_results(received / RESULTS_FILE)
        except VerdictError as error:
            tail = container.logs(tail=40).decode(errors="replace")
            raise GradingError(f"the grading container exited with code {exit_code} and left no verdict "
                               f"({error}):\n{tail}") from None
        container.reload()
        return explain_oom(verdict, limits) if container.attrs["State"].get("OOMKilled") else verdict

    def stop_all(self) -> None:
        """Kill and remove every container still grading (grade-batch interrupted)."""
        with self.lock:
            running = list(self.live)
        for container in running:
            remove(container)


# -- inside the container ------------------------------------------------------------------------------------
def main_inside(argv: list[str] | None = None) -> int:
    """The container's command: the trusted grading of /submission into /results."""
    parser = argparse.ArgumentParser(prog="diffchallenge.runners.docker")
    parser.add_argument("--inside", required=True, metavar="SLUG")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--public-only", action="store_true")
    parser.add_argument("--sandbox", choices=SANDBOX_MODES, default=SANDBOX_REQUIRED)
    parser.add_argument("--artifacts", action="store_true")
    parser.add_argument("--only", action="append", default=[], metavar="NODEID")
    args = parser.parse_args(argv)
    options = GradeOptions(device=args.device, threads=args.threads, public_only=args.public_only,
                           sandbox=args.sandbox, artifacts=args.artifacts, only=tuple(args.only))
    try:
        verdict = grade(get_challenge(args.inside), Path(SUBMISSION_MOUNT), Path(RESULTS_MOUNT), options)
    except GradingError as error:
        print(f"infrastructure error: {error}", flush=True)
        return 3
    write_results(Path(RESULTS_MOUNT) / RESULTS_FILE, verdict)
    print(json.dumps({"challenge": verdict.challenge, "status": verdict.status, "score": verdict.score,
                      "max_score": verdict.max_score}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main_inside())
