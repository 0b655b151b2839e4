"""bench/cnn_baseline.py: the DCGAN baseline, scored by the recipe's own evaluator."""

import json
import os

import keras
import numpy as np
import pytest

from tests.bench_scripts import load_bench_script
from tests.pixel_features import pooled_pixels
from tests.test_ablation import FASHION_MNIST
from vitgan_tf.metrics import evaluation

baseline = load_bench_script("cnn_baseline")


def test_architecture_is_the_keras_io_dcgan():
    g, d = baseline.build_generator(), baseline.build_discriminator()
    # Dense 128 -> 7x7x256 (no bias) + BN, ConvT 256->128 and 128->64 (4x4, no bias) + BN,
    # Conv 5x5 64->1: 2.3M; D: conv 1->64, 64->128 (4x4), 128->256 (3x3), dense 7x7x256 -> 1.
    assert g.count_params() == 128 * 12544 + 4 * 12544 + 16 * 256 * 128 + 4 * 128 \
        + 16 * 128 * 64 + 4 * 64 + 25 * 64 + 1
    assert d.count_params() == 16 * 64 + 64 + 16 * 64 * 128 + 128 + 9 * 128 * 256 + 256 + 12544 + 1
    z = np.random.default_rng(0).normal(size=(3, 128)).astype("float32")
    padded = baseline.PaddedGenerator(g)(z)
    assert padded.shape == (3, 32, 32, 1)
    inner = keras.ops.convert_to_numpy(g(z))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(padded)[:, 2:30, 2:30], inner)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(padded)[:, :2], -1.0)


@pytest.mark.skipif(not os.path.isfile(FASHION_MNIST), reason="Fashion-MNIST not installed")
def test_trains_and_scores_with_the_recipes_evaluator(tmp_path, monkeypatch):
    monkeypatch.setenv("VITGAN_TF_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "dcgan"
    last = baseline.main(["--out", str(out), "--minutes", "0.02", "--eval-every-minutes", "0.01",
                          "--eval-samples", "48", "--eval-real-samples", "96", "--log-every", "2",
                          "--batch-size", "8"], extractor=pooled_pixels)
    records = [json.loads(line) for line in open(out / "metrics.jsonl")]
    assert records[-1]["fid48"] == last["fid48"] and "kid48" in records[-1]
    assert all(r["step"] % 2 == 0 for r in records) and records[-1]["train_time"] > 0
    # The logged values are those of the evaluation functions the recipe uses, on the saved G.
    g = keras.saving.load_model(out / "checkpoints" / "generator.keras", safe_mode=True)
    real = evaluation.reference_statistics("fashion_mnist", "train", 32, num_samples=96,
                                           kid_samples=48, extractor=pooled_pixels)
    fake = evaluation.collect_statistics(
        evaluation.generator_batches(baseline.PaddedGenerator(g), 48, 50, seed=0), pooled_pixels,
        48, kid_samples=48, progress=False)
    want = evaluation.compute_metrics(real, fake, ("fid", "kid"))
    np.testing.assert_allclose(last["fid48"], want["fid48"], rtol=1e-5)
    np.testing.assert_allclose(last["kid48"], want["kid48"], rtol=1e-5, atol=1e-7)
    assert (out / f"samples_{records[-1]['step']:06d}.png").is_file()


def test_bad_arguments(tmp_path, capsys):
    for argv, message in ((["--minutes", "0"], "argument --minutes: expected a number in (0, 1440], got 0"),
                          (["--minutes", "99999"], "argument --minutes: expected a number in (0, 1440]"),
                          (["--minutes", "nan"], "argument --minutes: expected a number in (0, 1440]"),
                          (["--eval-samples", "1"], "argument --eval-samples: expected an integer in [2, 100000], got 1"),
                          (["--batch-size", "x"], "argument --batch-size: expected an integer, got 'x'"),
                          (["--batch-size", "0"], "argument --batch-size: expected an integer in [1, 100000]")):
        with pytest.raises(SystemExit):
            baseline.parse_args(["--out", str(tmp_path / "x"), *argv])
        assert message in capsys.readouterr().err
    (tmp_path / "exists").mkdir()
    with pytest.raises(SystemExit):
        baseline.parse_args(["--out", str(tmp_path / "exists")])
    assert "exists" in capsys.readouterr().err
