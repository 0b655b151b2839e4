"""Feature statistics of image streams, cached reference statistics, FID/KID/IS.

The same functions serve `python -m vitgan_tf.evaluate` and `FIDCallback`.

Images flow batch by batch: pool_3 features go into `RunningStatistics`
(FID), the first `kid_samples` of them are kept for KID, and logits for IS
are collected only when asked for. Reference statistics of a real dataset
are computed once and cached as `.npz` under `<cache>/reference/`, keyed by
dataset, split, image size and sample count.

Metric names state their sample count, e.g. `fid10k`, `kid2k`, `is10k`.
"""

import os
import sys

import keras
import numpy as np

from vitgan_tf.metrics import datasets
from vitgan_tf.metrics.distances import RunningStatistics
from vitgan_tf.metrics.distances import classifier_score_from_logits
from vitgan_tf.metrics.distances import frechet_distance_from_statistics
from vitgan_tf.metrics.distances import kernel_classifier_distance_and_std_from_activations
from vitgan_tf.metrics.distances import _warn_if_singular
from vitgan_tf.io import read_npz
from vitgan_tf.metrics.inception_weights import FEATURES_ID  # noqa: F401 (re-exported)
from vitgan_tf.metrics.inception_weights import cache_dir

__all__ = [
    "ImageStatistics",
    "array_batches",
    "collect_statistics",
    "compute_metrics",
    "generator_batches",
    "metric_name",
    "reference_statistics",
]



def metric_name(metric, num_samples):
    """"fid" and 10000 -> "fid10k"; 1500 -> "fid1500"."""
    n = int(num_samples)
    return f"{metric}{n // 1000}k" if n % 1000 == 0 else f"{metric}{n}"


def array_batches(images, batch_size):
    """Yields consecutive batches of an in-memory NHWC array."""
    for i in range(0, len(images), batch_size):
        yield images[i : i + batch_size]


def generator_batches(generator, num_samples, batch_size, seed=0):
    """Yields float32 NHWC images in [-1, 1] from `generator(z)`.

    The latents are drawn from a numpy generator seeded with `seed`, so two
    evaluations of the same generator see the same z.

    Args:
        generator: callable z [b, generator.z_dim] -> images; must have `z_dim`.
        num_samples: int. Images in total.
        batch_size: int.
        seed: int, default 0.
    """
    z_dim = getattr(generator, "z_dim", None)
    if not isinstance(z_dim, int) or z_dim <= 0:
        raise ValueError(f"The generator needs an int attribute `z_dim` > 0. Received: z_dim={z_dim!r}")
    rng = np.random.default_rng(seed)
    done = 0
    while done < num_samples:
        b = min(batch_size, num_samples - done)
        z = rng.standard_normal((b, z_dim)).astype(np.float32)
        images = generator(z, training=False)
        yield keras.ops.convert_to_numpy(images).astype(np.float32)
        done += b


class ImageStatistics:
    """What an image stream leaves for the metrics.

    Attributes:
        stats: `RunningStatistics` of pool_3 features, or None where no Inception
            features were taken (IS alone).
        activations: float32 [k, 2048], the first k features (for KID).
        logits: float32 [n, classes] or None (for IS).
    """

    def __init__(self, stats, activations=None, logits=None):
        if stats is None and logits is None:
            raise ValueError("ImageStatistics needs pool_3 statistics, IS logits, or both.")
        self.stats = stats
        self.activations = activations
        self.logits = logits

    @property
    def count(self):
        return self.stats.count if self.stats is not None else len(self.logits)

    def save(self, path):
        """Writes mean, covariance (float64), count and activations to `.npz`."""
        arrays = dict(mean=self.stats.mean, covariance=self.stats.covariance, count=np.int64(self.count))
        if self.activations is not None:
            arrays["activations"] = self.activations
        tmp = f"{path}.{os.getpid()}.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        """Reads `save`'s `.npz` (or a {mu, sigma, count} file)."""
        with read_npz(path, "Image statistics") as f:
            mean = f["mean"] if "mean" in f.files else f["mu"]
            cov = f["covariance"] if "covariance" in f.files else f["sigma"]
            if "count" not in f.files:
                raise ValueError(f"{path}: statistics without a sample count.")
            acts = f["activations"] if "activations" in f.files else None
            return cls(RunningStatistics.from_moments(mean, cov, int(f["count"])), acts)


def collect_statistics(batches, extractor, num_samples, kid_samples=0, classifier=None,
                       progress=True, label="images"):
    """Runs the Inception network over a stream of image batches.

    Args:
        batches: iterable of NHWC batches (uint8, or float in [-1, 1]).
        extractor: `InceptionFeatureExtractor`, or None to take IS logits only (then
            `classifier` is needed and `kid_samples` must be 0).
        num_samples: int. Stops after this many images (error if fewer come).
        kid_samples: int, default 0. Keep the first k features for KID.
        classifier: `LogitsClassifier` or None. Collect IS logits too.
        progress: bool, default True. Show a progress bar.
        label: str. Progress bar label.

    Returns:
        `ImageStatistics`.
    """
    if not isinstance(num_samples, int) or num_samples <= 0:
        raise ValueError(f"Expected `num_samples` > 0. Received: num_samples={num_samples!r}")
    if extractor is None and (classifier is None or kid_samples):
        raise ValueError("Without an Inception extractor there are only IS logits: pass a "
                         f"classifier and kid_samples=0. Received: kid_samples={kid_samples!r}, "
                         f"classifier={classifier!r}")
    stats = RunningStatistics() if extractor is not None else None
    kept, logits = [], []
    if progress:
        what = "Inception features" if extractor is not None else "IS logits"
        print(f"{what} of {num_samples} {label} images", file=sys.stderr)
    bar = keras.utils.Progbar(num_samples, unit_name="image") if progress else None
    seen = 0
    for batch in batches:
        batch = batch[: num_samples - seen]
        if len(batch) == 0:
            break
        if extractor is not None:
            feats = extractor(batch)
            stats.update(feats)
            if seen < kid_samples:
                kept.append(feats[: kid_samples - seen])
        if classifier is not None:
            logits.append(classifier(batch))
        seen += len(batch)
        if bar is not None:
            bar.update(seen)
        if seen >= num_samples:
            break
    if seen < num_samples:
        raise ValueError(f"The image stream ended after {seen} images; {num_samples} were asked for.")
    return ImageStatistics(
        stats,
        np.concatenate(kept) if kept else None,
        np.concatenate(logits) if logits else None,
    )


