"""The grading image: its build (``diffchallenge image build``) and its labels.

The labels record the kit version and a hash of the challenge bank: the challenges, the reference
solutions and the pytest plugin that turns their tests into a verdict. The Docker runner refuses an image
whose labels differ from the local kit, so a container never grades with tests other than the local ones.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

import pytest_diffchallenge
from diffchallenge import __version__
from diffchallenge.bank.challenges import bank_root
from pytest_diffchallenge.metadata import PUBLIC_FOLDER, SECRET_FOLDER

KIT_SOURCE_ROOT = Path(__file__).resolve().parents[3]
DOCKER_DIR = KIT_SOURCE_ROOT / "docker"
CPU_BASE = "diffchallenge-base:bookworm"
GPU_BASE = "pytorch/pytorch:2.11.0-cuda12.8-cudnn9-runtime"  # the Dockerfile's default, for the record
TAGS = {"cpu": "diffchallenge:cpu", "gpu": "diffchallenge:gpu"}
LABEL_VERSION = "org.diffchallenge.kit-version"
LABEL_HASH = "org.diffchallenge.bank-hash"
LABEL_HIDDEN = "org.diffchallenge.hidden-tests"
SKIPPED_PARTS = {"__pycache__", ".pytest_cache"}
TORCH_PIN = "torch==2.13.0"  # the CPU build's torch: an unpinned torch pulls a multi-GB CUDA build
# invisible-watermark asks for OpenCV's GUI build, which needs libGL: no grading image has it, so the image swaps
# in the headless build of the same version (docker/Dockerfile installs HEADLESS_FILE after the requirements).
GUI_OPENCV, HEADLESS_OPENCV = "opencv-python", "opencv-python-headless"
HEADLESS_FILE = "headless.txt"


class ImageError(RuntimeError):
    """The image cannot be built or is not fit to grade with (an infrastructure fault)."""


def _files(folder: Path):
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not SKIPPED_PARTS & set(path.parts) and path.suffix != ".pyc":
            yield path


def bank_folders(public_only: bool = False) -> dict[str, Path]:
    """What the image holds of the bank: a candidate's image leaves out the secret folder altogether."""
    root = bank_root()
    folders = {PUBLIC_FOLDER: root / PUBLIC_FOLDER}
    if not public_only:
        folders[SECRET_FOLDER] = root / SECRET_FOLDER
    return folders


def bank_hash(public_only: bool = False) -> str:
    """sha256 over the bank's files and the plugin's source, by relative path and content."""
    digest = hashlib.sha256()
    sources = {**bank_folders(public_only),
               "pytest_diffchallenge": Path(pytest_diffchallenge.__file__).resolve().parent}
    for name, folder in sorted(sources.items()):
        for path in _files(folder):
            digest.update(f"{name}/{path.relative_to(folder).as_posix()}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def expected_labels(public_only: bool = False) -> dict[str, str]:
    return {LABEL_VERSION: __version__, LABEL_HASH: bank_hash(public_only),
            LABEL_HIDDEN: "false" if public_only else "true"}


def rebuild_hint(variant: str) -> str:
    return f"rebuild it with `diffchallenge image build --{variant}` (docker/README.md)"


def check_labels(image_labels: dict | None, tag: str, variant: str) -> None:
    """Refuse an image built from another kit or bank, or one without the hidden tests."""
    labels = image_labels or {}
    if labels.get(LABEL_HIDDEN) != "true":
        raise ImageError(f"image {tag} holds no hidden tests (a candidate's image?) and cannot grade; "
                         f"{rebuild_hint(variant)}")
    wanted = expected_labels()
    if labels.get(LABEL_VERSION) != wanted[LABEL_VERSION] or labels.get(LABEL_HASH) != wanted[LABEL_HASH]:
        raise ImageError(
            f"image {tag} is stale: it was built from kit {labels.get(LABEL_VERSION, '?')} with bank hash "
            f"{labels.get(LABEL_HASH, '?')[:12]}, but the local kit is {wanted[LABEL_VERSION]} with bank hash "
            f"{wanted[LABEL_HASH][:12]} (challenges, solutions or the plugin changed); {rebuild_hint(variant)}")


# -- building ------------------------------------------------------------------------------------------------
def requirements(gpu: bool) -> list[str]:
    """The kit's dependencies pinned to the versions installed here (the ones tested).

    The GPU build keeps the base image's CUDA torch, so torch is left to the base.
    """
    pyproject = tomllib.loads((KIT_SOURCE_ROOT / "pyproject.toml").read_text())
    pinned = []
    for requirement in pyproject["project"]["dependencies"]:
        name = requirement.split(">")[0].split("<")[0].split("=")[0].strip()
        if name == "torch":
            if not gpu:
                pinned.append(TORCH_PIN)
            continue
        pinned.append(f"{name}=={metadata.version(name)}")
    return pinned


def headless_pins() -> list[str]:
    """OpenCV's headless build, pinned to the GUI build's version, when the GUI build is installed here."""
    try:
        return [f"{HEADLESS_OPENCV}=={metadata.version(GUI_OPENCV)}"]
    except metadata.PackageNotFoundError:
        return []


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "diffchallenge"


def fill_wheelhouse(pins: list[str], offline: bool, headless: list[str]) -> Path:
    """Download the pinned dependencies' wheels once; later builds reuse them (and Docker's layer cache)."""
    key = hashlib.sha256("\n".join([sys.version.split()[0], *pins, *headless]).encode()).hexdigest()[:16]
    wheelhouse = cache_dir() / f"wheelhouse-{key}"
    if (wheelhouse / "requirements.txt").is_file():
        return wheelhouse
    cache_dir().mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix="partial-wheelhouse-", dir=cache_dir()))
    if offline:
        run([sys.executable, "-I", "-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:",
             "--dest", str(partial), *pins, *headless], "downloading the dependencies' wheels")
    (partial / "requirements.txt").write_text("\n".join(pins) + "\n")
    (partial / HEADLESS_FILE).write_text("".join(f"{pin}\n" for pin in headless))
    partial.rename(wheelhouse)
    return wheelhouse


