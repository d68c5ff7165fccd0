"""Does a two-domain model keep the digit? The measurements of docs/two_domains.md.

CycleGAN (digits <-> outlines): the MNIST classifier on outlines translated back to digits,
F(b), and on digits sent round the cycle, F(G(a)), against their true labels; the cycle's L1
reconstruction errors. CoGAN (digits / inverted digits): the share of pairs from one z whose
two images the classifier reads as the same digit.

    python benchmarks/two_domains.py RUN/checkpoints/last.pt [DATA_ROOT]
"""

from __future__ import annotations

import sys

import torch

from gan_cli.datasets.mnist import mnist
from gan_cli.datasets.mnist_domains import outline
from gan_cli.metrics.classifier import trained_classifier
from gan_cli.sampling import load_run

N = 1000  # images per domain


def main() -> None:
    ckpt, root = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "~/.cache/gan-cli"
    parts, state = load_run(ckpt)
    model = parts.model.eval()
    digits = mnist(root, 32, False, "test")  # the bundled split: its classifier ships with gan-cli
    classifier = trained_classifier(digits, root, torch.device("cpu"))

    def agreement(images: torch.Tensor, labels: torch.Tensor) -> float:
        return (classifier.predict(images) == labels).float().mean().item()

    with torch.no_grad():
        if state["config"]["model"]["name"] == "cyclegan":
            # The unpaired halves the run trained on: digits at even indices, outlines of the odd ones.
            a, y_a = digits.samples[0 : 2 * N : 2], digits.labels[0 : 2 * N : 2]
            b_digits, y_b = digits.samples[1 : 2 * N : 2], digits.labels[1 : 2 * N : 2]
            b = outline(b_digits)
            fake_b, fake_a = model.translate(a, "AtoB"), model.translate(b, "BtoA")
            rec_a, rec_b = model.translate(fake_b, "BtoA"), model.translate(fake_a, "AtoB")
            print(f"classifier on real digits:            {agreement(a, y_a):.3f}")
            print(f"classifier on outlines, untranslated: {agreement(b, y_b):.3f}")
            print(f"B->A: classifier(F(outline)) = label: {agreement(fake_a, y_b):.3f}")
            print(f"A->B->A: classifier(F(G(digit))):     {agreement(rec_a, y_a):.3f}")
            print(
                f"cycle L1 |F(G(a)) - a|: {(rec_a - a).abs().mean():.4f}   |G(F(b)) - b|: {(rec_b - b).abs().mean():.4f}"
            )
        else:
            z = parts.latent(N, "cpu", torch.Generator().manual_seed(0))
            a, b = model.generator(z)
            pred_a, pred_b = classifier.predict(a), classifier.predict(-b)  # B is inverted: -b is a digit
            print(f"CoGAN pairs showing the same digit: {(pred_a == pred_b).float().mean().item():.3f}")
            print(f"digits per class (A): {torch.bincount(pred_a, minlength=10).tolist()}")


if __name__ == "__main__":
    main()
