"""Export: SavedModel and TFLite match the Keras generator; guards, errors, demo.

One small generator (the `tiny` preset widened to hidden 256 / MLP 1024 so
weights dominate the file sizes) is exported once per module and shared.
"""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import export
from export import tflite_demo
from export.__main__ import main as export_main
from vitgan_tf.images import to_uint8
from vitgan_tf.models import Generator

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Quantised variants vs the float32 TFLite model: PSNR (dB) of the uint8
# images, asserted lower bounds. Measured on this random-weight generator:
# float16 ~ 62 dB, int8 ~ 42-43 dB over 3 init seeds (margins of ~12 dB).
PSNR_BOUNDS = {"float16": 50.0, "int8": 30.0}
INT8_MAX_SIZE_RATIO = 0.30


def psnr_uint8(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def make_run(folder, generator):
    """A training-run folder as the trainer writes it (config + EMA checkpoint)."""
    os.makedirs(os.path.join(folder, "checkpoints"), exist_ok=True)
    generator.save(os.path.join(folder, "checkpoints", "ema_generator.keras"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"preset": "tiny", "generator": generator.get_config()}, f)
    with open(os.path.join(folder, "checkpoints", "state.json"), "w") as f:
        json.dump({"step": 1234}, f)
    return folder


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Run folder + one full export (SavedModel and 3 TFLite variants)."""
    root = tmp_path_factory.mktemp("export")
    keras.utils.set_random_seed(0)
    generator = Generator.from_architecture("tiny", hidden_dim=256, mlp_dim=1024)
    run = make_run(str(root / "run"), generator)
    out = str(root / "out")
    result = export.export_generator(out, run=run)
    checkpoint = os.path.join(run, "checkpoints", "ema_generator.keras")
    # The reference is the in-memory generator that was saved, not the
    # exporter's loader (which the export itself goes through): a loader bug
    # shows in the parity tests and, on its own, in test_loader_matches_saved_generator.
    z = np.random.RandomState(0).standard_normal((8, generator.z_dim)).astype(np.float32)
    return {
        "root": root, "run": run, "out": out, "result": result, "model": generator,
        "checkpoint": checkpoint, "z": z, "reference": generator.predict(z, verbose=0),
    }


def tflite_outputs(path, z):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=path).get_signature_runner("serving_default")(z=z)


# --- SavedModel ---------------------------------------------------------------


def test_layout_and_metadata(exported):
    result, out = exported["result"], exported["out"]
    assert result["version"] == 1
    assert result["saved_model"] == os.path.join(out, "vitgan", "1")
    assert os.path.isfile(os.path.join(out, "vitgan", "1", "saved_model.pb"))
    sha = export.common.sha256(exported["checkpoint"])
    for variant, path in result["tflite"].items():
        assert path == os.path.join(out, "tflite", "vitgan", "1", f"vitgan_{variant}.tflite")
        with open(path[: -len(".tflite")] + ".json") as f:
            meta = json.load(f)
        assert (meta["variant"], meta["z_dim"], meta["image_size"], meta["channels"]) == (
            variant, 16, 16, 3)
        assert meta["source_checkpoint"] == os.path.abspath(exported["checkpoint"])
        assert meta["source_sha256"] == sha and meta["source_step"] == 1234
        assert meta["size_bytes"] == os.path.getsize(path)
    with open(os.path.join(result["saved_model"], "assets.extra", "vitgan_export.json")) as f:
        assert json.load(f)["format"] == "saved_model"
    # Each weight stored once (float32).
    data = os.path.join(result["saved_model"], "variables", "variables.data-00000-of-00001")
    assert os.path.getsize(data) < 1.05 * 4 * exported["model"].count_params()


def test_loader_matches_saved_generator(exported):
    loaded = export.load_generator(exported["checkpoint"])
    assert loaded is not exported["model"] and loaded.get_config() == exported["model"].get_config()
    for a, b in zip(loaded.get_weights(), exported["model"].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(loaded.predict(exported["z"], verbose=0), exported["reference"],
                               rtol=0, atol=1e-6)


def test_saved_model_matches_keras(exported):
    loaded = tf.saved_model.load(exported["result"]["saved_model"])
    z, reference = exported["z"], exported["reference"]
    floats = loaded.signatures["float_images"](z=tf.constant(z))["images"].numpy()
    assert np.max(np.abs(floats - reference)) <= 1e-4
    images = loaded.signatures["serving_default"](z=tf.constant(z))["images"].numpy()
    assert images.dtype == np.uint8 and images.shape == (8, 16, 16, 3)
    diff = np.abs(images.astype(int) - to_uint8(reference).astype(int))
    assert diff.max() <= 1


def test_saved_model_truncation_signature(exported):
    loaded = tf.saved_model.load(exported["result"]["saved_model"])
    model, z = exported["model"], tf.constant(exported["z"])
    truncated = loaded.signatures["truncated"]
    plain = loaded.signatures["serving_default"](z=z)["images"].numpy()
    np.testing.assert_array_equal(truncated(z=z, truncation_psi=tf.constant(1.0))["images"].numpy(), plain)
    half = truncated(z=z, truncation_psi=tf.constant(0.5))["images"].numpy()
    expected = to_uint8(keras.ops.convert_to_numpy(model.generate(exported["z"], 0.5)))
    assert np.abs(half.astype(int) - expected.astype(int)).max() <= 1
    assert np.abs(half.astype(int) - plain.astype(int)).max() > 1  # psi 0.5 changes the images


def test_saved_model_seed_signature_is_deterministic(exported):
    loaded = tf.saved_model.load(exported["result"]["saved_model"])
    seed_fn = loaded.signatures["from_seed"]
    args = {"seed": tf.constant(7, tf.int64), "count": tf.constant(5, tf.int64)}
    first, second = seed_fn(**args), seed_fn(**args)
    np.testing.assert_array_equal(first["images"].numpy(), second["images"].numpy())
    assert first["images"].shape == (5, 16, 16, 3) and first["images"].dtype == tf.uint8
    z = export.seed_latents(7, 5, 16).numpy()
    np.testing.assert_array_equal(first["z"].numpy(), z)
    expected = to_uint8(exported["model"].predict(z, verbose=0))
    assert np.abs(first["images"].numpy().astype(int) - expected.astype(int)).max() <= 1
    other = seed_fn(seed=tf.constant(8, tf.int64), count=tf.constant(5, tf.int64))
    assert not np.array_equal(other["z"].numpy(), z)


def test_saved_model_cli_lists_signatures(exported):
    path = exported["result"]["saved_model"]
    loaded = tf.saved_model.load(path)
    assert {"serving_default", "from_seed", "float_images"} <= set(loaded.signatures)
    outputs = loaded.signatures["serving_default"].structured_outputs
    assert outputs["images"].dtype == tf.uint8
    cli = shutil.which("saved_model_cli")
    if cli is None:
        pytest.skip("saved_model_cli is not on PATH (Python API checked above)")
    shown = subprocess.run([cli, "show", "--dir", path, "--all"], capture_output=True,
                           text=True, check=True).stdout
    for text in ("signature_def['serving_default']", "signature_def['from_seed']",
                 "inputs['z']", "inputs['seed']", "inputs['count']", "DT_UINT8", "DT_INT64"):
        assert text in shown


# --- TFLite -------------------------------------------------------------------


def test_tflite_float32_matches_keras(exported):
    out = tflite_outputs(exported["result"]["tflite"]["float32"], exported["z"])
    assert np.max(np.abs(out["images_float"] - exported["reference"])) <= 1e-4
    diff = np.abs(out["images"].astype(int)
                  - to_uint8(exported["reference"]).astype(int))
    assert diff.max() <= 1


@pytest.mark.parametrize("variant", ["float16", "int8"])
def test_tflite_quantized_psnr(exported, variant):
    paths = exported["result"]["tflite"]
    float32 = tflite_outputs(paths["float32"], exported["z"])["images"]
    quantized = tflite_outputs(paths[variant], exported["z"])["images"]
    assert quantized.dtype == np.uint8 and quantized.shape == float32.shape
    assert psnr_uint8(quantized, float32) >= PSNR_BOUNDS[variant]


def test_tflite_int8_is_small(exported):
    paths = exported["result"]["tflite"]
    ratio = os.path.getsize(paths["int8"]) / os.path.getsize(paths["float32"])
    assert ratio < INT8_MAX_SIZE_RATIO
    assert os.path.getsize(paths["float16"]) < 0.6 * os.path.getsize(paths["float32"])


@keras.saving.register_keras_serializable(package="vitgan_tf_tests")
class Determinant(keras.layers.Layer):
    """det of the input seen as 4x4 matrices: MatrixDeterminant has no TFLite builtin."""

    def call(self, inputs):
        return tf.linalg.det(tf.reshape(inputs, (-1, 4, 4)))[:, None]


def test_builtin_only_guard_rejects_flex_ops():
    z = keras.Input((16,), name="z")
    model = keras.Model(z, Determinant()(keras.layers.Dense(16)(z)))
    with pytest.raises(export.FlexOpsError, match="MatrixDeterminant"):
        export.convert_tflite(model, "float32")


# --- errors and output paths --------------------------------------------------


def test_load_errors_name_the_file(exported, tmp_path):
    missing = tmp_path / "nope.keras"
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        export.load_generator(missing)
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="corrupt.keras.*corrupt"):
        export.load_generator(corrupt)
    truncated = tmp_path / "truncated.keras"
    data = open(exported["checkpoint"], "rb").read()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated.keras"):
        export.load_generator(truncated)
    dense = tmp_path / "dense.keras"
    inputs = keras.Input((16,))
    keras.Model(inputs, keras.layers.Dense(4)(inputs)).save(dense)
    with pytest.raises(ValueError, match="dense.keras.*not a ViTGAN"):
        export.load_generator(dense)
    empty_run = tmp_path / "run"
    (empty_run / "checkpoints").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="config.json"):
        export.export_generator(str(tmp_path / "out"), run=str(empty_run))
    (empty_run / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="ema_generator.keras"):
        export.export_generator(str(tmp_path / "out"), run=str(empty_run))
    assert not (tmp_path / "out").exists()


def test_mixed_precision_checkpoint_loads_as_float32(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    Generator.from_architecture("tiny").save(tmp_path / "mixed.keras")
    model = export.load_generator(tmp_path / "mixed.keras")  # under the mixed policy
    assert keras.mixed_precision.global_policy().name == "mixed_float16"
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}


def test_cli_reports_errors(tmp_path, capsys):
    dense = tmp_path / "dense.keras"
    inputs = keras.Input((16,))
    keras.Model(inputs, keras.layers.Dense(4)(inputs)).save(dense)
    assert export_main(["--generator", str(dense), "--out", str(tmp_path / "out")]) == 2
    assert "dense.keras" in capsys.readouterr().err


def test_never_clobbers_versions(exported, tmp_path):
    out = exported["out"]
    tflite_dir = os.path.join(out, "tflite", "vitgan", "1")
    before = {f: os.path.getmtime(os.path.join(tflite_dir, f)) for f in os.listdir(tflite_dir)}
    with pytest.raises(FileExistsError, match=os.path.join("vitgan", "1")):
        export.export_generator(out, run=exported["run"], version=1)
    after = {f: os.path.getmtime(os.path.join(tflite_dir, f)) for f in os.listdir(tflite_dir)}
    assert before == after
    # No --version: the next free number, here through the CLI.
    argv = ["--generator", exported["checkpoint"], "--out", out, "--formats", "saved_model"]
    assert export_main(argv) == 0
    assert os.path.isfile(os.path.join(out, "vitgan", "2", "saved_model.pb"))
    assert export_main(argv + ["--version", "2"]) == 2
    assert export_main(argv + ["--version", "2", "--overwrite"]) == 0
    assert not any(name.endswith(".partial") for name in os.listdir(os.path.join(out, "vitgan")))


def test_failed_export_leaves_no_version_behind(exported, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("export.main.export_saved_model", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export.export_generator(exported["out"], run=exported["run"], version=9,
                                variants=["float32"])
    assert not os.path.exists(os.path.join(exported["out"], "tflite", "vitgan", "9"))


# --- demo ---------------------------------------------------------------------


def test_demo_writes_png_of_the_model_output(exported, tmp_path):
    model_path = exported["result"]["tflite"]["float32"]
    grid_path, gif_path = tmp_path / "grid.png", tmp_path / "interp.gif"
    run = subprocess.run(
        [sys.executable, "-m", "export.tflite_demo", model_path, "--num", "6", "--seed", "0",
         "--out", str(grid_path), "--gif", str(gif_path), "--gif-keys", "2",
         "--gif-frames", "3"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "median latency per image" in run.stdout
    grid = np.asarray(Image.open(grid_path))
    # 6 images, 3 per row, 2 px padding: 2 rows of 16 + 3 pads, 3 cols of 16 + 4 pads.
    assert grid.shape == (2 * 18 + 2, 3 * 18 + 2, 3)
    runner = tflite_demo.GeneratorRunner(model_path)
    images = runner(tflite_demo.sample_latents(0, 6, runner.z_dim))
    for i, image in enumerate(images):
        top, left = 2 + (i // 3) * 18, 2 + (i % 3) * 18
        tile = grid[top:top + 16, left:left + 16].astype(int)
        assert np.abs(tile - image.astype(int)).max() <= 1
    gif = Image.open(gif_path)
    assert gif.n_frames == 6 and gif.size == (64, 64)


def test_demo_rejects_wrong_input_shape(exported, tmp_path, capsys):
    model_path = exported["result"]["tflite"]["int8"]
    runner = tflite_demo.GeneratorRunner(model_path)
    with pytest.raises(ValueError, match=r"\(2, 17\).*\[n, 16\]"):
        runner(np.zeros((2, 17), np.float32))
    latents = tmp_path / "z.npy"
    np.save(latents, np.zeros((4, 3, 16), np.float32))
    argv = [model_path, "--latents", str(latents), "--out", str(tmp_path / "g.png")]
    assert tflite_demo.main(argv) == 2
    err = capsys.readouterr().err
    assert "(4, 3, 16)" in err and "vitgan_int8.tflite" in err
    not_tflite = tmp_path / "model.tflite"
    not_tflite.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="model.tflite"):
        tflite_demo.GeneratorRunner(not_tflite)
