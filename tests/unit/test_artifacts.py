"""Artifacts (pytest_diffchallenge.artifacts): recording, the writer and the reader's validation; the worker's
memory timeline (worker.memory); the grading and Docker plumbing that carries them. No grading here."""

import io
import json
import math
import pickle
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from diffchallenge.grading import GradeOptions, pytest_arguments
from diffchallenge.runners.docker import container_options, copy_results
from pytest_diffchallenge import artifacts
from pytest_diffchallenge.artifacts import (
    ARTIFACTS_DIR,
    INDEX_FILE,
    MAX_COMPARISONS,
    MAX_ELEMENTS,
    MAX_MEMORY_SAMPLES,
    MAX_PHASES,
    PHASE_LABEL_CHARS,
    ArtifactWriter,
    Comparison,
    MemoryTimeline,
    RuntimeSamples,
    TestArtifacts,
    keep_peaks,
    read_artifacts,
)
from pytest_diffchallenge.compare import assert_matches, assert_near_truth
from pytest_diffchallenge.faults import MismatchError
from pytest_diffchallenge.metadata import load_challenge
from pytest_diffchallenge.worker.memory import Timeline, measure_peak, phase

TOY = Path(__file__).parents[1] / "toy-bank" / "challenges" / "toy-challenge"


def sample_test(nodeid: str = "test_public.py::test_small") -> TestArtifacts:
    torch.manual_seed(0)
    return TestArtifacts(
        nodeid=nodeid,
        comparisons=(
            Comparison("step: prev_sample", torch.randn(2, 3), torch.randn(2, 3), rtol=1e-5, atol=1e-6),
            Comparison("ids", torch.arange(4), torch.arange(4).flip(0), rtol=0.0, atol=0.0),
            Comparison("double", torch.randn(5, dtype=torch.float64), torch.full((5,), math.nan, dtype=torch.float64),
                       rtol=0.1, atol=0.2, cut=True)),
        runtime=RuntimeSamples((0.5, 0.25), (0.2, 0.21), budget=1.5),
        memory=MemoryTimeline(((0.0, 0.0), (0.5, 1024.0), (0.5, 512.0)), ((0.1, "encode"), (0.2, "step 1")),
                              ceiling_bytes=2048.0, peak_bytes=1100.0))


def assert_same_artifacts(got: TestArtifacts, want: TestArtifacts) -> None:
    assert (got.nodeid, got.runtime, got.memory) == (want.nodeid, want.runtime, want.memory)
    assert len(got.comparisons) == len(want.comparisons)
    for mine, theirs in zip(got.comparisons, want.comparisons, strict=True):
        assert (mine.name, mine.rtol, mine.atol, mine.cut) == (theirs.name, theirs.rtol, theirs.atol, theirs.cut)
        for side in ("got", "expected"):
            assert torch.equal(getattr(mine, side).nan_to_num(7.0), getattr(theirs, side).nan_to_num(7.0))
            assert getattr(mine, side).dtype == getattr(theirs, side).dtype


def written(tmp_path: Path, *tests: TestArtifacts) -> Path:
    writer = ArtifactWriter(tmp_path / ARTIFACTS_DIR)
    for test in tests:
        writer.write(test)
    return tmp_path


def edit_index(out: Path, change) -> None:
    path = out / ARTIFACTS_DIR / INDEX_FILE
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


# -- writer and reader -----------------------------------------------------------------------------------------
def test_round_trip(tmp_path):
    first, second = sample_test(), sample_test("::test_secret_inputs")
    found = read_artifacts(written(tmp_path, first, second))
    assert list(found) == [first.nodeid, second.nodeid]
    assert_same_artifacts(found[first.nodeid], first)
    assert_same_artifacts(found[second.nodeid], second)


def test_a_test_without_tensors_has_no_tensor_file(tmp_path):
    runtime_only = TestArtifacts("t::runtime", runtime=RuntimeSamples((1.0,), (1.0,), 2.0))
    found = read_artifacts(written(tmp_path, runtime_only))
    assert found["t::runtime"] == runtime_only
    assert list((tmp_path / ARTIFACTS_DIR).glob("*.safetensors")) == []


def test_a_test_written_again_replaces_its_entry(tmp_path):
    writer = ArtifactWriter(tmp_path / ARTIFACTS_DIR)
    writer.write(sample_test())
    replacement = TestArtifacts("test_public.py::test_small", comparisons=(
        Comparison("only", torch.zeros(2), torch.ones(2), rtol=0.0, atol=0.5),))
    writer.write(replacement)
    assert_same_artifacts(read_artifacts(tmp_path)["test_public.py::test_small"], replacement)


