"""The challenge bank: finding its challenges by slug (the format itself is in ``pytest_diffchallenge.metadata``).

The bank is ``$DIFFCHALLENGE_BANK``, else the kit's own checkout: ``challenges/<slug>/`` for what candidates
see, ``solutions/<slug>/`` for the reference, its mutants and the hidden tests.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_diffchallenge.metadata import METADATA_FILE, PUBLIC_FOLDER, Challenge, ChallengeFormatError, load_challenge


class UnknownChallenge(LookupError):
    pass


def bank_root() -> Path:
    """The folder holding challenges/ and solutions/: $DIFFCHALLENGE_BANK, else the kit's own checkout."""
    return Path(os.environ.get("DIFFCHALLENGE_BANK") or Path(__file__).resolve().parents[3])


def load_bank_challenge(folder: Path) -> Challenge:
    challenge = load_challenge(folder)
    if challenge.slug != folder.name:
        raise ChallengeFormatError(f"{folder / METADATA_FILE}: field 'slug' is {challenge.slug!r} "
                                   f"but the folder is {folder.name!r}")
    return challenge


def all_challenges() -> list[Challenge]:
    folder = bank_root() / PUBLIC_FOLDER
    return [load_bank_challenge(p.parent) for p in sorted(folder.glob(f"*/{METADATA_FILE}"))]


def get_challenge(slug: str) -> Challenge:
    folder = bank_root() / PUBLIC_FOLDER / slug
    if not (folder / METADATA_FILE).is_file():
        known = ", ".join(c.slug for c in all_challenges()) or "none"
        raise UnknownChallenge(f"unknown challenge {slug!r} (known: {known})")
    return load_bank_challenge(folder)
