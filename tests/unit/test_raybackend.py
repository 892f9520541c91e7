"""The Ray backend's pure parts, without a cluster: what a grading asks for, who may run it, what a node sent."""

import json
from pathlib import Path

import pytest

from diffchallenge import raybackend
from diffchallenge.grading import GradeOptions, GradingError
from diffchallenge.runners.docker import GRADER_MEMORY
from pytest_diffchallenge.metadata import load_challenge
from pytest_diffchallenge.verdict import Status, TestRecord, Verdict

TOY = Path(__file__).resolve().parents[1] / "toy-bank" / "challenges" / "toy-challenge"
NODE = {"node_id": "ab" * 28, "ip": "10.0.0.7", "hostname": "gpu7"}


def listed(resources: dict, alive: bool = True) -> dict:
    return {"NodeID": "cd" * 28, "Alive": alive, "NodeManagerAddress": "10.0.0.8", "NodeManagerHostname": "cpu8",
            "Resources": resources}


def test_a_grading_asks_for_its_threads_its_memory_and_a_gpu_on_cuda():
    challenge = load_challenge(TOY)
    memory = challenge.meta.limits.worker_memory + GRADER_MEMORY
    assert raybackend.task_resources(challenge, GradeOptions(threads=2)) == {"CPU": 2, "memory": memory}
    assert raybackend.task_resources(challenge, GradeOptions(threads=1, device="cuda")) == {
        "CPU": 1, "memory": memory, "GPU": 1}


def test_a_batch_no_node_can_run_fails_at_once_and_says_what_each_node_has():
    needs = {"CPU": 1, "memory": 4 * 1024**3, "GPU": 1}
    fits = listed({"CPU": 8, "memory": 64 * 1024**3, "GPU": 1})
    assert raybackend.fitting_nodes([listed({"CPU": 8, "memory": 64 * 1024**3}), fits, listed({"GPU": 8}, False)],
                                    needs) == [fits]
    with pytest.raises(GradingError, match=r"each needs CPU 1, memory 4096.00 MiB, GPU 1, and the cluster has Ray "
                                           r"node 10.0.0.8 \(cpu8, id cdcdcdcdcdcd\): CPU 8, memory 65536.00 MiB, "
                                           r"GPU 0\. Declare GPUs .* --num-gpus N"):
        raybackend.fitting_nodes([listed({"CPU": 8, "memory": 64 * 1024**3})], needs)
    with pytest.raises(GradingError, match="and the cluster has no live node"):
        raybackend.fitting_nodes([listed({"GPU": 8}, False)], needs)


def test_a_node_with_another_kit_or_bank_is_stale():
    head = {"kit": "0.1.0", "bank_hash": "1" * 64}
    assert raybackend.stale_kit(dict(head), head) == ""
    assert "bank hash 222222222222, the head has kit 0.1.0 with bank hash 111111111111" in raybackend.stale_kit(
        {"kit": "0.1.0", "bank_hash": "2" * 64}, head)


def answer(**changes) -> str:
    test = TestRecord(name="test_small", nodeid="test_public.py::test_small", status=Status.PASSED, max_score=2.0,
                      visibility="visible")
    verdict = Verdict(challenge="toy-challenge", title="t", tests=[test], submission="/node/scratch/submission.zip")
    record = {"node": NODE, "status": "graded", "message": "", "seconds": 1.5, "log": "log", "verdict":
              verdict.to_json()} | changes
    return json.dumps(record)


def test_a_node_answer_becomes_an_outcome_with_the_head_path_and_the_node():
    outcome, log = raybackend.received_outcome("ann", Path("/class/ann.py"), answer())
    assert (outcome.status, outcome.seconds, log) == ("graded", 1.5, "log")
    assert outcome.verdict is not None and outcome.verdict.score == 2
    assert outcome.verdict.submission == "/class/ann.py" and outcome.verdict.runner == {"ray_node": NODE}

    outcome, _ = raybackend.received_outcome("ann", Path("ann.py"), answer(status="error", message="boom",
                                                                           verdict=None))
    assert outcome.message == "on Ray node 10.0.0.7 (gpu7, id abababababab): boom"


@pytest.mark.parametrize("bad", ["not json", answer(status="passed"), answer(seconds="1"), answer(node={}),
                                 answer(verdict={"tests": "all passed"})])
def test_a_malformed_answer_is_an_infrastructure_error_never_a_score(bad):
    outcome, log = raybackend.received_outcome("ann", Path("ann.py"), bad)
    assert (outcome.status, outcome.verdict, log) == ("error", None, "")
    assert outcome.message.startswith("a Ray node sent a malformed result")
