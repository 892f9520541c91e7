"""The challenge bank: discovery of challenges and validation of their metadata.

A challenge is one folder, ``challenges/<slug>/``:

- ``README.md``        the statement, in a candidate's words;
- ``challenge.toml``   the metadata validated here;
- ``solution.py``      the starter the candidate edits (it raises NotImplementedError);
- ``probes.py``        trusted helpers that run inside the worker: build inputs, call the candidate;
- ``test_public.py``   tests the candidate may run;
- ``test_hidden.py``   tests used only when grading.

Its reference solution lives in ``solutions/<slug>/solution.py`` and its mutants (plausible wrong
solutions every test suite must catch) in ``solutions/<slug>/mutants.toml``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pytest_diffchallenge.memory import parse_size

DOMAINS = {
    "architecture": "U-Net, latents and scheduler maths (DDIM, Euler, DPM)",
    "pipelines": "ControlNet, IP-Adapter, multi-adapter and SDXL pipelines",
    "fine-tuning": "LoRA, DreamBooth, textual inversion and dataset preparation",
    "efficiency": "fp16/bf16, memory-efficient attention, CPU offload and quantization",
    "safety": "safetensors vs pickle, safety checkers and invisible watermarking",
}
DIFFICULTIES = ("easy", "medium", "hard")
METADATA_FILE = "challenge.toml"


class ChallengeFormatError(ValueError):
    """Metadata that does not follow the format; the message names the file and the field."""


class UnknownChallenge(LookupError):
    pass


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 60.0
    worker_memory: int = 4 * 1024**3
    tensor_memory: int | None = None
    runtime_ratio: float | None = None


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


def load_metadata(path: Path) -> Metadata:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChallengeFormatError(f"{path}: no such metadata file") from None
    except tomllib.TOMLDecodeError as error:
        raise ChallengeFormatError(f"{path}: not valid TOML: {error}") from None
    known = {"slug", "title", "domain", "difficulty", "question", "points", "edit", "forbidden", "gpu_variant", "limits"}
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
    if unknown := sorted(set(raw_limits) - {"timeout_s", "worker_memory", "tensor_memory", "runtime_ratio"}):
        raise ChallengeFormatError(f"{limits_path}: unknown field '{unknown[0]}'")
    try:
        limits = Limits(
            timeout_s=_field(raw_limits, "timeout_s", float, limits_path, Limits.timeout_s),
            worker_memory=parse_size(_field(raw_limits, "worker_memory", str, limits_path, "4 GiB")),
            tensor_memory=parse_size(raw_limits["tensor_memory"]) if "tensor_memory" in raw_limits else None,
            runtime_ratio=_field(raw_limits, "runtime_ratio", float, limits_path, None),
        )
    except ValueError as error:
        if isinstance(error, ChallengeFormatError):
            raise
        raise ChallengeFormatError(f"{limits_path}: {error}") from None
    return Metadata(slug=_field(data, "slug", str, path), title=_field(data, "title", str, path), domain=domain, difficulty=difficulty,
                    question=_field(data, "question", str, path), points=points, edit=edit, forbidden=forbidden,
                    gpu_variant=_field(data, "gpu_variant", bool, path, False), limits=limits)


def bank_root() -> Path:
    """The folder holding challenges/ and solutions/: $DIFFCHALLENGE_BANK, else the kit's own checkout."""
    return Path(os.environ.get("DIFFCHALLENGE_BANK") or Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class Challenge:
    root: Path
    meta: Metadata

    @property
    def slug(self) -> str:
        return self.meta.slug

    statement = property(lambda self: self.root / "README.md")
    starter = property(lambda self: self.root / "solution.py")
    probes = property(lambda self: self.root / "probes.py")
    public_tests = property(lambda self: self.root / "test_public.py")
    hidden_tests = property(lambda self: self.root / "test_hidden.py")

    @property
    def reference_dir(self) -> Path:
        return bank_root() / "solutions" / self.slug

    @property
    def mutants_file(self) -> Path:
        return self.reference_dir / "mutants.toml"


def load_challenge(folder: Path) -> Challenge:
    folder = Path(folder)
    return Challenge(root=folder, meta=load_metadata(folder / METADATA_FILE))


def load_bank_challenge(folder: Path) -> Challenge:
    challenge = load_challenge(folder)
    if challenge.slug != folder.name:
        raise ChallengeFormatError(f"{folder / METADATA_FILE}: field 'slug' is {challenge.slug!r} "
                                   f"but the folder is {folder.name!r}")
    return challenge


def all_challenges() -> list[Challenge]:
    folder = bank_root() / "challenges"
    return [load_bank_challenge(p.parent) for p in sorted(folder.glob(f"*/{METADATA_FILE}"))]


def get_challenge(slug: str) -> Challenge:
    folder = bank_root() / "challenges" / slug
    if not (folder / METADATA_FILE).is_file():
        known = ", ".join(c.slug for c in all_challenges()) or "none"
        raise UnknownChallenge(f"unknown challenge {slug!r} (known: {known})")
    return load_bank_challenge(folder)
