"""Where a generator's FID comes from: fidelity against coverage, and FID's two terms.

    python bench/sample_coverage.py \\
        --generator dcgan=runs/quality/dcgan_25_seed0/checkpoints/generator.keras \\
        --generator recipe=runs/quality/recipe_25_seed0/checkpoints/ema_generator.keras \\
        --num-samples 2000 --out docs/quality/hybrid/coverage_25_seed0.json

For each generator, `--num-samples` images from fixed latents (seed 0) and the
first `--num-samples` kept features of the cached statistics of 10000 real Fashion-MNIST
training images (32x32; the harness of the recipe's evaluations, so FID and KID
here equal the `fid2k` / `kid2k` of a seed-0 run's same G), all as 2015 Inception pool_3
features. It prints and writes:

- FID, split into its two terms: the means' squared distance
  ||mu_r - mu_g||^2 and the covariance term Tr(S_r + S_g - 2 (S_r S_g)^1/2);
- KID (x1000);
- precision and recall of Kynkaenniemi et al. 2019 (arXiv 1904.06991) with
  k = 3: the share of generated features that fall inside some real feature's
  ball of radius its k-th nearest real neighbour (fidelity), and the share of
  real features inside some generated feature's ball (coverage);
- the total variance Tr(S) of each side's features (spread).

A G whose samples are good but cover too little of the data has high precision,
low recall, and a covariance term that dominates its FID.

A generator file is a ViTGAN `Generator` (`.keras`) or the 28x28 DCGAN of
`bench/cnn_baseline.py` (its `checkpoints/generator.keras`), padded to 32x32 as
that script scores it.
"""

import argparse
import functools
import importlib.util
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))


def _pairwise_sq(a, b):
    """Squared Euclidean distances [len(a), len(b)] in float64."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def knn_radii(features, k=3):
    """Each point's squared distance to its k-th nearest other point of `features`."""
    features = np.asarray(features)
    if not isinstance(k, int) or not 0 < k < len(features):
        raise ValueError(f"Expected 0 < k < {len(features)} (the points). Received: k={k!r}")
    d = _pairwise_sq(features, features)
    np.fill_diagonal(d, np.inf)  # not its own neighbour
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def _inside_share(points, centres, radii):
    """Share of `points` within the ball of at least one centre (squared radii)."""
    return float(np.mean((_pairwise_sq(points, centres) <= radii[None, :]).any(axis=1)))


def precision_recall(real, fake, k=3):
    """Improved precision and recall (Kynkaenniemi et al. 2019) of two feature sets.

    Args:
        real: [n, d] features of real images.
        fake: [m, d] features of generated images.
        k: int, default 3. The neighbour whose distance sets each ball's radius.

    Returns:
        (precision, recall), floats in [0, 1].
    """
    real = np.asarray(real, np.float64)
    fake = np.asarray(fake, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"Expected two [n, d] feature arrays of one d. Received shapes "
                         f"{real.shape} and {fake.shape}")
    precision = _inside_share(fake, real, knn_radii(real, k))
    recall = _inside_share(real, fake, knn_radii(fake, k))
    return precision, recall


def fid_terms(mu_real, sigma_real, mu_fake, sigma_fake):
    """FID's two terms: (||mu_r - mu_g||^2, FID minus that), with the library's FID."""
    from vitgan_tf.metrics.distances import frechet_distance_from_statistics  # noqa: PLC0415

    mean_term = float(np.sum((np.asarray(mu_real, np.float64) - np.asarray(mu_fake, np.float64)) ** 2))
    fid = float(frechet_distance_from_statistics(mu_real, sigma_real, mu_fake, sigma_fake))
    return mean_term, fid - mean_term


