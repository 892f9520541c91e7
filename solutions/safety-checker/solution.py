"""Reference solution for safety-checker: the concept-similarity logic of Stable Diffusion's safety checker."""

import torch
import torch.nn.functional as F
from diffusers.utils import logging

logger = logging.get_logger(__name__)
SPECIAL_CARE_ADJUSTMENT = 0.01  # added to the later scores of an image once one of its special-care scores is > 0


def _cosines(image_embeds, embeds):
    """(B, D) x (N, D) -> (B, N) cosine similarities, in fp32."""
    return (F.normalize(image_embeds, dim=-1) @ F.normalize(embeds, dim=-1).transpose(0, 1)).float()


def concept_scores(image_embeds, concept_embeds, concept_thresholds, special_care_embeds, special_care_thresholds):
    special_raw = _cosines(image_embeds, special_care_embeds) - special_care_thresholds.float()
    concept_raw = _cosines(image_embeds, concept_embeds) - concept_thresholds.float()

    # 1. special care, in index order: the adjustment starts at 0 and, once an image's special-care score is
    #    > 0, is 0.01 for that image's later special-care scores and all its concept scores
    adjustment = torch.zeros(special_raw.shape[0], dtype=torch.float32)
    special_scores = torch.empty_like(special_raw)
    for index in range(special_raw.shape[1]):
        special_scores[:, index] = torch.round(special_raw[:, index] + adjustment, decimals=3)
        adjustment = torch.where(special_scores[:, index] > 0, SPECIAL_CARE_ADJUSTMENT, adjustment)

    # 2. concepts: a rounded score > 0 flags the image (0.000 does not)
    scores = torch.round(concept_raw + adjustment[:, None], decimals=3)
    has_nsfw_concepts = (scores > 0).any(dim=1).tolist()
    return special_scores, scores, has_nsfw_concepts


def black_out(images, has_nsfw_concepts):
    for index, flagged in enumerate(has_nsfw_concepts):
        if flagged:
            images[index] = 0  # in place, in the batch's own dtype (numpy and torch alike)
    if any(has_nsfw_concepts):
        logger.warning("Potential NSFW content was detected in one or more images. A black image will be returned "
                       "instead. Try again with a different prompt and/or seed.")
    return images


@torch.no_grad()
def safety_check(checker, clip_input, images):
    pooled_output = checker.vision_model(clip_input)[1]
    image_embeds = checker.visual_projection(pooled_output)
    _, _, has_nsfw_concepts = concept_scores(image_embeds, checker.concept_embeds, checker.concept_embeds_weights,
                                             checker.special_care_embeds, checker.special_care_embeds_weights)
    return black_out(images, has_nsfw_concepts), has_nsfw_concepts