def test_nothing_kept_reads_as_nothing(tmp_path):
    assert read_artifacts(tmp_path) == {}
    (tmp_path / ARTIFACTS_DIR).mkdir()
    (tmp_path / ARTIFACTS_DIR / INDEX_FILE).write_text("{not json")
    assert read_artifacts(tmp_path) == {}


@pytest.mark.parametrize("change", [
    lambda d: d.update(version=99),
    lambda d: d.update(tests=[]),
    lambda d: d.pop("tests"),
], ids=["version", "tests-not-a-mapping", "no-tests"])
def test_a_tampered_index_reads_as_nothing(tmp_path, change):
    out = written(tmp_path, sample_test())
    edit_index(out, change)
    assert read_artifacts(out) == {}


def entry(document) -> dict:
    return document["tests"]["test_public.py::test_small"]


def test_an_index_rewritten_unchanged_keeps_every_entry(tmp_path):
    out = written(tmp_path, sample_test(), sample_test("::test_secret_inputs"))
    edit_index(out, lambda document: None)  # the control of the cases below
    assert list(read_artifacts(out)) == ["test_public.py::test_small", "::test_secret_inputs"]


@pytest.mark.parametrize("change", [
    lambda e: e.update(extra=1),
    lambda e: e["comparisons"][0].update(rtol=math.nan),
    lambda e: e["comparisons"][0].update(atol=-1.0),
    lambda e: e["comparisons"][0].update(cut="yes"),
    lambda e: e["comparisons"][0].update(name=""),
    lambda e: e["comparisons"][0]["got"].update(dtype="float64"),  # the file holds float32
    lambda e: e["comparisons"][0]["got"].update(dtype="complex64"),
    lambda e: e["comparisons"][0]["got"].update(shape=[3, 2]),
    lambda e: e["comparisons"][0]["got"].update(shape=[MAX_ELEMENTS + 1]),
    lambda e: e["comparisons"].pop(),  # the file holds a comparison the index does not list
    lambda e: e["comparisons"].extend([e["comparisons"][0]] * MAX_COMPARISONS),
    lambda e: e.update(tensors="../../elsewhere.safetensors"),
    lambda e: e.update(tensors=None),
    lambda e: e["runtime"].update(candidate_s=[0.5, math.nan]),
    lambda e: e["runtime"].update(candidate_s=[0.5, math.inf]),
    lambda e: e["runtime"].update(reference_s=[]),
    lambda e: e["runtime"].update(candidate_s=[0.1] * 201),
    lambda e: e["runtime"].update(budget=True),
    lambda e: e["runtime"].update(candidate_s=[0.5]),  # runs not in pairs
    lambda e: e["memory"].update(samples=[[0.0, 0.0], [1.0, 5.0], [0.5, 1.0]]),  # time goes back
    lambda e: e["memory"].update(samples=[[0.0, -1.0]]),
    lambda e: e["memory"].update(samples=[[0.0, 1.0, 2.0]]),
    lambda e: e["memory"].update(samples=[[0.0, 1.0]] * (MAX_MEMORY_SAMPLES + 1)),
    lambda e: e["memory"].update(phases=[[0.2, "step 1"], [0.1, "encode"]]),
    lambda e: e["memory"].update(phases=[[0.1, "line\nbreak"]]),
    lambda e: e["memory"].update(phases=[[0.1, "x" * (PHASE_LABEL_CHARS + 1)]]),
    lambda e: e["memory"].update(peak_bytes=math.nan),
    lambda e: e["memory"].update(ceiling_bytes="2 GiB"),
])
def test_a_malformed_entry_is_dropped_and_the_others_kept(tmp_path, change):
    out = written(tmp_path, sample_test(), sample_test("::test_secret_inputs"))
    edit_index(out, lambda document: change(entry(document)))
    found = read_artifacts(out)
    assert list(found) == ["::test_secret_inputs"]


def test_a_pickle_named_safetensors_is_dropped(tmp_path):
    out = written(tmp_path, sample_test(), sample_test("::test_secret_inputs"))
    tensors = out / ARTIFACTS_DIR / entry(json.loads((out / ARTIFACTS_DIR / INDEX_FILE).read_text()))["tensors"]
    tensors.write_bytes(pickle.dumps({"0.got": torch.zeros(2)}))
    assert list(read_artifacts(out)) == ["::test_secret_inputs"]