def reference_statistics(dataset, split="train", image_size=None, num_samples=None, kid_samples=0,
                         extractor=None, batch_size=50, cache=True, progress=True):
    """Cached Inception statistics of a real dataset split.

    Args:
        dataset: str, e.g. "fashion_mnist" (see `datasets.DATASETS`).
        split: str, default "train".
        image_size: int or None, default None (the dataset's preset size).
        num_samples: int or None, default None (the whole split).
        kid_samples: int, default 0. Features kept for KID (cached too).
        extractor: `InceptionFeatureExtractor` or None (built on demand, only
            when the cache misses).
        batch_size: int, default 50.
        cache: bool, default True. Read / write `<cache>/reference/*.npz`.
        progress: bool, default True.

    Returns:
        `ImageStatistics` (no logits).
    """
    images = datasets.load_dataset(dataset, split, image_size, num_samples)
    n, size = len(images), images.shape[1]
    path = os.path.join(cache_dir(), "reference", f"{dataset}-{split}-{size}px-{n}-{FEATURES_ID}.npz")
    if cache and os.path.isfile(path):
        try:
            cached = ImageStatistics.load(path)
        except ValueError as error:
            raise ValueError(f"{error}. It is a cache of reference statistics: delete it and it "
                             "is computed again") from None
        have = 0 if cached.activations is None else len(cached.activations)
        if have >= min(kid_samples, n):
            if cached.activations is not None:
                cached.activations = cached.activations[: max(kid_samples, 0)] if kid_samples else None
            return cached
    if extractor is None:
        from vitgan_tf.metrics.inception import InceptionFeatureExtractor  # noqa: PLC0415

        extractor = InceptionFeatureExtractor(batch_size=batch_size)
    result = collect_statistics(
        array_batches(images, batch_size), extractor, n, kid_samples=kid_samples,
        progress=progress, label=f"{dataset}:{split}",
    )
    if cache:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        result.save(path)
    return result


def evaluate_generator(generator, reference, extractor, num_samples, kid_samples=0, seed=0,
                       batch_size=50, progress=False, kid_block_size=1024):
    """FID (and KID when `kid_samples`) of `num_samples` images of `generator` against
    `reference` (`ImageStatistics`), on fixed latents (`generator_batches(..., seed)`).

    The one evaluation of a generator during training: `FIDCallback` and the ablation's
    runner call it. Returns `compute_metrics`' dict (`fid2k`, `kid2k`, `kid2k_std`, ...);
    `kid_block_size` as there.
    """
    fake = collect_statistics(
        generator_batches(generator, num_samples, batch_size, seed), extractor, num_samples,
        kid_samples=kid_samples, progress=progress, label="generated",
    )
    return compute_metrics(reference, fake, ("fid", "kid") if kid_samples else ("fid",),
                           kid_block_size=kid_block_size)


def compute_metrics(real, fake, metrics=("fid", "kid"), kid_block_size=1024):
    """FID / KID / IS from two `ImageStatistics`.

    Args:
        real: `ImageStatistics` of the reference images.
        fake: `ImageStatistics` of the evaluated images.
        metrics: iterable of "fid", "kid", "is".
        kid_block_size: int, default 1024 (TF-GAN's `max_block_size`).

    Returns:
        dict name -> float, names with sample counts: {"fid10k": ...,
        "kid2k": ..., "kid2k_std": ..., "is10k": ...}.
    """
    unknown = set(metrics) - {"fid", "kid", "is"}
    if unknown:
        raise ValueError(f"Unknown metrics {sorted(unknown)}; expected a subset of fid, kid, is.")
    out = {}
    if "fid" in metrics:
        for name, s in (("real", real), ("evaluated", fake)):
            _warn_if_singular(s.count, s.stats.dim, f"{name} images")
        fid = frechet_distance_from_statistics(
            real.stats.mean, real.stats.covariance, fake.stats.mean, fake.stats.covariance
        )
        out[metric_name("fid", fake.count)] = float(fid)
    if "kid" in metrics:
        if real.activations is None or fake.activations is None:
            raise ValueError("KID needs kept activations on both sides (kid_samples > 0).")
        k = min(len(real.activations), len(fake.activations))
        kid, std = kernel_classifier_distance_and_std_from_activations(
            real.activations[:k], fake.activations[:k], max_block_size=kid_block_size
        )
        name = metric_name("kid", k)
        out[name] = float(kid)
        out[f"{name}_std"] = float(std)
    if "is" in metrics:
        if fake.logits is None:
            raise ValueError("IS needs logits of the evaluated images (a classifier).")
        out[metric_name("is", len(fake.logits))] = float(classifier_score_from_logits(fake.logits))
    return out