def run(command: list[str], what: str) -> None:
    """Run a build step; its ``python -I`` imports nothing from the working directory (a submission's, maybe)."""
    process = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if process.returncode:
        raise ImageError(f"{what} failed ({' '.join(command[:4])} ...):\n{process.stdout[-3000:]}")


def stage_context(context: Path, wheelhouse: Path, public_only: bool) -> None:
    """The build context: only what the image needs, never the checkout's virtual environment."""
    shutil.copytree(wheelhouse, context / "wheelhouse")
    source = KIT_SOURCE_ROOT
    kit_source = context / "kit-source"
    kit_source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (source / name).is_file():
            shutil.copyfile(source / name, kit_source / name)
    for package in ("grader", "pytest_diffchallenge"):
        shutil.copytree(source / package, kit_source / package, ignore=shutil.ignore_patterns(*SKIPPED_PARTS, "*.pyc"))
    run([sys.executable, "-I", "-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(context / "kit"), str(kit_source)], "building the kit's wheel")
    shutil.rmtree(kit_source)
    for name, folder in bank_folders(public_only).items():
        for path in _files(folder):
            target = context / "bank" / name / path.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    for name in ("Dockerfile", "entrypoint.sh"):
        shutil.copyfile(DOCKER_DIR / name, context / name)


def build_image(client, *, gpu: bool, base: str | None, tag: str, public_only: bool, log=print) -> str:
    """Build the grading image; return its id. Layers are cached: a rebuild after a bank edit takes seconds."""
    import docker

    base = base or (None if gpu else CPU_BASE)
    if base == CPU_BASE:
        try:
            client.images.get(CPU_BASE)
        except docker.errors.ImageNotFound:
            raise ImageError(f"the offline base image {CPU_BASE} is missing: build it with "
                             f"`sudo docker/build-base.sh` (debootstrap + docker import)") from None
    pins = requirements(gpu)
    wheelhouse = fill_wheelhouse(pins, offline=not gpu, headless=headless_pins())
    labels = expected_labels(public_only)
    buildargs = {"PIP_OFFLINE": "0" if gpu else "1", "KIT_VERSION": labels[LABEL_VERSION],
                 "BANK_HASH": labels[LABEL_HASH], "HIDDEN_TESTS": labels[LABEL_HIDDEN]}
    if base:
        buildargs["BASE_IMAGE"] = base
    with tempfile.TemporaryDirectory(prefix="diffchallenge-image-") as context:
        stage_context(Path(context), wheelhouse, public_only)
        log(f"building {tag} from {base or 'the Dockerfile default base'} ...")
        try:
            stream = client.api.build(path=context, tag=tag, buildargs=buildargs, rm=True, forcerm=True,
                                      decode=True)
            image_id = None
            for chunk in stream:
                if "error" in chunk:
                    raise ImageError(f"docker build failed: {chunk['error'].strip()}")
                if "stream" in chunk and chunk["stream"].strip():
                    log(chunk["stream"].rstrip())
                if "aux" in chunk and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
        except docker.errors.APIError as error:
            raise ImageError(f"docker build failed: {error}") from None
    if image_id is None:
        raise ImageError("docker build finished without an image id")
    return image_id
