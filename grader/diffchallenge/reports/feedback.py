"""feedback.md: what a candidate may see.

Public tests in detail, with the known mistake a failed one's output matches (``diagnosis``); hidden tests only
as a count passed and, for each failure, its reason (a word from the verdict's fixed set), never their names,
code, inputs, messages or diagnoses.
"""

from __future__ import annotations

from collections import Counter

from pytest_diffchallenge.figures import TENSOR_MEMORY_CEILING
from pytest_diffchallenge.metadata import Limits
from pytest_diffchallenge.units import format_size
from pytest_diffchallenge.verdict import Reason, Status, Verdict

FILE = "feedback.md"
MARKS = {Status.PASSED: "PASS", Status.FAILED: "FAIL", Status.ERROR: "ERROR"}
SHOWN = {"peak_tensor_memory_bytes", TENSOR_MEMORY_CEILING, "worker_rss_bytes", "runtime_ratio", "candidate_ms",
         "reference_ms", "max_abs_error", "max_rel_error"}


def describe_figures(figures: dict[str, float], limits: Limits) -> list[str]:
    """Measured figures in words, each against its budget when the challenge sets one."""
    lines = []
    if "peak_tensor_memory_bytes" in figures:
        ceiling = figures.get(TENSOR_MEMORY_CEILING)
        budget = f" (budget {format_size(int(ceiling))})" if ceiling else ""
        lines.append(f"peak tensor memory {format_size(figures['peak_tensor_memory_bytes'])}{budget}")
    if "worker_rss_bytes" in figures:
        lines.append(f"worker resident memory {format_size(figures['worker_rss_bytes'])} "
                     f"(limit {format_size(limits.worker_memory)})")
    if "runtime_ratio" in figures:
        budget = f", budget {limits.runtime_ratio:g}x" if limits.runtime_ratio else ""
        lines.append(f"runtime {figures.get('candidate_ms', '?')} ms against the reference's "
                     f"{figures.get('reference_ms', '?')} ms ({figures['runtime_ratio']}x{budget})")
    if "max_abs_error" in figures:
        lines.append(f"largest error {figures['max_abs_error']:.3g} "
                     f"(relative to the output's scale {figures.get('max_rel_error', 0):.3g})")
    lines += [f"{name}: {value:g}" for name, value in figures.items() if name not in SHOWN]
    return lines


def why(reason: Reason) -> str:
    return "grader error (not counted against you)" if reason is Reason.INFRASTRUCTURE else str(reason)


def diagnosis_line(diagnosis: str) -> str:
    """What every report says of a failed test whose outputs match a kept mutant's."""
    return f"This output matches a known mistake: {diagnosis}."


def markdown(verdict: Verdict, limits: Limits) -> str:
    public = [t for t in verdict.tests if not t.hidden]
    hidden = [t for t in verdict.tests if t.hidden]
    lines = [f"# {verdict.challenge}: {verdict.title}", ""]
    if verdict.status == "error":
        lines += ["**The grader could not finish grading this submission. This is not a score: it will be "
                  "graded again.**", ""]
    else:
        lines += [f"**Score: {verdict.score:g} / {verdict.max_score:g}**", ""]
    if public:
        earned = sum(t.score for t in public)
        lines += [f"## Public tests: {earned:g} / {sum(t.max_score for t in public):g} points", ""]
        for test in public:
            lines.append(f"### {MARKS[test.status]} `{test.name}` ({test.score:g}/{test.max_score:g})")
            if figures := describe_figures(test.figures, limits):
                lines += [""] + [f"- {line}" for line in figures]
            if test.reason is not None:
                lines += ["", f"Why: {why(test.reason)}."]
            if test.diagnosis:
                lines += ["", diagnosis_line(test.diagnosis)]
            if test.message:
                lines += ["", "```text", test.message.replace("```", "'''"), "```"]
            lines.append("")
    if verdict.skipped:
        shown = [f"- `{t.name}`: {t.why}" for t in verdict.skipped if not t.hidden]
        hidden_count = sum(t.hidden for t in verdict.skipped)
        lines += ["## Not run here", ""] + shown + ([f"- {hidden_count} hidden tests"] if hidden_count else []) + [""]
    if hidden:
        passed = sum(t.status is Status.PASSED for t in hidden)
        lines += [f"## Hidden tests: {passed} of {len(hidden)} passed "
                  f"({sum(t.score for t in hidden):g} / {sum(t.max_score for t in hidden):g} points)", ""]
        reasons = Counter(why(t.reason) for t in hidden if t.reason is not None)
        lines += [f"- {count} {'test' if count == 1 else 'tests'}: {reason}" for reason, count in reasons.most_common()]
        lines += ["", "Hidden tests use inputs you have not seen; their details stay with the graders.", ""]
    return "\n".join(lines).rstrip() + "\n"
