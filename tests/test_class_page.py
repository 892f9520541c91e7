"""grade-batch --format html on a class of five toy submissions: every report.html, and the class page linking them."""

import shutil
import zipfile
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest
from conftest import HOSTILE

from diffchallenge import cli

pytest.importorskip("copydetect", reason="copydetect is in the reports extra")
pytest.importorskip("matplotlib", reason="matplotlib is in the reports extra")

HALF_RIGHT = (HOSTILE / "half_right.py").read_text()
REFUSED = "ed <i>&amp;"  # a folder without solution.py, named to be escaped


class Links(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.hrefs: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"])


def test_a_class_gets_reports_and_a_class_page_that_links_them(toy_bank, tmp_path, capsys):
    students = tmp_path / "students"
    (students / "ada").mkdir(parents=True)
    (students / "ada" / "solution.py").write_text(HALF_RIGHT)
    with zipfile.ZipFile(students / "bo.zip", "w") as archive:  # ada's code, renamed: flagged as similar
        archive.writestr("bo/solution.py", HALF_RIGHT.replace("alpha", "weight").replace("a.numel", "a.nelement"))
    shutil.copyfile(HOSTILE / "correct.py", students / "cy.py")
    shutil.copyfile(HOSTILE / "syntax_error.py", students / "di.py")
    (students / REFUSED).mkdir()
    out = tmp_path / "out"

    code = cli.main(["grade-batch", str(students), "--challenge", "toy-challenge", "--out", str(out),
                     "--format", "html", "--jobs", "2"])
    output = " ".join(capsys.readouterr().err.split())
    assert code == 0, output
    assert "4 graded, 1 refused" in output and f"class page: {out / 'index.html'}" in output
    graded = ["ada", "bo", "cy", "di"]
    for student in graded:
        assert (out / student / "report.html").is_file(), student
        assert not (out / student / "feedback.md").exists(), "only the formats asked for"
    page = (out / "index.html").read_text()
    links = Links(page).hrefs
    assert sorted(unquote(link) for link in links) == [f"{student}/report.html" for student in graded]
    assert all((out / unquote(link)).is_file() for link in links)
    assert "ed &lt;i&gt;&amp;amp;" in page and "holds no solution.py" in page
    assert page.count("<details") == 1 and "ada and bo: 1.00" in page, "the renamed copy is flagged, only it"

    (out / "index.html").unlink()
    code = cli.main(["grade-batch", str(students), "--challenge", "toy-challenge", "--out", str(out),
                     "--format", "html", "--similarity-threshold", "0.99"])
    output = " ".join(capsys.readouterr().err.split())
    assert code == 0 and output.count("(already graded: skipped)") == 4, output
    again = (out / "index.html").read_text()
    assert sorted(Links(again).hrefs) == sorted(links), "written again when every student was resumed"
    assert "above 0.99" in " ".join(again.split())