@functools.lru_cache(maxsize=None)
def cnn_baseline():
    """`bench/cnn_baseline.py` as a module (read once)."""
    spec = importlib.util.spec_from_file_location("bench_cnn_baseline", os.path.join(_HERE, "cnn_baseline.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_scored_generator(path):
    """A ViTGAN Generator, or the DCGAN baseline's 28x28 G padded to 32x32 as it is scored."""
    import keras  # noqa: PLC0415

    from vitgan_tf.models.loading import load_model_file  # noqa: PLC0415

    model = load_model_file(path, keras.Model, "a Keras model")
    if getattr(model, "z_dim", None):
        return model
    baseline = cnn_baseline()
    if tuple(model.input_shape[1:]) != (baseline.Z_DIM,) or tuple(model.output_shape[1:]) != (28, 28, 1):
        raise ValueError(f"{path}: neither a ViTGAN Generator nor the DCGAN baseline's G "
                         f"(input {model.input_shape}, output {model.output_shape})")
    return baseline.PaddedGenerator(model)


def score(generator, real, extractor, num_samples, k=3, batch_size=50):
    """The figures above for one generator against `real` (`ImageStatistics`)."""
    from vitgan_tf.metrics import evaluation  # noqa: PLC0415

    fake = evaluation.collect_statistics(
        evaluation.generator_batches(generator, num_samples, batch_size, seed=0), extractor,
        num_samples, kid_samples=num_samples, label="generated")
    metrics = evaluation.compute_metrics(real, fake, ("fid", "kid"))
    mean_term, cov_term = fid_terms(real.stats.mean, real.stats.covariance,
                                    fake.stats.mean, fake.stats.covariance)
    precision, recall = precision_recall(real.activations[:num_samples], fake.activations, k)
    return {
        **metrics,
        "fid_mean_term": mean_term,
        "fid_covariance_term": cov_term,
        "precision": precision,
        "recall": recall,
        "k": k,
        "variance_real": float(np.trace(real.stats.covariance)),
        "variance_generated": float(np.trace(fake.stats.covariance)),
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generator", action="append", required=True, metavar="LABEL=PATH",
                   help="a generator file to score (repeat)")
    p.add_argument("--num-samples", type=int, default=2000, help="generated images, and real ones for P/R and KID")
    p.add_argument("--real-samples", type=int, default=10000, help="real images for the statistics (FID)")
    p.add_argument("--k", type=int, default=3, help="the neighbour that sets the balls' radii (default 3)")
    p.add_argument("--out", help="JSON file to write")
    args = p.parse_args(argv)
    pairs = []
    for item in args.generator:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            p.error(f"--generator takes LABEL=PATH, not {item!r}")
        if not os.path.isfile(path):
            p.error(f"--generator {label}: no such file: {path!r}")
        pairs.append((label, path))
    args.generator = pairs
    if not 1 < args.num_samples <= args.real_samples:
        p.error(f"--num-samples must be in 2..--real-samples ({args.real_samples}), not {args.num_samples}")
    if not 0 < args.k < args.num_samples:
        p.error(f"--k must be in 1..{args.num_samples - 1}, not {args.k}")
    if args.out:
        from vitgan_tf.io import check_output_arg  # noqa: PLC0415

        check_output_arg(p, args.out)
    return args


def main(argv=None, extractor=None):
    args = parse_args(argv)
    from vitgan_tf.metrics import evaluation  # noqa: PLC0415
    from vitgan_tf.metrics.inception import InceptionFeatureExtractor  # noqa: PLC0415

    extractor = extractor or InceptionFeatureExtractor(batch_size=50)
    real = evaluation.reference_statistics("fashion_mnist", "train", image_size=32,
                                           num_samples=args.real_samples,
                                           kid_samples=args.num_samples, extractor=extractor)
    results = {}
    for label, path in args.generator:
        results[label] = {"generator": path, **score(load_scored_generator(path), real, extractor,
                                                     args.num_samples, args.k)}
        r = results[label]
        fid = r[evaluation.metric_name("fid", args.num_samples)]
        kid = r[evaluation.metric_name("kid", args.num_samples)]
        print(f"{label}: FID {fid:.2f} (means {r['fid_mean_term']:.2f}, covariance "
              f"{r['fid_covariance_term']:.2f}), KID x1000 {kid * 1000:.1f}, precision "
              f"{r['precision']:.3f}, recall {r['recall']:.3f}, variance {r['variance_generated']:.1f} "
              f"(real {r['variance_real']:.1f})", flush=True)
        if args.out:  # after every generator: a crash loses only the one being scored
            tmp = f"{args.out}.tmp"
            with open(tmp, "w") as f:
                json.dump({"num_samples": args.num_samples, "real_samples": args.real_samples,
                           "generators": results}, f, indent=2)
            os.replace(tmp, args.out)
    if args.out:
        print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
