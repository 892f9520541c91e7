"""report.html from synthetic verdicts and artifacts (no grading): what each audience sees, escaping, images of
outputs, charts, size and determinism."""

import base64
import math
import re

import pytest
import torch

from diffchallenge import cli
from diffchallenge.reports import charts, html
from diffchallenge.reports.results import write_reports
from pytest_diffchallenge.artifacts import ArtifactWriter, Comparison, MemoryTimeline, RuntimeSamples, TestArtifacts
from pytest_diffchallenge.metadata import Limits
from pytest_diffchallenge.verdict import Reason, Status, TestRecord, Verdict

LIMITS = Limits(timeout_s=5, worker_memory=1500 * 1024**2, tensor_memory=6 * 1024**2, runtime_ratio=3.0)
IMAGE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
HIDDEN_WORDS = ("test_zebra_hidden", "ZEBRA-MESSAGE", "ZEBRA-DIAGNOSIS", "zebra-output", "test_okapi_hidden",
                "timed out")


def record(name, status="passed", points=1.0, reason=None, visibility="visible", message="", diagnosis="",
           module="test_public", figures=None):
    return TestRecord(name=name, nodeid=f"{module}.py::{name}", status=Status(status), max_score=points,
                      visibility=visibility, reason=reason, message=message, diagnosis=diagnosis,
                      figures=figures or {})


def hidden(name, status="passed", points=1.0, reason=None, **details):
    return record(name, status, points, reason, "hidden", module="test_hidden", **details)


def verdict(tests, **changes) -> Verdict:
    return Verdict(challenge="toy-challenge", title="Scaled sum", tests=tests, isolation="landlock and seccomp held",
                   sandbox={"seccomp": "held"}, environment={"torch": "2.13.0"}, **changes)


