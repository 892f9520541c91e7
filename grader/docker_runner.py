"""Grade a submission inside a hardened container of the grading image (``--runner docker``).

Each grading gets a fresh container: no network, a read-only root filesystem with a tmpfs /tmp,
memory/CPU/pids limits, all capabilities dropped but the three the grader needs to start and stop the
worker as another user (SETUID, SETGID, KILL; docker/entrypoint.sh), no-new-privileges, the submission
mounted read-only and /results, a volume only the grader's uid may write. Inside, the same trusted
``grading.grade`` runs; the candidate's worker runs as a random unprivileged uid with no capabilities, so
it can neither write the results nor read the hidden tests. A hard wall-clock limit kills the container;
the container is removed whatever happens, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import io
import json
import secrets
import signal
import tarfile
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from diffchallenge.bank import Challenge, get_challenge
from diffchallenge.docker_image import TAGS, ImageError, check_labels
from diffchallenge.grading import LOG_FILE, RESULTS_FILE, GradeOptions, GradingError, grade, session_limit
from pytest_diffchallenge.memory import format_size, parse_size
from pytest_diffchallenge.worker_client import WORKER_UID_VARIABLE, copy_submission

CONTAINER_LABEL = "org.diffchallenge.grading"
GRADER_MEMORY = 2 * 1024**3  # the trusted pytest process (torch, diffusers, the oracle) beside the worker
STARTUP_MARGIN_S = 120
DEFAULT_PIDS = 512
TMPFS_SIZE = "1g"
KEPT_CAPABILITIES = ["SETUID", "SETGID", "KILL"]
WORKER_UIDS = (200_000, 260_000)  # random per container: no other container's worker shares its process count
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


def container_options(*, image: str, challenge: Challenge, options: GradeOptions, limits: ContainerLimits,
                      submission: Path, gpus: str | None, worker_uid: int) -> dict:
    """Everything `containers.create` gets: the whole hardening in one place."""
    from docker.types import Mount

    command = ["python", "-m", "diffchallenge.docker_runner", "--inside", challenge.slug,
               "--device", options.device, "--threads", str(max(1, int(limits.cpus)))]
    if options.public_only:
        command.append("--public-only")
    return dict(
        image=image, command=command, labels={CONTAINER_LABEL: challenge.slug},
        user="root",  # only until docker/entrypoint.sh switches to the grader's uid
        environment={WORKER_UID_VARIABLE: str(worker_uid), "TQDM_DISABLE": "1"},
        network_disabled=True, network_mode="none",
        read_only=True, tmpfs={"/tmp": f"rw,nosuid,nodev,size={TMPFS_SIZE},mode=1777"},
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


def copy_results(container, out: Path) -> None:
    """Take results.json and the log out of /results: only the grader's uid could write there."""
    stream, _ = container.get_archive(RESULTS_MOUNT)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        for member in archive.getmembers():
            name = Path(member.name).name
            if member.isfile() and name in (RESULTS_FILE, LOG_FILE):
                (out / name).write_bytes(archive.extractfile(member).read())


def timed_out_verdict(challenge: Challenge, limits: ContainerLimits, log_tail: str) -> dict:
    return {"challenge": challenge.slug, "title": challenge.meta.title, "status": "timed out", "score": 0.0,
            "max_score": float(challenge.meta.points), "tests": [], "errors": [
                f"timed out: the container ran past its {limits.wall_clock_s:g} s wall-clock limit and was "
                f"killed and removed"], "log_tail": log_tail}


def explain_oom(verdict: dict, limits: ContainerLimits) -> None:
    """A worker killed by the kernel only says SIGKILL: say that it was the container's memory limit."""
    note = (f" (the container reached its memory limit of {format_size(limits.memory)} and the kernel's "
            f"out-of-memory killer stopped the process)")
    for test in verdict["tests"]:
        if "killed by signal SIGKILL" in test["message"]:
            test["message"] = test["message"].replace("killed by signal SIGKILL",
                                                      "killed by signal SIGKILL" + note, 1)