def test_a_symlinked_tensor_file_is_dropped(tmp_path):
    out = written(tmp_path, sample_test(), sample_test("::test_secret_inputs"))
    first, second = sorted((out / ARTIFACTS_DIR).glob("*.safetensors"))
    first.unlink()
    first.symlink_to(second)  # a valid file, but not the one written there
    assert list(read_artifacts(out)) == ["::test_secret_inputs"]


# -- recording ------------------------------------------------------------------------------------------------
@pytest.fixture
def recording():
    artifacts.start_test()
    yield
    artifacts.finish_test("cleanup")


def test_nothing_is_recorded_outside_a_recorded_test():
    assert artifacts.finish_test("x") is None
    assert_matches(torch.ones(2), torch.ones(2), rtol=0, atol=0)
    assert artifacts.finish_test("x") is None


def test_a_failed_comparison_is_recorded_before_it_raises(recording):
    got, want = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0])
    with pytest.raises(MismatchError):
        assert_matches(got, want, rtol=1e-3, atol=1e-4, name="step: prev_sample")
    kept = artifacts.finish_test("t::x")
    assert kept is not None and kept.nodeid == "t::x"
    (comparison,) = kept.comparisons
    assert comparison.name == "step: prev_sample" and (comparison.rtol, comparison.atol) == (1e-3, 1e-4)
    assert torch.equal(comparison.got, got) and torch.equal(comparison.expected, want) and not comparison.cut


def test_near_truth_records_the_candidate_against_the_library(recording):
    truth = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    library = (truth + 1e-3).half()
    with pytest.raises(MismatchError):
        assert_near_truth(library + 1, library, truth, multiple=4, name="image")
    (comparison,) = artifacts.finish_test("t::x").comparisons
    assert comparison.name == "image" and comparison.got.dtype == torch.float32  # half widened
    assert torch.equal(comparison.expected, library.float())
    library_error = float((library.double() - truth).abs().max())
    assert comparison.atol == pytest.approx(4 * library_error) and comparison.rtol == torch.finfo(torch.float16).eps


def test_caps_on_what_a_test_records(recording):
    for index in range(MAX_COMPARISONS + 3):
        assert_matches(torch.full((2,), float(index)), torch.full((2,), float(index)), rtol=0, atol=0, name=f"c{index}")
    big = torch.arange(MAX_ELEMENTS + 10, dtype=torch.float32).reshape(2, -1)
    assert_matches(big, big, rtol=0, atol=0, name="big")
    assert_matches(torch.tensor([True, False]), torch.tensor([True, False]), rtol=0, atol=0, name="mask")
    comparisons = artifacts.finish_test("t::x").comparisons
    assert len(comparisons) == MAX_COMPARISONS
    assert [c.name for c in comparisons] == [f"c{i}" for i in range(MAX_COMPARISONS - 1)] + ["mask"]
    assert comparisons[-1].got.dtype == torch.uint8


def test_a_large_tensor_is_cut_to_its_flattened_prefix(recording):
    big = torch.arange(MAX_ELEMENTS + 10, dtype=torch.float32).reshape(2, -1)
    assert_matches(big, big, rtol=0, atol=0, name="big")
    (comparison,) = artifacts.finish_test("t::x").comparisons
    assert comparison.cut and comparison.got.shape == (MAX_ELEMENTS,)
    assert torch.equal(comparison.got, big.flatten()[:MAX_ELEMENTS])


def test_a_non_tensor_or_an_infinite_tolerance_records_nothing(recording):
    with pytest.raises(MismatchError):
        assert_matches([1.0], torch.ones(1), rtol=0, atol=0)
    assert_matches(torch.ones(1), torch.ones(1), rtol=0, atol=math.inf)
    assert artifacts.finish_test("t::x") is None


def test_memory_keeps_the_call_with_the_highest_peak(recording):
    low = MemoryTimeline(((0.0, 0.0),), (), 100.0, 10.0)
    high = MemoryTimeline(((0.0, 0.0), (1.0, 50.0)), ((0.5, "decode"),), 100.0, 60.0)
    for timeline in (low, high, low):
        artifacts.record_memory(timeline)
    artifacts.record_runtime(RuntimeSamples((0.1,) * 300, (0.2,) * 300, 1.5))
    kept = artifacts.finish_test("t::x")
    assert kept.memory == high
    assert len(kept.runtime.candidate_s) == len(kept.runtime.reference_s) == 200 and kept.runtime.budget == 1.5


def test_a_long_timeline_is_decimated_keeping_its_peak(recording):
    samples = tuple((i / 1000, float(i % 97)) for i in range(3 * MAX_MEMORY_SAMPLES))
    samples = samples[:5000] + ((5.0, 1e9),) + samples[5000:]
    artifacts.record_memory(MemoryTimeline(samples, (), None, 1e9))
    kept = artifacts.finish_test("t::x").memory
    assert len(kept.samples) <= MAX_MEMORY_SAMPLES and max(b for _, b in kept.samples) == 1e9
    assert [t for t, _ in kept.samples] == sorted(t for t, _ in kept.samples)


