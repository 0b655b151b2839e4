"""ViTGAN's train step on JAX: the same update as on TensorFlow, and `fit` on JAX.

The step is built here on TensorFlow with bCR, R1, DiffAugment (every op)
and EMA on and SGD for both networks, once with the ViT D and once with the
StyleGAN2 D (the hybrid); its weights, real batch and
randomness (TensorFlow's draws, injected: the backends' random streams
differ) go to a JAX subprocess (tests/jax_step_worker.py), which runs the
same step. Every weight after the step (G, D with its ISN vectors, EMA G)
and every loss must agree. A second subprocess trains through `fit` on JAX,
on one CPU device and under `keras.distribution.DataParallel` over two.
Skipped when JAX is not installed.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.jax_subprocess import jax_env

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                               reason="JAX is not installed")


def _run_worker(mode, folder, *args, **env):
    proc = subprocess.run([sys.executable, "-m", "tests.jax_step_worker", mode, str(folder),
                           *args],
                          cwd=REPO, env=jax_env(**env), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


@needs_jax
@pytest.mark.parametrize("discriminator", ["vit", "stylegan2"])
def test_one_jax_step_equals_the_tensorflow_step(tmp_path, discriminator):
    import keras

    from tests import jax_step_worker as worker

    assert keras.backend.backend() == "tensorflow"
    gan = worker.build_gan(discriminator=discriminator)
    rng = np.random.default_rng(0)
    real = np.tanh(rng.normal(size=(worker.BATCH, 16, 16, 3))).astype("float32")
    draws = gan.sample_randomness(worker.BATCH)
    flat = worker.flatten_draws(draws)
    # Every DiffAugment op applied to some images and not others at p = 0.5.
    assert {"draw:aug_real/brightness", "draw:aug_real/scale", "draw:aug_real/shift",
            "draw:aug_real/cutout_size", "draw:bcr_fake/shift"} <= set(flat)
    before = worker.weights_of(gan)
    np.savez(tmp_path / "step.npz", real=real, **before, **flat)
    stats = gan.apply_step(real, draws)
    after = worker.weights_of(gan)
    assert stats["bcr"] > 0

    # The TensorFlow step itself moved every trainable weight of G and D, every ISN
    # vector (but the 1-output logit layer's, which is +-1) and the EMA generator: no
    # variable is left out of the step.
    for prefix, model in worker.networks(gan).items():
        for i, variable in enumerate(model.weights):
            if variable.trainable or worker.is_moving_isn_vector(variable):
                assert not np.array_equal(before[f"{prefix}{i}"], after[f"{prefix}{i}"]), \
                    f"{model.name}: {variable.path} did not change in the step"

    stdout = _run_worker("step", tmp_path, discriminator)
    assert "backend=jax step tensorflow_imported=False" in stdout, stdout
    got = np.load(tmp_path / "step.jax.npz")
    for name, value in stats.items():
        np.testing.assert_allclose(got[f"stat:{name}"], value, rtol=1e-5, atol=1e-6, err_msg=name)
    for prefix, model in worker.networks(gan).items():
        for i, variable in enumerate(model.weights):
            key = f"{prefix}{i}"
            np.testing.assert_allclose(got[key], after[key], rtol=1e-4, atol=2e-5,
                                       err_msg=f"{model.name}: {variable.path}")


@needs_jax
def test_fit_on_jax_one_device_and_data_parallel(tmp_path):
    stdout = _run_worker("fit", tmp_path, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    assert "backend=jax fit devices=2" in stdout, stdout
    with open(tmp_path / "fit.jax.json") as f:
        result = json.load(f)
    for name, values in result["losses"].items():
        assert np.all(np.isfinite(values)), (name, values)
    assert result["losses"]["bcr"][0] > 0
    # Both optimizers and the step counter advanced twice: the trainer's state carries
    # G's optimizer too.
    assert (result["train_steps"], result["d_iterations"], result["g_iterations"]) == (2, 2, 2)
    assert result["seed_state_changed"]
    assert result["num_trainable"] > 20 and result["unchanged_trainable"] == []
    assert result["num_isn_vectors"] > 0 and result["unchanged_isn_vectors"] == []
    assert result["ema_changed"]
    # DataParallel over 2 CPU devices computes the global batch's step: the same weights.
    assert result["devices"] == 2
    assert result["parallel_max_abs_diff"] < 1e-5, result["parallel_max_abs_diff"]
    for name in result["losses"]:
        np.testing.assert_allclose(result["parallel_losses"][name], result["losses"][name],
                                   rtol=1e-5, atol=1e-6, err_msg=name)
