"""bench/preset_quality.py: FID / KID against psi and of TFLite exports, by the recipe's evaluator."""

import json
import os

import keras
import numpy as np
import pytest

from tests.bench_scripts import load_bench_script
from tests.pixel_features import pooled_pixels
from tests.test_ablation import FASHION_MNIST
from vitgan_tf.metrics import evaluation
from vitgan_tf.models import Generator, preset_utils

quality = load_bench_script("preset_quality")


@pytest.mark.skipif(not os.path.isfile(FASHION_MNIST), reason="Fashion-MNIST not installed")
def test_rows_are_the_evaluators_values(tmp_path, monkeypatch):
    from export.main import export_generator

    monkeypatch.setenv("VITGAN_TF_CACHE", str(tmp_path / "cache"))
    keras.utils.set_random_seed(0)
    gen = Generator.from_architecture("tiny", image_size=32, channels=1)
    for seed in range(3):  # w_avg off zero, as after training
        gen(np.random.default_rng(seed).normal(size=(8, gen.z_dim)).astype("float32"), training=True)
    preset = preset_utils.save_to_preset(gen, tmp_path / "preset")
    exported = export_generator(str(tmp_path / "exported"), preset=preset, formats=["tflite"],
                                variants=["float32", "int8"])
    tflite_dir = os.path.dirname(exported["tflite"]["float32"])
    out = tmp_path / "out"
    rows = quality.main(["--preset", preset, "--psi", "0", "0.5", "1", "--tflite", tflite_dir,
                         "--num-samples", "40", "--real-samples", "60", "--out", str(out)],
                        extractor=pooled_pixels)
    assert [(r["source"], r["psi"]) for r in rows] == [
        ("keras", 0.0), ("keras", 0.5), ("keras", 1.0), ("tflite_float32", 1.0), ("tflite_int8", 1.0)]
    real = evaluation.reference_statistics("fashion_mnist", "train", 32, num_samples=60,
                                           kid_samples=40, extractor=pooled_pixels, cache=False)
    for row in rows[:3]:  # psi 1 is the plain generator; psi rows are generate(z, psi)
        sampler = gen if row["psi"] == 1.0 else quality.truncated(gen, row["psi"])
        want = evaluation.evaluate_generator(sampler, real, pooled_pixels, 40, kid_samples=40)
        np.testing.assert_allclose(row["fid40"], want["fid40"], rtol=1e-5)
        np.testing.assert_allclose(row["kid40"], want["kid40"], rtol=1e-5, atol=1e-8)
    assert rows[0]["fid40"] != rows[2]["fid40"]  # psi 0: every image is G(w_avg)
    # The float32 export scores as the Keras model does, within float round-off.
    np.testing.assert_allclose(rows[3]["fid40"], rows[2]["fid40"], rtol=1e-3)
    record = json.loads((out / "quality.json").read_text())
    assert record["rows"] == json.loads(json.dumps(rows)) and "--psi" in record["command"]
    for name in ("fid_vs_psi.png", "samples_psi0.png", "samples_psi0.5.png", "samples_psi1.png"):
        assert (out / name).stat().st_size > 100, name


def test_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit):
        quality.parse_args(["--preset", "p", "--psi", "1.5", "--out", str(tmp_path)])
    assert "argument --psi: expected a number in [0, 1]" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no NAME_VARIANT.tflite file"):
        quality.main(["--preset", "p", "--tflite", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])


def test_plot_labels_name_the_metric_and_its_sample_count():
    assert [quality.metric_label(k) for k in ("fid1k", "kid1k", "fid10k")] == ["FID 1k", "KID 1k", "FID 10k"]
