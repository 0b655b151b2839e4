"""bench/gpu_check.py in its tiny CPU mode: the same code the GPU check runs, end to end.

The check runs on JAX in a subprocess (as on the GPU machine: no TensorFlow
needed), then `--kid` on TensorFlow computes KID / FID of the samples it
wrote. Skipped when JAX is not installed. The `--kid` step runs in this
process with a stand-in for Inception (4x4-pooled pixels) and a private
reference cache: its values are checked against the same metrics recomputed
from those features; the 2015 Inception itself is checked by
tests/test_inception.py and the evaluation tests (docs/testing.md: 256 Inception
images cost about a minute of the suite).
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.bench_scripts import REPO, bench_script_path, load_bench_script
from tests.jax_subprocess import jax_env
from tests.pixel_features import pooled_pixels
from vitgan_tf.metrics import evaluation, inception
from vitgan_tf.sources import FASHION_MNIST_DIR, FASHION_MNIST_FILES

SCRIPT = bench_script_path("gpu_check")


def _run(args, backend):
    env = (jax_env() if backend == "jax"
           else dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3"))
    return subprocess.run([sys.executable, SCRIPT, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
@pytest.mark.skipif(not os.path.isfile(os.path.join(FASHION_MNIST_DIR, FASHION_MNIST_FILES["train"])),
                    reason="the Debian Fashion-MNIST files are not installed")
def test_tiny_check_then_kid(tmp_path, monkeypatch):
    out = tmp_path / "check"
    # 3 s per timed run (the tiny default is 6 s): the suite is near its 20-minute budget.
    proc = _run(["--tiny", "--run-minutes", "0.05", "--out", str(out), "--data-dir", FASHION_MNIST_DIR], "jax")
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(out / "gpu_check.json") as f:
        result = json.load(f)
    assert result["mode"] == "tiny" and result["environment"]["backend"] == "jax"
    assert [r["policy"] for r in result["train_step"]] == ["float32", "mixed_bfloat16"]
    for r in result["train_step"]:
        assert r["losses_finite"] and r["timed_steps"] == 3 and r["images_per_second"] > 0, r
    assert set(result["inference"]) == {"8", "32"}
    assert all(r["images_per_second"] > 0 for r in result["inference"].values())
    assert [r["variant"] for r in result["timed_runs"]] == ["full", "plain_sn", "hybrid"]
    for r in result["timed_runs"]:
        assert r["losses_finite"] and r["steps"] >= 2, r
        with np.load(out / r["samples"]) as archive:
            samples = archive["images"]
        assert samples.shape == (64, 32, 32, 1) and samples.dtype == np.uint8
        assert samples.std() > 0  # generated, not a constant
    assert "| timed run, plain_sn |" in proc.stdout

    # --kid, on TensorFlow: Inception replaced by pooled pixels, the cache by tmp_path's.
    monkeypatch.setattr(inception, "InceptionFeatureExtractor", lambda batch_size=50: pooled_pixels)
    monkeypatch.setattr(evaluation, "cache_dir", lambda: str(tmp_path / "cache"))
    assert load_bench_script("gpu_check").main(["--kid", str(out)]) == 0
    real = evaluation.reference_statistics("fashion_mnist", "train", image_size=32, num_samples=64,
                                           kid_samples=64, extractor=pooled_pixels, cache=False,
                                           progress=False)
    with open(out / "gpu_check.json") as f:
        runs = json.load(f)["timed_runs"]
    for r in runs:
        with np.load(out / r["samples"]) as archive:
            fake = evaluation.collect_statistics(evaluation.array_batches(archive["images"], 64),
                                                 pooled_pixels, 64, kid_samples=64, progress=False)
        want = evaluation.compute_metrics(real, fake, ("fid", "kid"))
        assert r["metrics"].keys() == want.keys() >= {"fid64", "kid64"}, r["metrics"]
        assert np.isfinite(want["kid64"]) and want["fid64"] > 0, want
        for key in want:  # kid64_std: NaN, 64 images are one KID block
            assert r["metrics"][key] == pytest.approx(want[key], rel=1e-5, abs=1e-7, nan_ok=True), (key, r)


@pytest.mark.parametrize("args,backend,message", [
    (["--tiny", "--out", "OUT"], "tensorflow", "KERAS_BACKEND=jax"),
    (["--kid", "MISSING"], "tensorflow", "gpu_check.json not found"),
    (["--tiny", "--out", "FILE"], "jax", "is a file"),
    (["--tiny", "--out", "OUT", "--data-dir", "MISSING"], "jax", "give --data-dir"),
    (["--tiny", "--out", "OUT", "--run-minutes", "0"], "jax", "--run-minutes must be > 0"),
])
def test_bad_input_is_one_error_line(tmp_path, args, backend, message):
    if backend == "jax" and importlib.util.find_spec("jax") is None:
        pytest.skip("JAX is not installed")
    (tmp_path / "FILE").write_text("")
    args = [str(tmp_path / a) if a in ("OUT", "FILE", "MISSING") else a for a in args]
    proc = _run(args, backend)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].startswith("error: "), proc.stderr[-2000:]
    assert message in proc.stderr
    assert not os.path.exists(tmp_path / "OUT")  # nothing written
