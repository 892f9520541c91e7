"""The class page, from synthetic outcomes: histogram, pass rates, mistakes, students, escaping, links."""

import base64
import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from diffchallenge import cli
from diffchallenge.reports import overview
from diffchallenge.reports.gradebook import Outcome
from diffchallenge.similarity import Match, Region, Similarity, SimilarPair
from pytest_diffchallenge.metadata import load_challenge
from pytest_diffchallenge.verdict import Reason, Status, TestRecord, Verdict

pytest.importorskip("matplotlib", reason="matplotlib is in the reports extra")
pytest.importorskip("jinja2", reason="jinja2 is in the reports extra")

TOY = Path(__file__).resolve().parents[1] / "toy-bank" / "challenges" / "toy-challenge"
INJECTION = "<script>alert('x')</script><img src=x onerror=alert(1)>"
HOSTILE_NAME = "<b>mallory &amp; co?#x:y"  # a folder name: anything but "/"
MISTAKE = "adds alpha * a instead of alpha * b"


def record(name: str, passed: bool, hidden: bool = False, diagnosis: str = "", message: str = "") -> TestRecord:
    return TestRecord(name=name, nodeid=f"test_{'hidden' if hidden else 'public'}.py::{name}",
                      status=Status.PASSED if passed else Status.FAILED, max_score=4.0 if hidden else 2.0,
                      visibility="hidden" if hidden else "visible", reason=None if passed else Reason.WRONG_OUTPUT,
                      message=message, diagnosis=diagnosis)


def graded(student: str, small: bool, secret: bool, diagnosis: str = "") -> Outcome:
    tests = [record("test_small", small, message="" if small else INJECTION),
             record("test_secret_inputs", secret, hidden=True, diagnosis=diagnosis)]
    return Outcome(student, "graded", verdict=Verdict(challenge="toy-challenge", title="t", tests=tests))


OUTCOMES = [
    graded("ann", True, True),
    graded("bob", True, False, diagnosis=MISTAKE),
    graded(HOSTILE_NAME, False, False, diagnosis=MISTAKE),
    graded("dan", False, False),
    Outcome("eve", "refused", message=f"eve.zip: zip member {INJECTION!r} is a symbolic link"),
    Outcome("fay", "error", message="GradingError: pytest exited with code -9 and wrote no verdict"),
]
SOURCE = "def scaled_sum(a, b, alpha):\n    return a + alpha * b  # </pre></td><script>alert(2)</script>\n"
REGION = Region(start=SOURCE.index("return"), end=SOURCE.index("  #"), first_line=2, last_line=2)
SIMILAR = Similarity(threshold=0.8, compared=5, skipped=(("eve", "eve.zip: <bad>"),), pairs=(
    SimilarPair(Match("ann", SOURCE, 1.0, (REGION,)), Match(HOSTILE_NAME, SOURCE, 0.9, (REGION,))),))


