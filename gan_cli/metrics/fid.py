"""FID, KID and precision/recall of generated images, in one feature space.

FID: Heusel et al. 2017, arXiv:1706.08500 (``frechet.py``); KID: Bińkowski et al. 2018,
arXiv:1801.01401 (``kid.py``); precision/recall: Kynkäänniemi et al. 2019, arXiv:1904.06991
(``precision_recall.py``). One metric computes all four because they share the expensive part,
the features of the samples and of the real data. Keys name the feature space:
``fid_classifier``, ``kid_inception``, ... FID is biased by the sample count (it shrinks with
more samples), so compare FIDs only at equal ``n``; KID is unbiased.
"""

from __future__ import annotations

from gan_cli.metrics.base import Evaluation, Metric
from gan_cli.metrics.extractors import image_extractor
from gan_cli.metrics.features import FeatureSpace
from gan_cli.metrics.frechet import frechet_distance, gaussian_stats
from gan_cli.metrics.kid import kernel_distance
from gan_cli.metrics.precision_recall import precision_recall
from gan_cli.metrics.reference import reference
from gan_cli.registry import METRICS
from gan_cli.schema import AtLeastTwo, PositiveInt


@METRICS.register("fid")
class FeatureDistances(Metric):
    def __init__(
        self,
        root: str,  # injected: the data directory, where classifiers and reference statistics are cached
        features: FeatureSpace = "classifier",  # classifier (trained on the dataset's labels) or inception
        weights: str | None = None,  # inception weights file; default: torch.hub's cache
        reference_n: PositiveInt = 50_000,  # real images in the reference statistics (a seeded subset)
        kid_subsets: PositiveInt = 100,  # KID: random subsets averaged (Bińkowski et al.)
        kid_subset_size: AtLeastTwo = 1000,  # KID: samples per subset
        k: PositiveInt = 3,  # precision/recall: k-th nearest neighbour sets the radius (Kynkäänniemi et al.)
    ):
        self.root = root
        self.kind = features
        self.weights = weights
        self.reference_n = reference_n
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.k = k
        self.protocol: dict = {}

    def __call__(self, ev: Evaluation) -> dict[str, float]:
        samples, data = ev.outputs, ev.data
        net = image_extractor(self.kind, samples, data, self.root, self.weights)
        if net is None:
            return {}
        real = reference(data, net, self.root, self.reference_n)
        fake = net.features(samples)
        kid, kid_std = kernel_distance(
            real["features"].to(fake.device), fake, self.kid_subsets, self.kid_subset_size
        )
        # Equal set sizes, as the paper: the k-NN radii depend on how dense each set is.
        precision, recall = precision_recall(real["features"][: len(fake)].to(fake.device), fake, self.k)
        self.protocol = {
            "features": net.name,
            "extractor": net.key,
            "reference_key": real["key"],
            "reference_n": int(real["n"]),
            **({"classifier_test_accuracy": net.test_accuracy} if hasattr(net, "test_accuracy") else {}),
        }
        name = net.name
        return {
            f"fid_{name}": frechet_distance(*gaussian_stats(fake.cpu()), real["mean"], real["cov"]),
            f"kid_{name}": kid,
            f"kid_std_{name}": kid_std,
            f"precision_{name}": precision,
            f"recall_{name}": recall,
        }
