"""Code similarity between students: copied code is flagged, independent code and the starter's are not."""

import zipfile

import pytest

from diffchallenge.similarity import DEFAULT_THRESHOLD, compare, compare_submissions

pytest.importorskip("copydetect", reason="copydetect is in the reports extra")

STARTER = '''"""Implement the scheduler's step and add_noise. See README.md."""

import torch


class Scheduler:
    def __init__(self, betas):
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)

    def step(self, model_output, timestep, sample):
        raise NotImplementedError("step is not implemented yet: return x_{t-1}")

    def add_noise(self, original, noise, timestep):
        raise NotImplementedError("add_noise is not implemented yet: return x_t")
'''

IMPLEMENTATION = '''
    def step(self, model_output, timestep, sample):
        # the posterior mean of x_{t-1} given x_t and the predicted x_0
        alpha_prod = self.alphas_cumprod[timestep]
        alpha_prev = self.alphas_cumprod[timestep - 1] if timestep > 0 else torch.tensor(1.0)
        beta_prod = 1 - alpha_prod
        pred_original = (sample - beta_prod ** 0.5 * model_output) / alpha_prod ** 0.5
        coefficient = (alpha_prev ** 0.5 * self.betas[timestep]) / beta_prod
        current = self.alphas[timestep] ** 0.5 * (1 - alpha_prev) / beta_prod
        return coefficient * pred_original + current * sample

    def add_noise(self, original, noise, timestep):
        scale = self.alphas_cumprod[timestep] ** 0.5
        spread = (1 - self.alphas_cumprod[timestep]) ** 0.5
        return scale * original + spread * noise
'''

ANN = STARTER.split("\n    def step")[0] + "\n" + IMPLEMENTATION
# Ann's code with other names, comments and blank lines: what a copy looks like after a quick disguise.
BOB = (ANN.replace("alpha_prod", "a_t").replace("alpha_prev", "a_prev").replace("pred_original", "x0")
       .replace("# the posterior mean of x_{t-1} given x_t and the predicted x_0", "# my own derivation!")
       .replace("        current =", "\n        current ="))
# The same task solved another way: helpers, a loop, keyword arguments.
CARL = STARTER.split("\n    def step")[0] + '''
    def _gather(self, values, index, default):
        if index < 0:
            return torch.full_like(values[0], default)
        return values[index]

    def step(self, model_output, timestep, sample):
        terms = {}
        for name, index in (("now", timestep), ("before", timestep - 1)):
            terms[name] = self._gather(self.alphas_cumprod, index, 1.0)
        x_start = sample.sub(model_output.mul(torch.sqrt(1 - terms["now"]))).div(torch.sqrt(terms["now"]))
        weights = torch.stack([torch.sqrt(terms["before"]) * self.betas[timestep],
                               torch.sqrt(self.alphas[timestep]) * (1 - terms["before"])]) / (1 - terms["now"])
        return torch.einsum("i,i...->...", weights, torch.stack([x_start, sample]))

    def add_noise(self, original, noise, timestep):
        gamma = self._gather(self.alphas_cumprod, timestep, 1.0)
        return torch.lerp(original * torch.sqrt(gamma), noise, 0.0) + noise * torch.sqrt(1.0 - gamma)
'''
# Two students who each wrote two lines in the same place of the starter: all they share is the scaffolding.
DORA = STARTER.replace("        raise NotImplementedError(\"step", "        x = model_output * 2\n        return (x,)\n"
                       "        raise NotImplementedError(\"step")
EVE = STARTER.replace("        raise NotImplementedError(\"step", "        y = sample + 1\n        return (y, sample)\n"
                      "        raise NotImplementedError(\"step")


def pairs_of(similarity) -> dict[tuple[str, str], object]:
    return {(pair.first.student, pair.second.student): pair for pair in similarity.pairs}


def test_a_disguised_copy_is_flagged_and_an_independent_solution_is_not():
    similarity = compare({"ann": ANN, "bob": BOB, "carl": CARL}, STARTER)
    pairs = pairs_of(similarity)
    assert list(pairs) == [("ann", "bob")], {key: pair.similarity for key, pair in pairs.items()}
    assert pairs["ann", "bob"].first.similarity > 0.95 and pairs["ann", "bob"].second.similarity > 0.95
    assert (similarity.threshold, similarity.compared, similarity.skipped) == (DEFAULT_THRESHOLD, 3, ())
    anything = pairs_of(compare({"ann": ANN, "bob": BOB, "carl": CARL}, STARTER, threshold=0.0))
    assert ("ann", "carl") not in anything, "the independent solution shares nothing with Ann's"


def test_the_starter_does_not_count():
    assert compare({"dora": DORA, "eve": EVE}, STARTER).pairs == ()
    unaware = pairs_of(compare({"dora": DORA, "eve": EVE}, starter=""))
    assert unaware["dora", "eve"].similarity > DEFAULT_THRESHOLD, "without the starter, the scaffolding would count"


def test_matched_regions_are_the_copied_lines_and_never_the_starters():
    [pair] = compare({"ann": ANN, "bob": BOB}, STARTER).pairs
    ann_lines = ANN.split("\n")
    matched = {line for region in pair.first.regions for line in range(region.first_line, region.last_line + 1)}
    code = {number for number, text in enumerate(ann_lines, start=1)
            if text.strip() and text.strip() not in STARTER and not text.strip().startswith("#")}
    assert code - matched == set(), "every line of code Ann wrote is marked (comments do not count)"
    starter_lines = {number for number, text in enumerate(ann_lines, start=1) if text.strip() and text in STARTER}
    assert starter_lines and not starter_lines & matched, "no line of the starter is marked"
    for side, source in ((pair.first, ANN), (pair.second, BOB)):
        for region in side.regions:
            text = source[region.start:region.end]
            assert text == text.strip() and text, "a region starts and ends on code"
            assert source.count("\n", 0, region.start) + 1 == region.first_line
    assert any("a_t = self.alphas_cumprod[timestep]" in BOB[r.start:r.end] for r in pair.second.regions)


def test_similarity_is_a_share_of_each_solution():
    # Ann's step pasted into a solution twice as long: all of Ann's code is in Finn's, half of Finn's in Ann's.
    finn = CARL.replace("    def step(self", "    def step_old(self") + IMPLEMENTATION.split("\n    def add_noise")[0]
    [pair] = compare({"ann": ANN, "finn": finn}, STARTER, threshold=0.3).pairs
    assert pair.first.similarity > 0.5 and pair.second.similarity < pair.first.similarity
    assert pair.similarity == pair.first.similarity


def test_submissions_are_read_as_grading_reads_them_and_refused_ones_skipped(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "solution.py").write_text(ANN)
    (tmp_path / "bob.py").write_text(BOB)
    with zipfile.ZipFile(tmp_path / "carl.zip", "w") as archive:
        archive.writestr("carl/solution.py", CARL)
    (tmp_path / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + CARL.encode())
    (tmp_path / "empty").mkdir()
    starter = tmp_path / "starter.py"
    starter.write_text(STARTER)
    submissions = {name: tmp_path / path for name, path in
                   [("ann", "ann"), ("bob", "bob.py"), ("carl", "carl.zip"), ("latin", "latin.py"), ("empty", "empty")]}
    similarity = compare_submissions(submissions, starter)
    assert similarity.compared == 4
    [(student, why)] = similarity.skipped
    assert student == "empty" and "holds no solution.py" in why
    pairs = pairs_of(similarity)
    assert set(pairs) == {("ann", "bob"), ("carl", "latin")}
    assert "café" in pairs["carl", "latin"].second.source, "decoded in its declared encoding"
