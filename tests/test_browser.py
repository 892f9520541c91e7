"""The HTML reports in a real browser (headless Chromium, driven by playwright): a reference's, a mutant's (with
its candidate variant), a hostile submission's, memory and runtime charts, and a class of five.

Each page must load from its file alone (any other request fails the test), with no console error, and with
every image decoded (non-zero natural size). The candidate variant must hold no hidden test's name or message.
A hostile submission's message tries to inject markup and script: escaped, it adds no element and runs nothing.

``DIFFCHALLENGE_SCREENSHOTS=docs/screenshots`` also saves each page's screenshot there (the README shows them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import HOSTILE, TOY_BANK

from diffchallenge.bank.challenges import get_challenge
from diffchallenge.bank.mutants import load_mutants, reference_dir
from diffchallenge.reports import html
from diffchallenge.reports.results import write_reports
from pytest_diffchallenge.verdict import RESULTS_FILE, read_results

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
CHROMIUM = os.environ.get("DIFFCHALLENGE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="no chromium here (scripts/test.sh installs Debian's as root)")

DIFFCHALLENGE = Path(sys.executable).parent / "diffchallenge"
IMAGES = "vae-latents"  # images and latents in its outputs
CHARTS = "chunked-attention"  # a memory ceiling and a runtime budget
INJECTION = "</pre></td><script>console.error('injected')</script><img src=x onerror=\"console.error('img')\">"
HOSTILE_SOLUTION = f'''
def scaled_sum(a, b, alpha):
    raise ValueError({INJECTION!r})
'''


def grade(solution: Path, slug: str, out: Path, *extra: str, bank: Path | None = None) -> Path:
    environment = {**os.environ, **({"DIFFCHALLENGE_BANK": str(bank)} if bank else {})}
    finished = subprocess.run([DIFFCHALLENGE, "grade", solution, "--challenge", slug, "--out", out,
                               "--format", "html", *extra], env=environment, capture_output=True, text=True)
    assert finished.returncode in (0, 1), finished.stderr[-3000:]
    return out / "report.html"


def candidate_page(graded: Path, out: Path, limits) -> Path:
    """The candidate's variant of a graded page, from the same results and artifacts (tests/test_cli_html.py
    runs `grade --audience candidate` itself): a second grading would differ only in its secret."""
    shutil.copytree(graded, out)
    write_reports(read_results(out / RESULTS_FILE), out, limits, ("html",), audience=html.CANDIDATE)
    return out / "report.html"


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """Every page under test, by kind."""
    root = tmp_path_factory.mktemp("reports")
    pages = {}
    images = get_challenge(IMAGES)
    pages["reference"] = grade(reference_dir(images) / "solution.py", IMAGES, root / "reference")
    mutant = load_mutants(images)[0].write(images, root / "mutant-source")
    pages["mutant"] = grade(mutant / "solution.py", IMAGES, root / "mutant")
    pages["mutant-candidate"] = candidate_page(root / "mutant", root / "mutant-candidate", images.meta.limits)
    charts = get_challenge(CHARTS)
    pages["charts"] = grade(reference_dir(charts) / "solution.py", CHARTS, root / "charts")
    (root / "hostile.py").write_text(HOSTILE_SOLUTION)
    pages["hostile"] = grade(root / "hostile.py", "toy-challenge", root / "hostile", bank=TOY_BANK)
    students = root / "class"
    students.mkdir()
    for student, name in [("ada", "correct"), ("bo", "half_right"), ("cy", "correct"), ("di", "syntax_error"),
                          ("<ed>", "exits")]:
        shutil.copyfile(HOSTILE / f"{name}.py", students / f"{student}.py")
    finished = subprocess.run([DIFFCHALLENGE, "grade-batch", students, "--challenge", "toy-challenge", "--out",
                               root / "class-out", "--format", "html"],
                              env={**os.environ, "DIFFCHALLENGE_BANK": str(TOY_BANK)}, capture_output=True, text=True)
    assert finished.returncode in (0, 1), finished.stderr[-3000:]
    pages["class"] = root / "class-out" / "index.html"
    return pages


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def open_page(browser, page_file: Path, screenshot: Path, keep: bool = False):
    """Load the page, refusing every request but the file itself; return (page, console errors, requests).
    ``keep``: the screenshot is the one kept of its kind (DIFFCHALLENGE_SCREENSHOTS)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    outside: list[str] = []

    def only_the_file(route):
        url = route.request.url
        if url == page_file.as_uri() or url.startswith("data:"):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", only_the_file)
    page.goto(page_file.as_uri())
    page.screenshot(path=screenshot, full_page=True)
    if keep and (folder := os.environ.get("DIFFCHALLENGE_SCREENSHOTS")):
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, Path(folder) / screenshot.name)
    return page, errors, outside


