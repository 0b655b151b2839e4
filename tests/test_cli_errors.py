"""Every command line answers bad input the same way: a one-line `error:` naming the
problem, exit code 2, no traceback, nothing half-written."""

import contextlib
import io
import json
import os
import re

import pytest

from export import tflite_demo
from export.__main__ import main as export_main
from recipes import train as train_cli
from vitgan_tf import evaluate, sample


def call(main, argv, out=None):
    """(exit code, stderr) of `main(argv)`, whether it returns or raises SystemExit.

    `out`: a `StringIO` that gets stdout (default: dropped)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out or io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse
            code = exit_.code
    return code, err.getvalue()


def assert_refused(main, argv, message):
    code, err = call(main, argv)
    assert code == 2, (argv, code, err)
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "error:" in lines[-1] and message in lines[-1], (argv, err)


@pytest.fixture()
def files(tmp_path):
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"not a zip file")
    bad_tflite = tmp_path / "bad.tflite"
    bad_tflite.write_bytes(b"not a flatbuffer")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    return {"dir": tmp_path, "corrupt": str(corrupt), "bad_tflite": str(bad_tflite),
            "file": str(a_file), "missing": str(tmp_path / "missing.keras")}


def test_train_cli(files):
    out = str(files["dir"] / "run")
    short = ["tiny", "--steps", "2", "--set", "train.log_every=2", "--out", out]
    assert_refused(train_cli.main, ["nope"], "Unknown recipe 'nope'")
    assert_refused(train_cli.main, ["tiny", "--set", "gan.bcr_real=abc"], "'gan.bcr_real' expects a float")
    assert_refused(train_cli.main, ["tiny", "--set", "model.shared.hiden_dim=64"],
                   "Unknown config key 'model.shared.hiden_dim'")
    assert_refused(train_cli.main, ["tiny", "--dry-run", "--set", "model.generator.z_dim=-1"], "z_dim")
    assert_refused(train_cli.main, ["tiny", "--out", files["file"]], "is a file")
    # A value or a data source that fails only when the models or data are built: nothing
    # is written, and the folder takes the corrected command.
    assert_refused(train_cli.main, short + ["--set", "model.generator.z_dim=-1"], "z_dim")
    assert not os.path.exists(os.path.join(out, "config.json"))
    assert_refused(train_cli.main, short + ["--set", f"data.source={files['dir'] / 'no_images'}"],
                   "no_images")
    assert not os.path.exists(os.path.join(out, "config.json"))
    stdout = io.StringIO()  # not a terminal, like a log file
    code, err = call(train_cli.main, short, out=stdout)
    assert code == 0, err
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["train"]["steps"] == 2
    # One plain line per logged interval, not a progress bar redrawn at every step.
    progress = stdout.getvalue()
    assert "\r" not in progress and "\x1b[" not in progress, progress[-500:]
    assert len(re.findall(r"^2/2 - .*d_loss: ", progress, flags=re.MULTILINE)) == 1, progress


def test_a_folder_whose_run_never_trained_is_reused(files):
    from vitgan_tf.training import run

    out = files["dir"] / "failed_start"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"seed": 7}))  # a start that failed later
    code, err = call(train_cli.main, ["tiny", "--steps", "2", "--set", "train.log_every=2",
                                      "--out", str(out)])
    assert code == 0, err
    assert run.RunFolder(str(out)).checkpoint_step() == 2
    # Once it trained, another config is refused.
    assert_refused(train_cli.main, ["tiny", "--steps", "2", "--set", "train.log_every=2",
                                    "--set", "seed=5", "--out", str(out)], "holds a different run")


def test_evaluate_cli(files):
    assert_refused(evaluate.main, ["--run", str(files["dir"] / "no_run")], "Run folder not found")
    assert_refused(evaluate.main, ["--generator", files["missing"], "--dataset", "fashion_mnist"],
                   "generator file not found")
    assert_refused(evaluate.main, ["--generator", files["corrupt"], "--dataset", "fashion_mnist"],
                   "corrupt.keras")
    assert_refused(evaluate.main, ["--generator", files["corrupt"], "--dataset", "imagenet"],
                   "unknown --dataset 'imagenet'")


def test_export_cli(files):
    out = str(files["dir"] / "exported")
    assert_refused(export_main, ["--generator", files["corrupt"], "--out", out], "corrupt.keras")
    assert_refused(export_main, ["--generator", files["missing"], "--out", out], "missing.keras")
    assert_refused(export_main, ["--run", str(files["dir"] / "no_run"), "--out", out], "no_run")
    assert_refused(export_main, ["--generator", files["corrupt"], "--out", files["file"]], "is a file")
    assert not os.path.exists(out)


def test_tflite_demo_cli(files):
    png = str(files["dir"] / "grid.png")
    assert_refused(tflite_demo.main, [str(files["dir"] / "missing.tflite"), "--out", png], "missing.tflite")
    assert_refused(tflite_demo.main, [files["bad_tflite"], "--out", png], "bad.tflite")
    assert not os.path.exists(png)


def test_sample_cli(files):
    png = str(files["dir"] / "grid.png")
    assert_refused(sample.main, ["--generator", files["missing"], "--out", png], "missing.keras")
    assert_refused(sample.main, ["--generator", files["corrupt"], "--out", png], "corrupt.keras")
    assert_refused(sample.main, ["--architecture", "tiny", "--out", str(files["dir"] / "grid.jpg")], ".png")
    assert_refused(sample.main, ["--preset", "nope", "--out", png], "Unknown preset 'nope'")
    assert_refused(sample.main, ["--architecture", "nope", "--out", png], "invalid choice: 'nope'")
    assert_refused(sample.main, ["--architecture", "tiny", "--truncation-psi", "1.5", "--out", png],
                   "Expected --truncation-psi in [0, 1]. Received: 1.5")
    assert not os.path.exists(png)


def test_an_unwritable_run_folder_mid_run_stops_with_a_clear_error(files):
    import keras
    import tensorflow as tf

    from vitgan_tf.training import run

    class Unwritable(keras.callbacks.Callback):  # what TensorBoard's writer raises on a full disk
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise tf.errors.PermissionDeniedError(None, None, "tensorboard/events: Permission denied")

    out = str(files["dir"] / "run")
    config = {"model": {"preset": "tiny"}, "data": {"source": "synthetic", "batch_size": 8},
              "train": {"steps": 6, "log_every": 2, "sample_every": 2, "num_samples": 4}}
    with pytest.raises(OSError, match=r"Could not write to the run folder .*PermissionDeniedError.*"
                                      r"last good checkpoint \(step 4\)"):
        run.train(config, out, extra_callbacks=[Unwritable()], verbose=0)
    assert run.RunFolder(out).checkpoint_step() == 4

    class Offline(keras.callbacks.Callback):  # not a write failure: passes through unchanged
        def on_epoch_end(self, epoch, logs=None):
            raise ConnectionError("could not fetch the Inception weights")

    with pytest.raises(ConnectionError, match="could not fetch") as raised:
        run.train(run.merge(config, {"train": {"steps": 8}}), out, extra_callbacks=[Offline()],
                  verbose=0)
    assert not isinstance(raised.value, run.RunFolderWriteError)


def test_corrupt_files_of_every_data_format(files, tmp_path):
    """Each reader of a supported format answers a corrupt file with one line naming it."""
    import gzip

    import numpy as np

    from vitgan_tf import runs, sources
    from vitgan_tf.metrics import evaluation, inception_weights

    bad_zip = tmp_path / "images.npz"
    bad_zip.write_bytes(b"PK\x03\x04 not a zip archive")
    np.savez(tmp_path / "whole.npz", images=np.zeros((64, 28, 28), "uint8"))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes((tmp_path / "whole.npz").read_bytes()[:3000])
    np.save(tmp_path / "array.npy", np.zeros((4, 8, 8), "uint8"))
    npy_named_npz = tmp_path / "array_named.npz"
    npy_named_npz.write_bytes((tmp_path / "array.npy").read_bytes())
    np.savez(tmp_path / "foreign.npz", foo=np.zeros(3))
    out = str(files["dir"] / "run")
    for path, message in ((bad_zip, "is not a readable .npz archive"),
                          (truncated, "is not a readable .npz archive"),
                          (npy_named_npz, "is a single .npy array, not an .npz archive")):
        assert_refused(train_cli.main, ["tiny", "--steps", "2", "--out", out, "--no-eval",
                                        "--set", f"data.source={path}"], f"{path.name}' {message}")
        assert not os.path.exists(os.path.join(out, "config.json"))
    with pytest.raises(ValueError, match="Image statistics .*foreign.npz' lacks an expected array"):
        evaluation.ImageStatistics.load(tmp_path / "foreign.npz")
    with pytest.raises(ValueError, match="Converted Inception weights .*images.npz' is not a readable"):
        inception_weights._load_npz(str(bad_zip))
    idx = tmp_path / "fm"
    idx.mkdir()
    name = sources.FASHION_MNIST_FILES["train"]
    for content, message in ((b"not gzip", "is not a readable IDX file (BadGzipFile"),
                             (gzip.compress(b"\x00" * 4000)[:30], "is not a readable IDX file (EOFError"),
                             (gzip.compress(b"\x00" * 3), "is not an IDX image file (3 bytes")):
        (idx / name).write_bytes(content)
        with pytest.raises(ValueError, match=re.escape(message)):
            sources.load_fashion_mnist("train", str(idx))
    state = tmp_path / "state.json"
    state.write_text("{half")
    with pytest.raises(ValueError, match="Checkpoint state .*state.json' is corrupt"):
        runs.read_state_step(str(state))
    assert runs.read_state_step(str(tmp_path / "absent.json")) is None


def test_absurd_counts_are_refused_before_any_work(files):
    png = str(files["dir"] / "grid.png")
    assert_refused(sample.main, ["--architecture", "tiny", "--num", "1000000000", "--out", png],
                   "Expected --num in [1, 4096]. Received: 1000000000")
    assert_refused(sample.main, ["--architecture", "tiny", "--num", "0", "--out", png],
                   "Expected --num in [1, 4096]. Received: 0")
    out = str(files["dir"] / "run")
    for key, value, bound in (("train.num_samples", 10**8, "[1, 4096]"),
                              ("train.steps", 10**13, "[1, 1000000000]"),
                              ("train.eval_samples", 10**7, "[0, 200000]"),
                              ("data.batch_size", 10**8, "[1, 65536]"),
                              ("train.lipschitz_iterations", 10**6, "[1, 1000]")):
        assert_refused(train_cli.main, ["tiny", "--dry-run", "--out", out, "--set", f"{key}={value}"],
                       f"Expected {key} in {bound}. Received: {value}")
    assert_refused(train_cli.main, ["tiny", "--dry-run", "--out", out, "--set", "train.final_kid_samples=5"],
                   "Expected train.final_kid_samples 0, or in [2, train.final_eval_samples=0]")
    assert not os.path.exists(out)
    for flag, value, bound in (("--num", 10**6, "[1, 4096]"), ("--scale", 1000, "[1, 64]"),
                               ("--gif-frames", 10**6, "[1, 1000]"), ("--threads", 0, "[1, 1024]")):
        assert_refused(tflite_demo.main, [files["bad_tflite"], "--out", png, flag, str(value)],
                       f"Expected {flag} in {bound}. Received: {value}")
    assert not os.path.exists(png)


def test_bounded_argparse_types():
    import argparse

    from vitgan_tf import limits

    count, minutes = limits.int_arg(1, 100), limits.float_arg(0, 60)
    assert count("100") == 100 and minutes("0.5") == 0.5
    for parse, text, message in ((count, "0", "expected an integer in [1, 100], got 0"),
                                 (count, "1e3", "expected an integer, got '1e3'"),
                                 (minutes, "0", "expected a number in (0, 60], got 0"),
                                 (minutes, "inf", "expected a number in (0, 60], got inf"),
                                 (minutes, "soon", "expected a number, got 'soon'")):
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
            parse(text)


def test_output_pixels_bound():
    from vitgan_tf import limits
    from vitgan_tf.images import grid_shape

    _, _, height, width = grid_shape(4096, 256, 256)
    with pytest.raises(ValueError, match=r"would write a 16384x16384x3 image \(268,435,456 pixels"):
        limits.check_output_pixels("--num 4096", height, width, 3)
    assert limits.check_output_pixels("--num 64", *grid_shape(64, 32, 32)[2:], 1) == 256 * 256