class Page(HTMLParser):
    """What a browser would build: elements by tag, links, image sources, and the text."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attributes = dict(attrs)
        if tag == "a":
            self.links.append(attributes["href"])
        if tag == "img":
            self.images.append(attributes["src"])

    def handle_data(self, data):
        self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture
def page(tmp_path) -> Page:
    for student in ("ann", "bob", HOSTILE_NAME):  # dan's report is missing: no link
        (tmp_path / student).mkdir()
        (tmp_path / student / "report.html").write_text("<html></html>")
    return Page(overview.write(tmp_path, load_challenge(TOY), OUTCOMES, SIMILAR).read_text())


def test_histogram_is_an_inline_png_the_same_for_the_same_scores(page):
    [image] = page.images
    assert image.startswith("data:image/png;base64,")
    png = base64.b64decode(image.removeprefix("data:image/png;base64,"))
    assert png.startswith(b"\x89PNG") and b"Software" not in png
    assert overview.histogram([6.0, 2.0, 0.0, 0.0], 6) == image


def test_pass_rates_hardest_first_with_the_most_common_mistakes():
    rates = overview.pass_rates(OUTCOMES)
    assert [(r.name, r.passed, r.graded, r.hidden) for r in rates] == [
        ("test_secret_inputs", 1, 4, True), ("test_small", 2, 4, False)]
    assert rates[0].mistakes == ((MISTAKE, 2),) and rates[1].mistakes == ()


def test_pass_rates_and_mistakes_are_on_the_page(page):
    assert "test_secret_inputs hidden 4 1/4" in page.words and "test_small 2 2/4" in page.words
    assert f"{MISTAKE} (2)" in page.words
    assert page.words.index("test_secret_inputs") < page.words.index("test_small"), "hardest first"


def test_every_student_is_listed_with_status_score_and_message(page):
    for row in ("ann graded 6/6 2/2", "bob graded 2/6 1/2", f"{HOSTILE_NAME} graded 0/6 0/2", "dan graded 0/6 0/2",
                f"eve refused eve.zip: zip member {INJECTION!r} is a symbolic link",
                "fay error GradingError: pytest exited with code -9 and wrote no verdict"):
        assert row in page.words, row
    assert "6 students: 4 graded, 1 refused, 1 infrastructure errors" in page.words


def test_links_are_relative_and_quoted_and_only_to_reports_that_exist(page):
    assert page.links == ["ann/report.html", "bob/report.html",
                          "%3Cb%3Emallory%20%26amp%3B%20co%3F%23x%3Ay/report.html"]


def test_nothing_a_student_supplied_becomes_markup(page, tmp_path):
    assert "script" not in page.tags and page.tags.count("img") == 1 and "b" not in page.tags
    source = (tmp_path / overview.FILE).read_text()
    assert "<script>" not in source and "&lt;script&gt;alert(&#39;x&#39;)" in source
    assert "</pre></td><script>alert(2)" not in source


def test_similar_pairs_are_shown_side_by_side_with_the_matches_marked(page, tmp_path):
    assert f"ann and {HOSTILE_NAME}: 1.00" in page.words
    assert "1.00, lines 2" in page.words and "0.90, lines 2" in page.words
    assert "eve: eve.zip: <bad>" in page.words, "a student not compared says why"
    source = (tmp_path / overview.FILE).read_text()
    assert len(re.findall(r"<mark>return a \+ alpha \* b</mark>", source)) == 2
    assert "<details" in source and page.tags.count("mark") == 2


def test_marked_lines_split_the_source_into_lines_of_pieces():
    assert overview.marked_lines("ab\ncd\nef", (Region(1, 4, 1, 2),)) == [
        [("a", False), ("b", True)], [("c", True), ("d", False)], [("ef", False)]]
    assert overview.line_ranges((Region(0, 1, 3, 9), Region(5, 6, 12, 12))) == "lines 3-9, 12"


def test_a_class_with_no_graded_student_has_no_histogram(tmp_path):
    text = overview.write(tmp_path, load_challenge(TOY), OUTCOMES[4:], Similarity(0.8, (), 0, ())).read_text()
    assert "No student was graded." in text and "<img" not in text


# -- from the command line: bad usage is refused before anything is graded ----------------------------------------
@pytest.fixture
def toy_class(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DIFFCHALLENGE_BANK", str(TOY.parents[1]))
    (tmp_path / "students" / "ann").mkdir(parents=True)
    (tmp_path / "students" / "ann" / "solution.py").write_text(SOURCE)
    return tmp_path


def grade_batch(capsys, folder: Path, *flags: str) -> tuple[int, str]:
    code = cli.main(["grade-batch", str(folder / "students"), "--challenge", "toy-challenge", "--out",
                     str(folder / "out"), *flags])
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())


def test_without_copydetect_the_html_format_names_the_extra(toy_class, capsys, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "copydetect" else find_spec(name))
    code, output = grade_batch(capsys, toy_class, "--format", "html")
    assert code == 2 and "needs copydetect: pip install 'diffchallenge[reports]'" in output
    assert not (toy_class / "out").exists(), "refused before anything was graded"


def test_the_similarity_threshold_is_a_share_and_goes_with_the_class_page(toy_class, capsys):
    code, output = grade_batch(capsys, toy_class, "--similarity-threshold", "0.5")
    assert code == 2 and "--similarity-threshold goes with --format html" in output
    with pytest.raises(SystemExit):
        grade_batch(capsys, toy_class, "--format", "html", "--similarity-threshold", "1.5")
    assert "'1.5' is not a number from 0 to 1" in capsys.readouterr().err
