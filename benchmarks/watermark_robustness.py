"""What SDXL's dwtDct watermark survives: the package's own encoder beside invisible-watermark's reference.

    .venv/bin/python benchmarks/watermark_robustness.py [--images N]

On N seeded images (the challenge's ``probes.natural_image``), each encoder marks a random 48-bit message;
the package's decoder reads it back clean and after each of the challenge's attacks (resize at 1024x1024,
SDXL's size; crop and JPEG at 512x512). Prints PSNR and bit accuracy: min, mean and the share of images at or
above the challenge's 95%.
"""

from __future__ import annotations

import argparse
import statistics

from diffchallenge.bank.challenges import get_challenge
from diffchallenge.bank.mutants import reference_dir
from pytest_diffchallenge.worker.serve import load_module

ATTACKS = {"clean": (512, None), "resize": (1024, "resize"), "crop": (512, "crop"), "jpeg75": (512, "jpeg75")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    args = parser.parse_args()
    challenge = get_challenge("invisible-watermark")
    probes = load_module("watermark_probes", str(challenge.probes))
    reference = load_module("watermark_reference", str(reference_dir(challenge) / "solution.py"))
    encoders = {"package": probes.package_encode, "reference": reference.encode}
    print(f"{'encoder':<11}{'figure':<9}{'min':>8}{'mean':>8}{'>= 95%':>8}")
    for who, encode in encoders.items():
        psnrs = []
        for attack, (size, name) in ATTACKS.items():
            accuracies = []
            for seed in range(args.images):
                image = probes.natural_image(seed, size, size).numpy()
                bits = probes.message(seed + 1)
                marked = encode(image, bits)
                if attack == "clean":
                    psnrs.append(probes.psnr(image, marked))
                read = probes.package_decode(probes.ATTACKS[name](marked) if name else marked)
                accuracies.append(probes.bit_accuracy(read, bits))
            share = sum(accuracy >= probes.MIN_BIT_ACCURACY for accuracy in accuracies) / len(accuracies)
            print(f"{who:<11}{attack:<9}{min(accuracies):>8.1%}{statistics.mean(accuracies):>8.1%}{share:>8.0%}")
        print(f"{who:<11}{'PSNR dB':<9}{min(psnrs):>8.2f}{statistics.mean(psnrs):>8.2f}")


if __name__ == "__main__":
    main()