def latents(seed: int, shape=(1, 4, 16, 16)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def comparison(name, got, expected, cut=False) -> Comparison:
    return Comparison(name=name, got=got, expected=expected, rtol=1e-5, atol=1e-6, cut=cut)


def memory() -> MemoryTimeline:
    samples = tuple((step / 100, (4 + step % 5) * 1024**2) for step in range(60))
    phases = ((0.0, "encode"), *((0.05 + step / 50, f"step {step}") for step in range(20)), (0.5, "decode"))
    return MemoryTimeline(samples=samples, phases=phases, ceiling_bytes=6 * 1024**2, peak_bytes=8.5 * 1024**2)


def runtime() -> RuntimeSamples:
    return RuntimeSamples(candidate_s=(0.010, 0.011, 0.012, 0.030), reference_s=(0.005, 0.006, 0.0055, 0.006),
                          budget=3.0)


def artifacts_of(*tests: TestArtifacts) -> dict[str, TestArtifacts]:
    return {test.nodeid: test for test in tests}


def images(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in IMAGE.findall(page)]


def zebra_verdict(hidden_tests) -> tuple[Verdict, dict[str, TestArtifacts]]:
    tests = [record("test_small", "failed", 2.0, Reason.WRONG_OUTPUT, message="public message", diagnosis="sign"),
             *hidden_tests]
    kept = artifacts_of(
        TestArtifacts("test_public.py::test_small", (comparison("public-output", latents(1), latents(2)),)),
        *(TestArtifacts(test.nodeid, (comparison("zebra-output", latents(3), latents(4)),), runtime(), memory())
          for test in hidden_tests))
    return verdict(tests), kept


def test_a_candidate_page_holds_nothing_of_the_hidden_tests_but_their_points():
    split_three_ways = [hidden("test_zebra_hidden", "failed", 2.0, Reason.WRONG_OUTPUT, message="ZEBRA-MESSAGE 0.1234",
                               diagnosis="ZEBRA-DIAGNOSIS"),
                        hidden("test_okapi_hidden", "failed", 1.0, Reason.TIMED_OUT, message="ZEBRA-MESSAGE"),
                        hidden("test_third_hidden", "passed", 3.0)]
    split_two_ways = [hidden("test_other", "failed", 3.0, Reason.RAISED), hidden("test_another", "passed", 3.0)]
    first, first_artifacts = zebra_verdict(split_three_ways)
    second, second_artifacts = zebra_verdict(split_two_ways)
    page = html.render(first, LIMITS, first_artifacts, html.CANDIDATE)
    # Same public tests, same hidden points, different hidden tests: not one byte differs.
    assert page == html.render(second, LIMITS, second_artifacts, html.CANDIDATE)
    for word in (*HIDDEN_WORDS, "test_hidden.py", "test_third_hidden", "test_other"):
        assert word not in page
    assert "Hidden tests: 3 / 6 points" in page and "Interviewer only" not in page
    assert "public message" in page and "known mistake: sign" in page
    assert len(images(page)) == 1, "the public comparison alone"

    interviewer = html.render(first, LIMITS, first_artifacts)
    for word in HIDDEN_WORDS:
        assert word in interviewer
    assert "Interviewer only" in interviewer and "landlock and seccomp held" in interviewer
    assert len(images(interviewer)) == 1 + 3 * 3, "each hidden test: its comparison, memory and runtime"


def test_a_candidate_page_shows_no_grader_error_and_no_score_when_grading_failed():
    errors_verdict = verdict([record("test_small")], errors=["the hidden test test_zebra_hidden could not start"])
    page = html.render(errors_verdict, LIMITS, {}, html.CANDIDATE)
    assert "This is not a score" in page and "Score:" not in page and "test_zebra_hidden" not in page
    assert "test_zebra_hidden could not start" in html.render(errors_verdict, LIMITS, {})


HOSTILE = "</pre></td><script>alert(\"x\")</script></html><img src=x onerror='alert(1)'>"


def test_hostile_text_from_a_submission_is_escaped_everywhere():
    tests = [record(f"test_<b>{HOSTILE}", "failed", 1.0, Reason.RAISED, message=HOSTILE, diagnosis=HOSTILE),
             hidden("test_h", "failed", 1.0, Reason.RAISED, message=HOSTILE)]
    kept = artifacts_of(TestArtifacts(tests[0].nodeid, (comparison(HOSTILE, latents(1), latents(2)),)))
    for audience in html.AUDIENCES:
        page = html.render(verdict(tests, errors=[HOSTILE], submission=HOSTILE), LIMITS, kept, audience)
        assert "<script" not in page and "onerror=" not in page.replace("onerror=&#39;", "")
        assert page.count("</html>") == 1 and page.count("<b>") == 0
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
        assert len(re.findall(r"<img ", page)) == len(images(page)), "every <img> is one of ours"


def test_image_shaped_comparisons_are_drawn_and_flat_ones_listed():
    expected = torch.linspace(0, 1, 64).reshape(8, 8)
    kept = artifacts_of(TestArtifacts("test_public.py::test_small", (
        comparison("latents", latents(1), latents(2)),
        comparison("rgb", latents(3, (3, 8, 8)), latents(4, (3, 8, 8))),
        comparison("grey", expected + 0.1, expected),
        comparison("flat", torch.arange(64.0), torch.arange(64.0)),
        comparison("batch of two", latents(5, (2, 3, 8, 8)), latents(6, (2, 3, 8, 8))),
        comparison("too small", latents(7, (3, 3)), latents(8, (3, 3))),
        comparison("cut", torch.zeros(4096), torch.zeros(4096), cut=True),
        comparison("integers", torch.arange(64).reshape(8, 8), torch.arange(64).reshape(8, 8)))))
    page = html.render(verdict([record("test_small")]), LIMITS, kept)
    assert len(images(page)) == 5
    assert "(the first of 2 in the batch)" in page
    assert all(png.startswith(b"\x89PNG") for png in images(page))
    assert "channels 0-2 of 4 as RGB, each normalised to its expected range" in page
    assert "only its first 4096 elements were kept: not drawn" in page
    assert "PSNR 20.0 dB" in page, "a 0.1 error on a range of 1"
    assert "PSNR infinite (identical)" in page, "the integers"


def test_psnr_and_max_abs_error_of_known_cases():
    expected = torch.linspace(-1, 1, 100).numpy().astype("float64")
    assert charts.psnr_db(expected + 0.02, expected) == pytest.approx(10 * math.log10(2**2 / 0.02**2))
    assert charts.psnr_db(expected, expected) == math.inf
    assert charts.psnr_db(expected * 0 + 1.0 + 0.1, expected * 0 + 1.0) is None, "a constant expected output"
    with_nan = expected.copy()
    with_nan[3] = math.nan
    assert charts.psnr_db(with_nan, expected) is None
    assert math.isnan(charts.max_abs_error(with_nan, expected))
    assert charts.max_abs_error(expected + 0.25, expected) == pytest.approx(0.25)


def test_memory_and_runtime_charts_are_drawn_with_the_ratio_against_the_budget():
    tests = [record("test_memory", "failed", 1.0, Reason.OVER_MEMORY, message="over",
                    figures={"peak_tensor_memory_bytes": 8.5 * 1024**2}),
             record("test_speed")]
    kept = artifacts_of(TestArtifacts(tests[0].nodeid, memory=memory()),
                        TestArtifacts(tests[1].nodeid, runtime=runtime()))
    page = html.render(verdict(tests), LIMITS, kept)
    assert 'alt="memory over the call"' in page and 'alt="runtime of each timed run"' in page
    assert len(images(page)) == 2
    # the pairs' ratios 2.0, 1.83, 2.18 and 5.0: their median is 2.09 (the ratio of the medians would be 2.0)
    assert "median ratio candidate / reference 2.09, within the budget of 3x (4 candidate and 4 reference runs)" in page
    assert "peak tensor memory 8.50 MiB" in page


def test_images_are_capped_and_the_page_stays_small():
    big = [comparison(f"frame {n}", latents(n, (1, 3, 512, 512)), latents(n + 100, (1, 3, 512, 512)))
           for n in range(8)]
    tests = [record(f"test_{n}") for n in range(3)]
    kept = artifacts_of(*(TestArtifacts(test.nodeid, tuple(big), runtime(), memory()) for test in tests))
    page = html.render(verdict(tests), LIMITS, kept)
    assert len(images(page)) == html.MAX_IMAGES + 2 * len(tests)
    assert page.count("not drawn: a report draws at most 12 images") == 3 * 8 - html.MAX_IMAGES
    assert len(page.encode()) < 3 * 1024**2, "downscaled: a few MB at most"


def test_the_same_grading_gives_the_same_bytes():
    first, kept = zebra_verdict([hidden("test_zebra_hidden", "failed", 2.0, Reason.WRONG_OUTPUT)])
    page = html.render(first, LIMITS, kept)
    assert page == html.render(first, LIMITS, kept)
    assert all(b"Software" not in png and b"tIME" not in png for png in images(page))


def test_write_reports_renders_the_kept_artifacts_for_the_audience(tmp_path):
    tests = [record("test_small"), hidden("test_zebra_hidden", "failed", 2.0, Reason.WRONG_OUTPUT)]
    writer = ArtifactWriter(tmp_path / "artifacts")
    for test in tests:
        writer.write(TestArtifacts(test.nodeid, (comparison("zebra-output", latents(1), latents(2)),)))
    written = write_reports(verdict(tests), tmp_path, LIMITS, ("html",), audience=html.CANDIDATE)
    assert {path.name for path in written} == {"results.json", "report.html"}
    page = (tmp_path / "report.html").read_text()
    assert len(images(page)) == 1 and "test_zebra_hidden" not in page
    write_reports(verdict(tests), tmp_path, LIMITS, ("html",))
    assert len(images((tmp_path / "report.html").read_text())) == 2


def test_without_the_reports_extra_html_is_refused_before_grading(monkeypatch, tmp_path, capsys):
    real_find_spec = html.importlib.util.find_spec
    monkeypatch.setattr(html.importlib.util, "find_spec",
                        lambda name, *rest: None if name == "matplotlib" else real_find_spec(name, *rest))
    code = cli.main(["grade", str(tmp_path / "nowhere"), "--challenge", "toy-challenge", "--out", str(tmp_path / "out"),
                     "--format", "html"])
    output = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "the HTML report needs matplotlib: pip install 'diffchallenge[reports]'" in output
    assert not (tmp_path / "out").exists()


def test_an_audience_without_the_html_format_is_bad_usage(tmp_path, capsys):
    code = cli.main(["grade", str(tmp_path / "nowhere"), "--challenge", "toy-challenge", "--out", str(tmp_path / "out"),
                     "--audience", "candidate"])
    assert code == 2 and "--audience goes with --format html" in capsys.readouterr().err
