"""Reading submissions safely: folders, single .py files and zips (no grading here)."""

import stat
import zipfile

import pytest

from diffchallenge.submissions import MAX_ZIP_BYTES, MAX_ZIP_MEMBERS, SubmissionRefused, open_submission

SOLUTION = "def scaled_sum(a, b, alpha):\n    return a + alpha * b\n"


def make_zip(path, members: dict, symlinks: dict = ()):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in dict(symlinks).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def test_folder_single_file_and_zip_of_a_workspace(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "solution.py").write_text(SOLUTION)
    assert open_submission(folder, tmp_path / "unused").folder == folder

    single = tmp_path / "mine.py"
    single.write_text(SOLUTION)
    opened = open_submission(single, tmp_path / "single")
    assert (opened.folder / "solution.py").read_text() == SOLUTION and opened.challenge_slug is None

    toml = (tmp_path / "challenge.toml")
    toml.write_text('slug = "ddim-step"\ntitle = "t"\ndomain = "architecture"\ndifficulty = "easy"\n'
                    'question = "q"\npoints = 1\nedit = ["solution.py"]\n')
    archive = make_zip(tmp_path / "ws.zip", {"ws/solution.py": SOLUTION, "ws/challenge.toml": toml.read_text(),
                                              "ws/helpers/extra.py": "X = 1\n", "__MACOSX/ws/._solution.py": "junk"})
    opened = open_submission(archive, tmp_path / "extracted")
    assert opened.folder == tmp_path / "extracted" / "ws"
    assert opened.challenge_slug == "ddim-step"
    assert (opened.folder / "helpers" / "extra.py").read_text() == "X = 1\n"
    assert not (tmp_path / "extracted" / "__MACOSX").exists()

    (opened.folder / "challenge.toml").write_text("slug = ")
    with pytest.raises(SubmissionRefused, match="not valid TOML.*pass --challenge SLUG"):
        _ = opened.challenge_slug


@pytest.mark.parametrize("name, message", [
    ("../evil.py", "points outside the submission folder"),
    ("ws/../../evil.py", "points outside the submission folder"),
    ("/etc/evil.py", "has an absolute path"),
    ("C:/evil.py", "has an absolute path"),
    ("..\\evil.py", "points outside the submission folder"),
])
def test_zip_paths_escaping_the_folder_are_refused(tmp_path, name, message):
    archive = make_zip(tmp_path / "bad.zip", {"solution.py": SOLUTION, name: "print('escaped')"})
    with pytest.raises(SubmissionRefused, match=message):
        open_submission(archive, tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()
    assert not any((tmp_path / "out").rglob("evil.py")), "nothing may be written before the check"


def test_zip_symlinks_are_refused(tmp_path):
    archive = make_zip(tmp_path / "link.zip", {"solution.py": SOLUTION}, symlinks={"secrets.py": "/etc/passwd"})
    with pytest.raises(SubmissionRefused, match="symbolic link"):
        open_submission(archive, tmp_path / "out")


def test_zip_bomb_is_refused_by_size_and_by_member_count(tmp_path):
    bomb = make_zip(tmp_path / "bomb.zip", {"solution.py": SOLUTION, "zeros.bin": b"\0" * (MAX_ZIP_BYTES + 1)})
    assert bomb.stat().st_size < 100_000  # small on disk, large once inflated
    with pytest.raises(SubmissionRefused, match="unpacks to more than"):
        open_submission(bomb, tmp_path / "out")

    many = make_zip(tmp_path / "many.zip", {f"f{i}.txt": "" for i in range(MAX_ZIP_MEMBERS + 1)})
    with pytest.raises(SubmissionRefused, match="entries, over the limit"):
        open_submission(many, tmp_path / "out2")


def test_zip_whose_headers_understate_the_size_is_stopped_while_inflating(tmp_path):
    archive = make_zip(tmp_path / "liar.zip", {"solution.py": SOLUTION, "zeros.bin": b"\0" * (MAX_ZIP_BYTES + 1)})
    data = bytearray(archive.read_bytes())
    # Rewrite the declared size in the central directory (offset 24 of its entry) to a tiny one.
    with zipfile.ZipFile(archive) as reader:
        info = reader.getinfo("zeros.bin")
    entry = data.rfind(b"PK\x01\x02")
    assert data[entry + 46:entry + 46 + len("zeros.bin")] == b"zeros.bin"
    data[entry + 24:entry + 28] = (100).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    assert info.file_size > MAX_ZIP_BYTES
    with pytest.raises(SubmissionRefused, match="unpacks to more than|not a readable zip"):
        open_submission(archive, tmp_path / "out")
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written <= MAX_ZIP_BYTES + (1 << 16)


def test_files_that_are_not_zips_are_refused(tmp_path):
    fake = tmp_path / "submission.zip"
    fake.write_text("this is not a zip")
    with pytest.raises(SubmissionRefused, match="is not a zip file"):
        open_submission(fake, tmp_path / "out")
    other = tmp_path / "submission.tar"
    other.write_bytes(b"\x1f\x8b\x08")
    with pytest.raises(SubmissionRefused, match="expected a folder, a .py file or a .zip"):
        open_submission(other, tmp_path / "out")


def test_missing_solution_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionRefused, match="holds no solution.py"):
        open_submission(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(SubmissionRefused, match="no such submission"):
        open_submission(tmp_path / "nowhere", tmp_path / "out")
    archive = make_zip(tmp_path / "other.zip", {"main.py": SOLUTION})
    with pytest.raises(SubmissionRefused, match="holds no solution.py"):
        open_submission(archive, tmp_path / "out")


def test_non_utf8_source_is_refused_with_the_byte_and_offset(tmp_path):
    folder = tmp_path / "latin"
    (folder / "helpers").mkdir(parents=True)
    (folder / "solution.py").write_text(SOLUTION)
    (folder / "helpers" / "text.py").write_bytes(b"NAME = 'caf\xe9'\n")
    with pytest.raises(SubmissionRefused, match=r"helpers/text.py is not valid utf-8 \(byte 0xe9 at offset 11\)"):
        open_submission(folder, tmp_path / "out")


def test_declared_source_encoding_is_honoured_as_python_does(tmp_path):
    folder = tmp_path / "declared"
    folder.mkdir()
    (folder / "solution.py").write_bytes(b"# -*- coding: latin-1 -*-\nNAME = 'caf\xe9'\n" + SOLUTION.encode())
    assert open_submission(folder, tmp_path / "out").folder == folder
    (folder / "solution.py").write_bytes(b"# -*- coding: no-such-codec -*-\n")
    with pytest.raises(SubmissionRefused, match="solution.py"):
        open_submission(folder, tmp_path / "out")