def image_sizes(page) -> list[list[int]]:
    return page.evaluate("[...document.images].map(image => [image.naturalWidth, image.naturalHeight])")


@pytest.mark.parametrize("kind", ["reference", "mutant", "mutant-candidate", "charts", "hostile", "class"])
def test_page_loads_alone_without_errors(kind, reports, browser, tmp_path):
    page, errors, outside = open_page(browser, reports[kind], tmp_path / f"{kind}.png", keep=True)
    assert not errors, f"console errors: {errors}"
    assert not outside, f"the page asked for more than its file: {outside}"
    sizes = image_sizes(page)
    assert all(width > 0 and height > 0 for width, height in sizes), sizes
    assert (tmp_path / f"{kind}.png").stat().st_size > 0


def test_images_of_outputs_are_shown(reports, browser, tmp_path):
    for kind in ("reference", "mutant"):
        page, _, _ = open_page(browser, reports[kind], tmp_path / f"{kind}.png")
        assert image_sizes(page), f"{kind}: a figure of expected, candidate and difference"
        assert "PSNR" in page.inner_text("body")


def test_memory_and_runtime_charts_are_shown(reports, browser, tmp_path):
    page, _, _ = open_page(browser, reports["charts"], tmp_path / "charts.png")
    text = page.inner_text("body").lower()
    assert "memory" in text and "runtime" in text
    assert len(image_sizes(page)) >= 2


def test_candidate_variant_holds_nothing_of_the_hidden_tests(reports, browser, tmp_path):
    verdict = read_results(reports["mutant"].parent / RESULTS_FILE)
    hidden = [test for test in verdict.tests if test.hidden]
    assert hidden, "the mutant's grading ran hidden tests"
    page, _, _ = open_page(browser, reports["mutant-candidate"], tmp_path / "candidate.png")
    source = reports["mutant-candidate"].read_text()
    public_text = "\n".join(test.message for test in verdict.tests if not test.hidden)
    for test in hidden:
        assert test.name not in source and test.name not in page.inner_text("body")
        for line in filter(None, (line.strip() for line in test.message.splitlines())):
            if len(line) > 12 and line not in public_text:  # the hidden test's own words, not a public one's
                assert line not in source, f"{test.name}: {line!r}"
    interviewer, _, _ = open_page(browser, reports["mutant"], tmp_path / "interviewer.png")
    assert all(test.name in interviewer.inner_text("body") for test in hidden)


def test_a_hostile_message_is_shown_as_text(reports, browser, tmp_path):
    page, errors, _ = open_page(browser, reports["hostile"], tmp_path / "hostile.png")
    assert not errors
    assert page.evaluate("document.scripts.length") == 0
    assert all(width > 0 for width, _ in image_sizes(page)), "no broken <img> was injected"
    assert "console.error('injected')" in page.inner_text("body"), "the message is shown, as text"


def test_class_page_links_every_graded_student(reports, browser, tmp_path):
    page, _, _ = open_page(browser, reports["class"], tmp_path / "class.png")
    links = page.evaluate("[...document.links].map(link => link.getAttribute('href'))")
    gradebook = json.loads((reports["class"].parent / "gradebook.json").read_text())
    linked = {unquote(link) for link in links}
    for row in gradebook["students"]:
        if row["status"] == "graded":
            assert f"{row['student']}/report.html" in linked, row["student"]
            assert (reports["class"].parent / row["student"] / "report.html").is_file()
    assert "<ed>" in page.inner_text("body")