class DockerRunner:
    """Grades in containers of one image; safe to call from several threads (grade-batch --jobs)."""

    def __init__(self, *, image: str | None = None, gpus: str | None = None, memory: str | None = None,
                 cpus: float | None = None, pids: int | None = None, wall_clock_s: float | None = None):
        self.client = docker_client()
        self.image, self.gpus = image, gpus
        self.overrides = dict(memory=memory, cpus=cpus, pids=pids, wall_clock_s=wall_clock_s)
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
              options: GradeOptions = GradeOptions(), reference: Path | None = None) -> dict:
        """Same contract as ``grading.grade``: write ``out/results.json`` and return the verdict."""
        import docker
        import requests

        if reference is not None:
            raise GradingError("the Docker runner grades against the image's own reference solutions")
        tag, variant = image_tag(options, self.image)
        self.check_image(tag, variant)
        limits = ContainerLimits.for_challenge(challenge, options, **self.overrides)
        out.mkdir(parents=True, exist_ok=True)
        (out / RESULTS_FILE).unlink(missing_ok=True)
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
                    gpus=self.gpus, worker_uid=secrets.randbelow(WORKER_UIDS[1] - WORKER_UIDS[0]) + WORKER_UIDS[0]))
                with self.lock:
                    self.live.add(container)
                container.start()
                try:
                    exit_code = container.wait(timeout=limits.wall_clock_s)["StatusCode"]
                except requests.exceptions.RequestException:  # a read timeout, however the transport words it
                    if time.monotonic() - started < limits.wall_clock_s:
                        raise
                    container.kill()
                    tail = container.logs(tail=40).decode(errors="replace")
                    verdict = timed_out_verdict(challenge, limits, tail)
                else:
                    copy_results(container, out)
                    if not (out / RESULTS_FILE).is_file():
                        tail = container.logs(tail=40).decode(errors="replace")
                        raise GradingError(f"the grading container exited with code {exit_code} and wrote no "
                                           f"verdict:\n{tail}")
                    verdict = json.loads((out / RESULTS_FILE).read_text())
                    container.reload()
                    if container.attrs["State"].get("OOMKilled"):
                        explain_oom(verdict, limits)
                    verdict["oom_killed"] = bool(container.attrs["State"].get("OOMKilled"))
            except docker.errors.ImageNotFound:
                raise GradingError(f"no grading image {tag}: build it with `diffchallenge image build --{variant}`")
            except docker.errors.APIError as error:
                raise GradingError(f"the Docker engine refused the grading container: {error}") from None
            finally:
                if container is not None:
                    remove(container)
                    with self.lock:
                        self.live.discard(container)
        verdict["submission"] = str(submission)
        verdict["runner"] = {"kind": "docker", "image": tag, "limits": asdict(limits), "gpus": self.gpus,
                             "container_seconds": round(time.monotonic() - started, 2)}
        (out / RESULTS_FILE).write_text(json.dumps(verdict, indent=2))
        return verdict

    def stop_all(self) -> None:
        """Kill and remove every container still grading (grade-batch interrupted)."""
        with self.lock:
            running = list(self.live)
        for container in running:
            remove(container)


# -- the CLI side ------------------------------------------------------------------------------------------
def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """`--runner docker|local` and the container's limits, for `grade` and `grade-batch`."""
    group = parser.add_argument_group("runner", "where the submission runs (docker/README.md)")
    group.add_argument("--runner", choices=("local", "docker"), default="local",
                       help="local: worker processes on this machine; docker: a hardened container per submission")
    group.add_argument("--image", help="grading image (default diffchallenge:cpu, or diffchallenge:gpu on cuda)")
    group.add_argument("--gpus", metavar="all|N|ID,ID", help="GPUs for the container (default: all when on cuda)")
    group.add_argument("--memory", metavar="SIZE", help="container memory (default: the worker's limit + 2 GiB)")
    group.add_argument("--cpus", type=float, help="container CPUs (default: the grading's threads)")
    group.add_argument("--pids", type=int, help=f"container process limit (default {DEFAULT_PIDS})")
    group.add_argument("--wall-clock", type=float, metavar="SECONDS",
                       help="hard limit for the whole container (default: from the challenge's time limits)")


def runner_for(args) -> DockerRunner | None:
    """The Docker runner when `--runner docker` was given (engine and image checked now), else None."""
    if getattr(args, "runner", "local") != "docker":
        return None
    runner = DockerRunner(image=args.image, gpus=args.gpus, memory=args.memory, cpus=args.cpus, pids=args.pids,
                          wall_clock_s=args.wall_clock)
    runner.check_image(*image_tag(GradeOptions(device=args.device), args.image))
    return runner


def grader_for(args):
    """The function that grades, with `grading.grade`'s signature, for the runner the user chose."""
    runner = runner_for(args)
    return runner.grade if runner else grade


# -- inside the container ------------------------------------------------------------------------------------
def main_inside(argv: list[str] | None = None) -> int:
    """The container's command: the trusted grading of /submission into /results."""
    parser = argparse.ArgumentParser(prog="diffchallenge.docker_runner")
    parser.add_argument("--inside", required=True, metavar="SLUG")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--public-only", action="store_true")
    args = parser.parse_args(argv)
    options = GradeOptions(device=args.device, threads=args.threads, public_only=args.public_only)
    try:
        verdict = grade(get_challenge(args.inside), Path(SUBMISSION_MOUNT), Path(RESULTS_MOUNT), options)
    except GradingError as error:
        print(f"infrastructure error: {error}", flush=True)
        return 3
    print(json.dumps({k: verdict[k] for k in ("challenge", "status", "score", "max_score")}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main_inside())
