"""Nothing from the bank's solutions/ (reference solutions, mutants, hidden tests) reaches a candidate.

Two ways a candidate gets the kit's files: a workspace made by ``diffchallenge start SLUG DIR``, and the public
grading image (``diffchallenge image build --public``). Both are compared by content with every file under
solutions/, so a secret copied under another name, or pasted whole into another file, is caught too.
The image check stages the public image's build context (everything the image is built from) without an engine.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from diffchallenge.bank.challenges import all_challenges, bank_root
from pytest_diffchallenge.metadata import PUBLIC_FOLDER, SECRET_FOLDER

BIN = Path(sys.executable).parent
SKIPPED_PARTS = {"__pycache__", ".pytest_cache"}


def secret_files() -> dict[str, Path]:
    """sha256 -> path, for every file under the bank's solutions/."""
    files = {}
    for path in sorted((bank_root() / SECRET_FOLDER).rglob("*")):
        if path.is_file() and not SKIPPED_PARTS & set(path.parts) and path.suffix != ".pyc":
            files[hashlib.sha256(path.read_bytes()).hexdigest()] = path
    return files


SECRETS = secret_files()
# each secret file's text, stripped: a file that holds one of these whole holds that secret
SECRET_TEXTS = {path: path.read_text(encoding="utf-8").strip() for path in SECRETS.values()}


def leaks(name: str, content: bytes) -> list[str]:
    """Why ``content`` (a candidate's file called ``name``) gives away a file of solutions/, if it does."""
    found = []
    if (secret := SECRETS.get(hashlib.sha256(content).hexdigest())) is not None:
        found.append(f"{name} is a copy of {secret}")
    text = content.decode("utf-8", errors="replace")
    found += [f"{name} holds the whole of {path}" for path, secret_text in SECRET_TEXTS.items()
              if secret_text and secret_text in text and path != secret]
    return found


def test_the_bank_has_secrets_to_keep():
    """The checks below compare against something: every challenge has its reference and hidden tests."""
    slugs = [challenge.slug for challenge in all_challenges()]
    assert slugs
    for slug in slugs:
        secret = bank_root() / SECRET_FOLDER / slug
        assert (secret / "solution.py").is_file() and (secret / "test_hidden.py").is_file(), secret
    held = {path.relative_to(bank_root() / SECRET_FOLDER).parts[0] for path in SECRETS.values()}
    assert held == set(slugs)
    assert not list((bank_root() / PUBLIC_FOLDER).rglob("test_hidden.py"))  # hidden tests live in solutions/ only


@pytest.mark.parametrize("slug", [challenge.slug for challenge in all_challenges()])
def test_workspace_holds_no_secret(slug, tmp_path):
    workspace = tmp_path / "workspace"
    process = subprocess.run([str(BIN / "diffchallenge"), "start", slug, str(workspace)], capture_output=True,
                             text=True, stdin=subprocess.DEVNULL)
    assert process.returncode == 0, process.stdout + process.stderr
    files = sorted(path for path in workspace.rglob("*") if path.is_file())
    names = {path.relative_to(workspace).as_posix() for path in files}
    assert {"README.md", "challenge.toml", "solution.py", "test_public.py"} <= names, names
    assert not {"test_hidden.py", "mutants.toml"} & names
    found = [leak for path in files for leak in leaks(path.relative_to(workspace).as_posix(), path.read_bytes())]
    assert found == []
    # the starter is the challenge's, never the reference
    reference = (bank_root() / SECRET_FOLDER / slug / "solution.py").read_bytes()
    assert (workspace / "solution.py").read_bytes() == (bank_root() / PUBLIC_FOLDER / slug / "solution.py").read_bytes()
    assert (workspace / "solution.py").read_bytes() != reference


def context_entries(context: Path):
    """(name, content) for every file of a build context, and for every member of the wheels and zips in it."""
    for path in sorted(context.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(context).as_posix()
        yield name, path.read_bytes()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.infolist():
                    if not member.is_dir():
                        yield f"{name}!{member.filename}", archive.read(member)


@pytest.fixture(scope="module")
def image_module():
    pytest.importorskip("docker", reason="the docker Python SDK is not installed")
    from diffchallenge.runners import image

    return image


def staged_context(image, root: Path, public_only: bool) -> Path:
    """What `diffchallenge image build` sends to the engine, with a tiny fake wheelhouse for the dependencies."""
    wheelhouse = root / "wheelhouse"
    wheelhouse.mkdir(parents=True)
    (wheelhouse / "requirements.txt").write_text("\n".join(image.requirements(gpu=False)) + "\n")
    context = root / "context"
    context.mkdir()
    image.stage_context(context, wheelhouse, public_only=public_only)
    return context


def test_public_image_context_holds_no_secret(image_module, tmp_path):
    context = staged_context(image_module, tmp_path, public_only=True)
    entries = list(context_entries(context))
    names = [name for name, _ in entries]
    # it is the image's context: the Dockerfile, the kit's wheel and the public bank, every challenge of it
    assert "Dockerfile" in names and any(name.startswith("kit/") and name.endswith(".whl") for name in names)
    public = [path for path in (bank_root() / PUBLIC_FOLDER).rglob("*")
              if path.is_file() and not SKIPPED_PARTS & set(path.parts) and path.suffix != ".pyc"]
    for path in public:
        staged = context / "bank" / PUBLIC_FOLDER / path.relative_to(bank_root() / PUBLIC_FOLDER)
        assert staged.read_bytes() == path.read_bytes(), staged
    assert not (context / "bank" / SECRET_FOLDER).exists()
    assert not [name for name in names if SECRET_FOLDER in Path(name.replace("!", "/")).parts]
    found = [leak for name, content in entries for leak in leaks(name, content)]
    assert found == []


def test_grading_image_context_holds_every_secret(image_module, tmp_path):
    """The same comparison finds them all in the grading image's context: the check above can see a leak."""
    context = staged_context(image_module, tmp_path, public_only=False)
    found = {SECRETS.get(hashlib.sha256(content).hexdigest()) for _, content in context_entries(context)}
    assert set(SECRETS.values()) <= found
