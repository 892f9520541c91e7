"""Challenge metadata and the layout of a bank: the one place that knows what is secret.

A bank is a folder with ``challenges/<slug>/``, exactly what a candidate may see (statement, metadata,
starter, probes, public tests), and ``solutions/<slug>/``, what only graders see (the reference solution,
its mutants and the hidden tests). ``is_secret`` is the rule; every other part of the kit asks it.
This module imports neither torch nor the grader, so that listing challenges stays fast.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pytest_diffchallenge.units import parse_size

PUBLIC_FOLDER, SECRET_FOLDER = "challenges", "solutions"

DOMAINS = {
    "architecture": "U-Net, latents and scheduler maths (DDIM, Euler, DPM)",
    "pipelines": "ControlNet, IP-Adapter, multi-adapter and SDXL pipelines",
    "fine-tuning": "LoRA, DreamBooth, textual inversion and dataset preparation",
    "efficiency": "fp16/bf16, memory-efficient attention, CPU offload and quantization",
    "safety": "safetensors vs pickle, safety checkers and invisible watermarking",
}
DIFFICULTIES = ("easy", "medium", "hard")
METADATA_FILE = "challenge.toml"
HIDDEN_TESTS_FILE = "test_hidden.py"
CONTRACT_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


class ChallengeFormatError(ValueError):
    """Metadata that does not follow the format; the message names the file and the field."""


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 60.0
    worker_memory: int = 4 * 1024**3
    tensor_memory: int | None = None
    cuda_tensor_memory: int | None = None  # the ceiling on a GPU, read from the CUDA allocator
    runtime_ratio: float | None = None


@dataclass(frozen=True)
class ContractItem:
    """One graded promise of the statement: tests name it with ``@pytest.mark.covers(id)``."""

    id: str
    text: str


@dataclass(frozen=True)
class Metadata:
    slug: str
    title: str
    domain: str
    difficulty: str
    question: str
    points: int
    edit: list[str]
    forbidden: list[str] = field(default_factory=list)
    gpu_variant: bool = False
    limits: Limits = Limits()
    contract: tuple[ContractItem, ...] = ()


def _field(data: dict, name: str, kind, path: Path, default=...):
    if name not in data:
        if default is ...:
            raise ChallengeFormatError(f"{path}: missing required field '{name}'")
        return default
    value = data[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ChallengeFormatError(f"{path}: field '{name}' must be {kind.__name__}, got {type(value).__name__}")
    return value


def _optional_size(raw_limits: dict, name: str) -> int | None:
    return parse_size(raw_limits[name]) if name in raw_limits else None


def load_metadata(path: Path) -> Metadata:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChallengeFormatError(f"{path}: no such metadata file") from None
    except tomllib.TOMLDecodeError as error:
        raise ChallengeFormatError(f"{path}: not valid TOML: {error}") from None
    known = {"slug", "title", "domain", "difficulty", "question", "points", "edit", "forbidden", "gpu_variant",
             "limits", "contract"}
    if unknown := sorted(set(data) - known):
        raise ChallengeFormatError(f"{path}: unknown field '{unknown[0]}' (known: {', '.join(sorted(known))})")
    domain = _field(data, "domain", str, path)
    if domain not in DOMAINS:
        raise ChallengeFormatError(f"{path}: field 'domain' must be one of {', '.join(DOMAINS)}, got {domain!r}")
    difficulty = _field(data, "difficulty", str, path)
    if difficulty not in DIFFICULTIES:
        raise ChallengeFormatError(f"{path}: field 'difficulty' must be one of {', '.join(DIFFICULTIES)}")
    points = _field(data, "points", int, path)
    if points <= 0:
        raise ChallengeFormatError(f"{path}: field 'points' must be positive")
    edit = _field(data, "edit", list, path)
    forbidden = _field(data, "forbidden", list, path, [])
    for name, values in (("edit", edit), ("forbidden", forbidden)):
        if not all(isinstance(v, str) and v for v in values):
            raise ChallengeFormatError(f"{path}: field '{name}' must be a list of non-empty strings")
    raw_limits = _field(data, "limits", dict, path, {})
    limits_path = Path(f"{path} [limits]")
    if unknown := sorted(set(raw_limits) - {"timeout_s", "worker_memory", "tensor_memory", "cuda_tensor_memory",
                                             "runtime_ratio"}):
        raise ChallengeFormatError(f"{limits_path}: unknown field '{unknown[0]}'")
    try:
        limits = Limits(
            timeout_s=_field(raw_limits, "timeout_s", float, limits_path, Limits.timeout_s),
            worker_memory=parse_size(_field(raw_limits, "worker_memory", str, limits_path, "4 GiB")),
            tensor_memory=_optional_size(raw_limits, "tensor_memory"),
            cuda_tensor_memory=_optional_size(raw_limits, "cuda_tensor_memory"),
            runtime_ratio=_field(raw_limits, "runtime_ratio", float, limits_path, None),
        )
    except ValueError as error:
        if isinstance(error, ChallengeFormatError):
            raise
        raise ChallengeFormatError(f"{limits_path}: {error}") from None
    return Metadata(slug=_field(data, "slug", str, path), title=_field(data, "title", str, path), domain=domain,
                    difficulty=difficulty, question=_field(data, "question", str, path), points=points, edit=edit,
                    forbidden=forbidden, gpu_variant=_field(data, "gpu_variant", bool, path, False), limits=limits,
                    contract=_contract(_field(data, "contract", list, path, []), path))


def _contract(raw: list, path: Path) -> tuple[ContractItem, ...]:
    items: list[ContractItem] = []
    for index, entry in enumerate(raw):
        where = Path(f"{path} [[contract]] #{index + 1}")
        if not isinstance(entry, dict) or set(entry) != {"id", "text"}:
            raise ChallengeFormatError(f"{where}: each item has exactly an 'id' and a 'text'")
        item = ContractItem(id=_field(entry, "id", str, where), text=_field(entry, "text", str, where))
        if not CONTRACT_ID.fullmatch(item.id):
            raise ChallengeFormatError(f"{where}: id {item.id!r} must be lower-case words joined by '-'")
        if not item.text.strip() or "\n" in item.text:
            raise ChallengeFormatError(f"{where}: text must be one non-empty line")
        if item.id in {i.id for i in items}:
            raise ChallengeFormatError(f"{where}: id {item.id!r} is listed twice")
        items.append(item)
    return tuple(items)


@dataclass(frozen=True)
class Challenge:
    root: Path
    meta: Metadata

    @property
    def slug(self) -> str:
        return self.meta.slug

    @property
    def statement(self) -> Path:
        return self.root / "README.md"

    @property
    def starter(self) -> Path:
        return self.root / "solution.py"

    @property
    def probes(self) -> Path:
        return self.root / "probes.py"

    @property
    def public_tests(self) -> Path:
        return self.root / "test_public.py"

    @property
    def secret_dir(self) -> Path | None:
        """``solutions/<slug>/`` beside the bank's ``challenges/<slug>/``; None outside a bank (a workspace)."""
        if self.root.parent.name != PUBLIC_FOLDER:
            return None
        return self.root.parent.parent / SECRET_FOLDER / self.root.name

    @property
    def reference_dir(self) -> Path | None:
        return self.secret_dir

    @property
    def hidden_tests(self) -> Path | None:
        return self.secret_dir / HIDDEN_TESTS_FILE if self.secret_dir else None


def is_secret(path: Path) -> bool:
    """Whether a file is for graders only: everything in a bank's solutions/ folder, and nothing else."""
    for folder in Path(path).resolve().parents:
        if folder.name == SECRET_FOLDER and (folder.parent / PUBLIC_FOLDER).is_dir():
            return True
    return False


def load_challenge(folder: Path) -> Challenge:
    folder = Path(folder)
    return Challenge(root=folder, meta=load_metadata(folder / METADATA_FILE))


def challenge_folder_of(test_file: Path) -> Path | None:
    """The challenge a test file belongs to: the folder beside it, or for a hidden test its public twin."""
    folder = Path(test_file).resolve().parent
    if (folder / METADATA_FILE).is_file():
        return folder
    if is_secret(test_file):
        public = folder.parent.parent / PUBLIC_FOLDER / folder.name
        if (public / METADATA_FILE).is_file():
            return public
    return None
