"""Trusted helpers for safety-checker. Each runs with ``solution`` = the candidate's module (in the worker)
or the library itself (the oracle, in the grader), so both sides do exactly the same thing.

The input builders (``score_inputs``, ``checker_inputs``) run in the grader only: they choose the concept and
special-care embeddings and thresholds so that every image of a batch plays a role (clean, flagged, flagged only
through the special-care adjustment, ...) whatever the seed, and every score lies far from a rounding boundary."""

import contextlib
import logging
from types import SimpleNamespace

import numpy as np
import torch
from diffusers.pipelines.stable_diffusion import safety_checker as library
from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
from torch import nn
from transformers import CLIPConfig

from pytest_diffchallenge import recipes

EMBED_DIM = 16  # projection_dim of the tiny checker
CLIP_SIZE = 32  # the size of its vision tower's input
IMAGE_SIZE = 8  # the generated images it checks
CONCEPTS, SPECIAL_CARE = 17, 3  # as many as the library's checkpoint has


def tiny_safety_checker(seed):
    """A StableDiffusionSafetyChecker from a tiny CLIPConfig, seeded. initializer_factor 5 spreads the image
    embeddings apart (at 1 they all point the same way, cosine 0.98), so the concepts can tell images apart."""
    torch.manual_seed(seed)
    config = CLIPConfig(
        text_config=dict(hidden_size=16, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                           image_size=CLIP_SIZE, patch_size=8, initializer_factor=5.0),
        projection_dim=EMBED_DIM)
    return StableDiffusionSafetyChecker(config).eval()


def _set_concepts(checker, concept_embeds, concept_thresholds, special_care_embeds, special_care_thresholds):
    for name, value in (("concept_embeds", concept_embeds), ("concept_embeds_weights", concept_thresholds),
                        ("special_care_embeds", special_care_embeds),
                        ("special_care_embeds_weights", special_care_thresholds)):
        setattr(checker, name, nn.Parameter(value.clone(), requires_grad=False))
    return checker


class _GivenEmbeddings(nn.Module):
    """Stands in for the vision tower: its pooled output is the image embeddings it is given."""

    def forward(self, clip_input):
        return clip_input, clip_input


def _checker_on_embeddings(*concepts):
    """The library's checker, its vision tower and projection replaced so that ``clip_input`` is image_embeds."""
    checker = _set_concepts(tiny_safety_checker(0), *concepts)
    checker.vision_model, checker.visual_projection = _GivenEmbeddings(), nn.Identity()
    return checker


def _library_concept_scores(image_embeds, concept_embeds, concept_thresholds, special_care_embeds,
                            special_care_thresholds):
    """StableDiffusionSafetyChecker.forward on given embeddings; its scores are the values it rounds (recorded by
    a ``round`` put in its module's namespace for the call: forward keeps them in a local list)."""
    checker = _checker_on_embeddings(concept_embeds, concept_thresholds, special_care_embeds, special_care_thresholds)
    rounded = []

    def recording_round(number, ndigits=None):
        value = round(number, ndigits)
        rounded.append(float(value))
        return value

    library.round = recording_round
    try:
        _, has_nsfw_concepts = checker(clip_input=image_embeds, images=np.zeros((len(image_embeds), 1)))
    finally:
        del library.round
    special = len(special_care_thresholds)
    scores = torch.tensor(rounded, dtype=torch.float32).view(len(image_embeds), -1)  # per image: special, then concepts
    return scores[:, :special], scores[:, special:], has_nsfw_concepts


def _library_black_out(images, has_nsfw_concepts):
    """StableDiffusionSafetyChecker.forward with embeddings that flag exactly the given images: one concept along
    the first axis (threshold 0.5), flagged images along it (score 0.5), clean ones opposite (score -1.5)."""
    checker = _checker_on_embeddings(torch.tensor([[1.0, 0.0]]), torch.tensor([0.5]), torch.tensor([[0.0, 1.0]]),
                                     torch.tensor([0.5]))
    embeddings = torch.tensor([[1.0 if flagged else -1.0, 0.0] for flagged in has_nsfw_concepts])
    blacked, _ = checker(clip_input=embeddings, images=images)
    return blacked


def _library_safety_check(checker, clip_input, images):
    return checker(clip_input=clip_input, images=images)


ORACLE = SimpleNamespace(concept_scores=_library_concept_scores, black_out=_library_black_out,
                         safety_check=_library_safety_check)


