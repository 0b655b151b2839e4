"""bench/sample_coverage.py: precision / recall and FID's terms against plain numpy loops."""

import json

import keras
import numpy as np
import pytest

from tests.bench_scripts import load_bench_script

coverage = load_bench_script("sample_coverage")


def _loop_precision_recall(real, fake, k):
    """Kynkaenniemi et al. 2019, one point at a time."""
    def radius(points, i):
        d = sorted(np.linalg.norm(points[i] - points[j]) for j in range(len(points)) if j != i)
        return d[k - 1]

    def share(points, centres):
        radii = [radius(centres, j) for j in range(len(centres))]
        inside = [any(np.linalg.norm(p - c) <= r for c, r in zip(centres, radii)) for p in points]
        return sum(inside) / len(points)

    return share(fake, real), share(real, fake)


def test_precision_recall_on_a_line_by_hand():
    real = np.arange(10.0)[:, None]  # radii (k = 1): 1 each
    fake = np.arange(5.0)[:, None]
    # every fake point lies on a real one; the real points 0..5 lie within 1 of a fake one
    assert coverage.precision_recall(real, fake, k=1) == (1.0, 0.6)
    np.testing.assert_array_equal(coverage.knn_radii(real, 2), [4.0] + [1.0] * 8 + [4.0])


@pytest.mark.parametrize("k", [1, 3])
def test_precision_recall_equals_loops(k):
    rng = np.random.default_rng(0)
    real = rng.standard_normal((40, 5))
    fake = 0.6 * rng.standard_normal((30, 5)) + 0.5  # narrower and shifted: recall < precision
    got = coverage.precision_recall(real, fake, k)
    expected = _loop_precision_recall(real, fake, k)
    assert got == pytest.approx(expected, abs=1e-12)
    assert 0 < got[1] < got[0] < 1


def test_fid_terms_sum_to_fid_and_split_it():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((200, 4))
    sigma = np.cov(a, rowvar=False)
    mu = a.mean(0)
    mean_term, cov_term = coverage.fid_terms(mu, sigma, mu + 0.5, sigma)
    assert mean_term == pytest.approx(4 * 0.25) and cov_term == pytest.approx(0.0, abs=1e-6)
    # equal means, covariance scaled by 4: Tr(S + 4S - 2 * 2S) = Tr(S)
    mean_term, cov_term = coverage.fid_terms(mu, sigma, mu, 4.0 * sigma)
    assert mean_term == 0.0 and cov_term == pytest.approx(np.trace(sigma), rel=1e-6)


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(ValueError, match="0 < k < 3"):
        coverage.knn_radii(np.zeros((3, 2)), 3)
    with pytest.raises(ValueError, match="one d"):
        coverage.precision_recall(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(SystemExit):
        coverage.parse_args(["--generator", "no-equals-sign"])
    dense = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    dense.save(tmp_path / "dense.keras")
    with pytest.raises(ValueError, match="neither a ViTGAN Generator nor the DCGAN"):
        coverage.load_scored_generator(str(tmp_path / "dense.keras"))


def test_dcgan_file_is_scored_padded_to_32(tmp_path):
    baseline = coverage.cnn_baseline()
    keras.utils.set_random_seed(0)
    g = baseline.build_generator()
    path = str(tmp_path / "generator.keras")
    g.save(path)
    scored = coverage.load_scored_generator(path)
    z = np.random.default_rng(0).standard_normal((2, baseline.Z_DIM)).astype(np.float32)
    images = keras.ops.convert_to_numpy(scored(z))
    assert images.shape == (2, 32, 32, 1) and scored.z_dim == baseline.Z_DIM
    np.testing.assert_array_equal(images[:, :2], -1.0)  # the background pad
    np.testing.assert_allclose(images[:, 2:30, 2:30], keras.ops.convert_to_numpy(g(z)), atol=1e-6)


@pytest.mark.filterwarnings("ignore:.*covariance is singular")  # 6 and 12 images, 16 features
def test_main_scores_each_generator_from_the_same_features(tmp_path, monkeypatch):
    """The command's figures are the functions above applied to the extractor's features."""
    from vitgan_tf.metrics import evaluation  # noqa: PLC0415

    def features(batch):  # a stand-in for Inception: 8x8 block means, 16 features
        x = np.asarray(batch, np.float64)
        return x.reshape(len(x), 4, 8, 4, 8).mean(axis=(2, 4)).reshape(len(x), 16)

    images = np.random.default_rng(0).integers(0, 256, (12, 32, 32, 1), dtype=np.uint8)
    monkeypatch.setitem(evaluation.datasets.DATASETS, "fashion_mnist", (lambda split, size: images, 32))
    monkeypatch.setattr(evaluation, "cache_dir", lambda: str(tmp_path / "cache"))
    baseline = coverage.cnn_baseline()
    keras.utils.set_random_seed(0)
    path = str(tmp_path / "generator.keras")
    baseline.build_generator().save(path)
    out = str(tmp_path / "coverage.json")
    results = coverage.main(["--generator", f"dcgan={path}", "--num-samples", "6", "--real-samples", "12",
                             "--k", "2", "--out", out], extractor=features)
    got = results["dcgan"]
    real = features(images)
    fake = features(np.concatenate(list(evaluation.generator_batches(
        coverage.load_scored_generator(path), 6, 50, seed=0))))
    assert (got["precision"], got["recall"]) == coverage.precision_recall(real[:6], fake, 2)
    mu_r, mu_f = real.mean(0), fake.mean(0)
    assert got["fid_mean_term"] == pytest.approx(((mu_r - mu_f) ** 2).sum(), rel=1e-9)
    assert got["variance_generated"] == pytest.approx(np.trace(np.cov(fake, rowvar=False)), rel=1e-6)
    assert got["fid_mean_term"] + got["fid_covariance_term"] == pytest.approx(got["fid6"], rel=1e-9)
    with open(out) as f:
        assert json.load(f)["generators"]["dcgan"]["kid6"] == pytest.approx(got["kid6"])
