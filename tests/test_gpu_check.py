"""bench/gpu_check.py in its tiny CPU mode: the same code the GPU check runs, end to end.

The check runs on JAX in a subprocess (as on the GPU machine: no TensorFlow
needed), then `--kid` on TensorFlow computes KID / FID of the samples it
wrote. Skipped when JAX is not installed.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.jax_subprocess import jax_env
from vitgan_tf.sources import FASHION_MNIST_DIR, FASHION_MNIST_FILES

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "bench", "gpu_check.py")


def _run(args, backend):
    env = (jax_env() if backend == "jax"
           else dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3"))
    return subprocess.run([sys.executable, SCRIPT, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
@pytest.mark.skipif(not os.path.isfile(os.path.join(FASHION_MNIST_DIR, FASHION_MNIST_FILES["train"])),
                    reason="the Debian Fashion-MNIST files are not installed")
def test_tiny_check_then_kid(tmp_path):
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

    proc = _run(["--kid", str(out)], "tensorflow")
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(out / "gpu_check.json") as f:
        metrics = [r["metrics"] for r in json.load(f)["timed_runs"]]
    for m in metrics:
        assert np.isfinite(m["kid64"]) and m["fid64"] > 0, m


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
