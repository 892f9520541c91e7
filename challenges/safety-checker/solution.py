"""safety-checker: the concept-similarity logic of Stable Diffusion's safety checker. See README.md."""

import torch


def concept_scores(image_embeds: torch.Tensor, concept_embeds: torch.Tensor, concept_thresholds: torch.Tensor,
                   special_care_embeds: torch.Tensor, special_care_thresholds: torch.Tensor):
    """-> (special_scores (B, S) fp32, concept_scores (B, C) fp32, has_nsfw_concepts: list of B bools)."""
    raise NotImplementedError(
        "concept_scores is not implemented yet: compare each image embedding with the special-care and concept "
        "embeddings (cosine), subtract the thresholds, apply the special-care adjustment and round (see README.md)")


def black_out(images, has_nsfw_concepts):
    """-> the batch (numpy or torch) with each flagged image all zeros; logs a warning when any is flagged."""
    raise NotImplementedError("black_out is not implemented yet: replace each flagged image by zeros (see README.md)")


def safety_check(checker, clip_input: torch.Tensor, images):
    """-> (images, has_nsfw_concepts), as StableDiffusionSafetyChecker does, without calling its forward."""
    raise NotImplementedError("safety_check is not implemented yet: embed clip_input with the checker's vision tower "
                              "and projection, score it with concept_scores and black out the flagged images")