class _WarningRecorder(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@contextlib.contextmanager
def _warnings_logged():
    """Records the warnings logged meanwhile: through the root logger, or diffusers' (which does not propagate)."""
    recorder = _WarningRecorder()
    loggers = [logging.getLogger(), logging.getLogger("diffusers")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(recorder)
        if logger.getEffectiveLevel() > logging.WARNING:  # a quieter verbosity must not hide the warning
            logger.setLevel(logging.WARNING)
    try:
        yield recorder
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(recorder)
            logger.setLevel(level)


def _flags(has_nsfw_concepts) -> dict:
    return {"has_nsfw_concepts": [bool(flag) for flag in has_nsfw_concepts],
            "flags_are_a_list_of_bools": isinstance(has_nsfw_concepts, list)
            and all(isinstance(flag, bool) for flag in has_nsfw_concepts)}


def _batch(images, image_format):
    """The batch as the checker gets it: a numpy array (B, H, W, C) or a torch tensor (B, C, H, W)."""
    return images.numpy().copy() if image_format == "numpy" else images.clone()


def _returned_images(images) -> dict:
    if isinstance(images, np.ndarray):
        return {"images": torch.from_numpy(images.copy()), "returned_type": "numpy"}
    if isinstance(images, torch.Tensor):
        return {"images": images, "returned_type": "torch"}
    raise TypeError(f"the images must come back as a numpy array or a torch tensor, not {type(images).__name__}")


def concept_scores(solution, image_embeds, concept_embeds, concept_thresholds, special_care_embeds,
                   special_care_thresholds):
    special_scores, scores, has_nsfw_concepts = solution.concept_scores(
        image_embeds.clone(), concept_embeds.clone(), concept_thresholds.clone(), special_care_embeds.clone(),
        special_care_thresholds.clone())
    return {"special_scores": special_scores, "concept_scores": scores, **_flags(has_nsfw_concepts)}


def black_out(solution, images, has_nsfw_concepts, image_format):
    with _warnings_logged() as recorder:
        result = solution.black_out(_batch(images, image_format), list(has_nsfw_concepts))
    return {**_returned_images(result), "warnings_logged": len(recorder.records)}


@torch.no_grad()
def safety_checker(solution, model_seed, clip_input, images, image_format, concept_embeds, concept_thresholds,
                   special_care_embeds, special_care_thresholds):
    """The tiny checker with the given concepts, run on clip_input and a batch of generated images."""
    checker = _set_concepts(tiny_safety_checker(model_seed), concept_embeds, concept_thresholds, special_care_embeds,
                            special_care_thresholds)
    with _warnings_logged() as recorder:
        result, has_nsfw_concepts = solution.safety_check(checker, clip_input.clone(), _batch(images, image_format))
    return {**_returned_images(result), **_flags(has_nsfw_concepts), "warnings_logged": len(recorder.records)}


# ---- input builders (grader side) ----
# A designed score is (k + f) / 1000 with an integer k and |f| <= 0.3: at least 2e-4 from a rounding boundary
# ((k + 1/2) / 1000), so the rounded score and the verdict are the same for any correct computation (fp32 cosines
# in another order differ by about 1e-7, a vision tower run on another thread count by about 1e-6).
# Each category: the range of k (thousandths) and of f; "adjusted" means once the 0.01 adjustment applies.
# concept_scores, which gets fp32 embeddings and no model, is also judged with "far" scores 1e-6 to 1.5e-6 from a
# boundary (TIGHT_FAR): fp32 cosines in any order stay within 2e-7 of each other there, while cosines, thresholds
# or the adjustment in half precision (0.01 is 2e-6 off in fp16) move some of them across.
CATEGORIES = {
    "far": ((-60, -20), (-0.3, 0.3)),   # negative, even adjusted
    "positive": ((3, 40), (-0.3, 0.3)),  # above the threshold
    "near": ((-9, -2), (-0.3, 0.3)),  # below it, above once adjusted
    "zero": ((0, 0), (0.05, 0.3)),  # above the threshold, but rounds to 0.000: not > 0
    "zero-adjusted": ((-10, -10), (0.05, 0.3)),  # below it, and rounds to 0.000 once adjusted: not > 0 either
}
TIGHT_FAR = (0.4985, 0.499)  # |f| for "far" scores in the tight design; their side of the boundary is drawn
# What each role sets (special-care index or "any" concept index -> category); every other score is "far".
ROLES = {
    # the special-care score rounds to 0 (no adjustment), so the concept just under the threshold stays clean
    "clean": ({2: "zero"}, ["near", "zero"]),
    "flagged": ({}, ["positive"]),
    # special-care 0 is below (adjustment still 0), 1 fires, 2 is lifted above by the adjustment it set;
    # the concept just under the threshold is flagged through the adjustment
    "adjusted": ({0: "near", 1: "positive", 2: "near"}, ["near"]),
    # special care fires, but the adjusted concept rounds to 0.000: clean
    "special-only": ({0: "positive"}, ["zero-adjusted"]),
}


def role_order(seed, roles=tuple(ROLES)):
    """The images' roles, shuffled by the seed."""
    return [roles[index] for index in np.random.default_rng(seed).permutation(len(roles))]


def _designed_scores(rng, roles, count, pick, tight):
    """(images, count) designed scores: "far" everywhere except what each role sets (``pick`` maps a role's entry
    to the indices and categories it sets); ``tight``: "far" scores next to a boundary (TIGHT_FAR)."""
    categories = [["far"] * count for _ in roles]
    for image, role in enumerate(roles):
        for index, category in pick(role):
            categories[image][index] = category
    scores = np.empty((len(roles), count))
    for image, row in enumerate(categories):
        for index, category in enumerate(row):
            (low, high), (f_low, f_high) = CATEGORIES[category]
            fraction = rng.uniform(f_low, f_high)
            if tight and category == "far":
                fraction = rng.choice([-1, 1]) * rng.uniform(*TIGHT_FAR)
            scores[image, index] = (rng.integers(low, high + 1) + fraction) / 1000
    return scores


def _embeddings_for(rng, unit_images, scores, threshold_range):
    """One embedding per column of ``scores`` and a threshold each, such that cos(image, embedding) - threshold is
    the designed score: unit vectors c with unit_images @ c = scores + threshold, completed to unit length outside
    the images' span, then scaled (so that a solution must normalise them)."""
    images, dim = unit_images.shape
    pseudo_inverse = np.linalg.pinv(unit_images)
    outside = np.linalg.svd(unit_images)[2][images:]  # an orthonormal basis of the complement of the images' span
    embeddings, thresholds = [], []
    for column in scores.T:
        threshold = rng.uniform(*threshold_range)
        inside = pseudo_inverse @ (column + threshold)
        spare = 1 - inside @ inside
        if spare <= 0.01:
            raise ValueError("these image embeddings are too close together for the designed scores")
        direction = outside.T @ rng.standard_normal(dim - images)
        embedding = inside + np.sqrt(spare) * direction / np.linalg.norm(direction)
        embeddings.append(embedding * rng.uniform(0.5, 3.0))
        thresholds.append(threshold)
    return torch.tensor(np.array(embeddings), dtype=torch.float32), torch.tensor(thresholds, dtype=torch.float32)


def design_concepts(image_embeds, seed, roles, concepts=CONCEPTS, special_care=SPECIAL_CARE,
                    threshold_range=(0.02, 0.06), tight=False):
    """Concept and special-care embeddings and thresholds under which image i plays ``roles[i]``."""
    rng = np.random.default_rng(seed)
    unit_images = image_embeds.double().numpy()
    unit_images = unit_images / np.linalg.norm(unit_images, axis=1, keepdims=True)
    special_scores = _designed_scores(rng, roles, special_care, lambda role: ROLES[role][0].items(), tight)

    def concept_entries(role):  # distinct concept indices for the role's categories, drawn by the seed
        return zip(rng.choice(concepts, size=len(ROLES[role][1]), replace=False), ROLES[role][1], strict=True)

    concept_scores = _designed_scores(rng, roles, concepts, concept_entries, tight)
    special_care_embeds, special_care_thresholds = _embeddings_for(rng, unit_images, special_scores, threshold_range)
    concept_embeds, concept_thresholds = _embeddings_for(rng, unit_images, concept_scores, threshold_range)
    return dict(concept_embeds=concept_embeds, concept_thresholds=concept_thresholds,
                special_care_embeds=special_care_embeds, special_care_thresholds=special_care_thresholds)


def score_inputs(seed, roles, concepts=CONCEPTS, special_care=SPECIAL_CARE, dim=EMBED_DIM):
    """Image embeddings (seeded, of various lengths) and concepts under which image i plays roles[i]. The images
    share a common direction (cosine 0.81 between them), so that cosines and thresholds reach 0.5 to 0.75, where
    half precision is 2.4e-4 off: the tight design tells it apart."""
    rng = np.random.default_rng(seed + 1)
    basis = np.linalg.qr(rng.standard_normal((dim, len(roles) + 1)))[0].T  # orthonormal rows
    directions = 0.9 * basis[0] + np.sqrt(1 - 0.9**2) * basis[1:]
    image_embeds = torch.tensor(directions * rng.uniform(0.5, 30.0, size=(len(roles), 1)), dtype=torch.float32)
    return dict(image_embeds=image_embeds, **design_concepts(image_embeds, seed, roles, concepts, special_care,
                                                             threshold_range=(0.5, 0.7), tight=True))


def generated_images(seed, image_format, batch, dtype=torch.float32):
    """A batch as a pipeline hands it to the checker: numpy (B, H, W, 3) in [0, 1], or torch (B, 3, H, W) in
    [-1, 1] (here as a tensor: the probe turns it into numpy)."""
    if image_format == "numpy":
        return recipes.seeded_randn((batch, IMAGE_SIZE, IMAGE_SIZE, 3), seed, torch.float64).sigmoid().to(dtype)
    return recipes.seeded_randn((batch, 3, IMAGE_SIZE, IMAGE_SIZE), seed, torch.float64).tanh().to(dtype)


@torch.no_grad()
def checker_inputs(model_seed, seed, roles, image_format="numpy"):
    """clip_input for the tiny checker, concepts under which image i plays roles[i], and the generated images."""
    checker = tiny_safety_checker(model_seed)
    clip_input = recipes.seeded_randn((len(roles), 3, CLIP_SIZE, CLIP_SIZE), seed)
    image_embeds = checker.visual_projection(checker.vision_model(clip_input)[1])
    return dict(model_seed=model_seed, clip_input=clip_input, image_format=image_format,
                images=generated_images(seed + 1, image_format, len(roles)),
                **design_concepts(image_embeds, seed, roles))
