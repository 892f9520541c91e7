"""Reading a submission: a folder, a single ``.py`` file (taken as solution.py) or a ``.zip``.

Everything here refuses bad input with a ``SubmissionRefused`` that says what is wrong, before any
grading starts: a refused submission loses nothing, it is not a score. Zips are read defensively (no
paths out of the folder, no links, bounded size and member count), and every Python source must decode
in its declared encoding (UTF-8 unless a PEP 263 ``coding:`` line says otherwise), as Python itself
requires. A file that does not is refused rather than graded as failing: re-saving it fixes it.
"""

from __future__ import annotations

import io
import shutil
import stat
import tokenize
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pytest_diffchallenge.metadata import METADATA_FILE, ChallengeFormatError, load_metadata
from pytest_diffchallenge.staging import MAX_SUBMISSION_BYTES

SOLUTION_FILE = "solution.py"
MAX_ZIP_MEMBERS = 1000
MAX_ZIP_BYTES = MAX_SUBMISSION_BYTES  # the worker copies no more than this anyway
IGNORED_PARTS = {"__MACOSX", "__pycache__", ".git"}


class SubmissionRefused(ValueError):
    """The submission cannot be graded as given; the message says why and how to fix it."""


@dataclass(frozen=True)
class Submission:
    folder: Path  # holds solution.py

    @property
    def challenge_slug(self) -> str | None:
        """The slug in a workspace's challenge.toml, if any (only the slug is used: grading uses the bank's copy)."""
        metadata = self.folder / METADATA_FILE
        if not metadata.is_file():
            return None
        try:
            return load_metadata(metadata).slug
        except ChallengeFormatError as error:
            raise SubmissionRefused(f"{error}; pass --challenge SLUG to grade without it") from None


def open_submission(path: Path, scratch: Path) -> Submission:
    """Return the submission at ``path`` as a folder, extracting or copying into ``scratch`` if needed."""
    path = Path(path)
    if not path.exists():
        raise SubmissionRefused(f"no such submission: {path}")
    if path.is_dir():
        folder = path
    elif path.suffix == ".py":
        scratch.mkdir(parents=True, exist_ok=True)
        folder = scratch
        shutil.copyfile(path, folder / SOLUTION_FILE)
    elif path.suffix == ".zip" or zipfile.is_zipfile(path):
        folder = single_top_folder(extract_zip(path, scratch))
    else:
        raise SubmissionRefused(f"{path}: expected a folder, a .py file or a .zip")
    solution = folder / SOLUTION_FILE
    if solution.is_symlink() or not solution.is_file():
        link = " (it is a link)" if solution.is_symlink() else ""
        raise SubmissionRefused(f"{path} holds no {SOLUTION_FILE}{link}")
    check_sources_decode(folder, shown_as=path)
    return Submission(folder=folder)


def check_sources_decode(folder: Path, shown_as: Path) -> None:
    for source in sorted(folder.rglob("*.py")):
        if IGNORED_PARTS & set(source.parts) or source.is_symlink() or not source.is_file():
            continue
        raw = source.read_bytes()
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        except SyntaxError as error:
            if "unknown encoding" in str(error):
                raise SubmissionRefused(f"{shown_as}: {source.relative_to(folder)}: {error}") from None
            encoding = "utf-8"  # no coding: line and the first lines are not UTF-8: find the bad byte below
        try:
            raw.decode(encoding)
        except UnicodeDecodeError as error:
            raise SubmissionRefused(
                f"{shown_as}: {source.relative_to(folder)} is not valid {encoding} (byte 0x{raw[error.start]:02x} "
                f"at offset {error.start}); save it as UTF-8 and submit again") from None


def member_target(info: zipfile.ZipInfo, root: Path) -> Path | None:
    """Where a member goes under ``root``; None for entries to skip; refuses anything that could escape."""
    name = info.filename
    kind = stat.S_IFMT(info.external_attr >> 16)  # Unix file type; 0 when the zip was made elsewhere
    if kind == stat.S_IFLNK:
        raise SubmissionRefused(f"zip member {name!r} is a symbolic link; links are not accepted")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise SubmissionRefused(f"zip member {name!r} is not a regular file")
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or (posix.parts and posix.parts[0].endswith(":")):
        raise SubmissionRefused(f"zip member {name!r} has an absolute path")
    if ".." in posix.parts:
        raise SubmissionRefused(f"zip member {name!r} points outside the submission folder")
    if info.is_dir() or IGNORED_PARTS & set(posix.parts) or not posix.parts:
        return None
    return root.joinpath(*posix.parts)


def extract_zip(path: Path, scratch: Path) -> Path:
    """Extract ``path`` into ``scratch``, refusing unsafe members and anything larger than the limits."""
    if not zipfile.is_zipfile(path):
        raise SubmissionRefused(f"{path} is not a zip file")
    scratch.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise SubmissionRefused(f"{path} holds {len(members)} entries, over the limit of {MAX_ZIP_MEMBERS}")
            targets = [(info, member_target(info, scratch)) for info in members]  # check all before writing
            if sum(info.file_size for info, _ in targets) > MAX_ZIP_BYTES:
                raise SubmissionRefused(f"{path} unpacks to more than {MAX_ZIP_BYTES} bytes")
            for info, target in targets:
                if target is None:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                # Count what is really inflated: the sizes in the headers are the zip's own claim.
                with archive.open(info) as source, open(target, "wb") as sink:
                    while chunk := source.read(1 << 16):
                        written += len(chunk)
                        if written > MAX_ZIP_BYTES:
                            raise SubmissionRefused(f"{path} unpacks to more than {MAX_ZIP_BYTES} bytes")
                        sink.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as error:
        raise SubmissionRefused(f"{path} is not a readable zip file: {error}") from None
    return scratch


def single_top_folder(folder: Path) -> Path:
    """Zipping a folder puts everything under one top folder: grade what is inside it."""
    entries = list(folder.iterdir())
    if not (folder / SOLUTION_FILE).exists() and len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return folder