# -- the worker's timeline -------------------------------------------------------------------------------------
def test_keep_peaks():
    samples = [(float(i), float(v)) for i, v in enumerate([1, 5, 2, 2, 9, 0, 3])]
    assert keep_peaks(samples, 10) == samples
    assert keep_peaks(samples, 3) == [(1.0, 5.0), (4.0, 9.0), (6.0, 3.0)]


def test_the_timeline_stays_bounded_and_keeps_the_peak():
    timeline = Timeline()
    for index in range(5 * MAX_MEMORY_SAMPLES):
        timeline.sample(1e6 if index == 7777 else index % 13)
    for index in range(MAX_PHASES + 5):
        timeline.mark(f"step {index}")
    document = timeline.as_json()
    assert len(document["samples"]) <= MAX_MEMORY_SAMPLES and max(b for _, b in document["samples"]) == 1e6
    assert len(document["phases"]) == MAX_PHASES
    times = [t for t, _ in document["samples"]]
    assert times == sorted(times)


def test_phase_labels_are_cleaned_and_bounded():
    timeline = Timeline()
    timeline.mark("enc\node\x00" + "x" * 100)
    timeline.mark("\n\t")  # nothing printable left: no phase
    (label,) = [label for _, label in timeline.as_json()["phases"]]
    assert label.startswith("encode") and len(label) == PHASE_LABEL_CHARS and label.isprintable()


def test_a_measured_call_records_its_phases_and_live_memory():
    phase("outside")  # no measured call: nothing to mark, nothing raised
    with measure_peak("cpu") as meter:
        phase("allocate")
        kept = torch.zeros(1000)
        phase("free")
        del kept
    document = meter.timeline.as_json()
    assert [label for _, label in document["phases"]] == ["allocate", "free"]
    live = [b for _, b in document["samples"]]
    assert max(live) >= 4000 and live[0] == 0 and live[-1] == 0
    torch.zeros(10)
    assert meter.timeline.as_json() == document  # nothing after the call


# -- plumbing --------------------------------------------------------------------------------------------------
def test_grading_passes_artifacts_and_only_to_the_session(tmp_path):
    challenge = load_challenge(TOY)
    options = GradeOptions(artifacts=True, only=("test_public.py::test_small", "::test_secret_inputs"))
    arguments = pytest_arguments(challenge, tmp_path, tmp_path / "out" / ".session.json", tmp_path, options)
    assert arguments[arguments.index("--diffchallenge-artifacts") + 1] == str(tmp_path / "out" / ARTIFACTS_DIR)
    assert [a for a in arguments if a.startswith("--diffchallenge-only")] == [
        "--diffchallenge-only=test_public.py::test_small", "--diffchallenge-only=::test_secret_inputs"]
    plain = pytest_arguments(challenge, tmp_path, tmp_path / ".session.json", tmp_path, GradeOptions())
    assert not [a for a in plain if a.startswith(("--diffchallenge-artifacts", "--diffchallenge-only"))]


def test_the_docker_runner_carries_artifacts_and_only(tmp_path):
    pytest.importorskip("docker")
    options = GradeOptions(artifacts=True, only=("::test_secret_inputs",))
    command = container_options(image="x", challenge=load_challenge(TOY), options=options,
                                limits=SimpleNamespace(memory=1, cpus=1.0, pids=1), submission=tmp_path, gpus=None,
                                worker_uids={})["command"]
    assert "--artifacts" in command and "--only=::test_secret_inputs" in command


def test_the_docker_runner_copies_the_artifacts_out(tmp_path):
    kept = written(tmp_path / "results", sample_test()) / ARTIFACTS_DIR
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        tar.add(kept, arcname=f"results/{ARTIFACTS_DIR}")
        planted = tarfile.TarInfo(f"results/{ARTIFACTS_DIR}/planted.py")
        tar.addfile(planted, io.BytesIO(b""))
    container = SimpleNamespace(get_archive=lambda path: ([archive.getvalue()], {}))
    received = tmp_path / "received"
    received.mkdir()
    copy_results(container, received)
    assert sorted(p.name for p in (received / ARTIFACTS_DIR).iterdir()) == ["000.safetensors", INDEX_FILE]
    assert_same_artifacts(read_artifacts(received)["test_public.py::test_small"], sample_test())
