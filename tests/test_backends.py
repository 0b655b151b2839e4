"""Layers and models on the JAX backend: the same outputs as on TensorFlow.

Every layer case of tests/layer_cases.py and the tiny Generator and
Discriminator are built on TensorFlow (this process), their weights, inputs
and outputs stored, then rebuilt on JAX in a subprocess
(`KERAS_BACKEND=jax python -m tests.backend_worker`) from the same weights:
outputs must agree within 1e-5, and a `.keras` saved and reloaded on JAX must
give the same outputs there. Skipped when JAX is not installed.
"""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.backend_worker import as_list, model_cases
from tests.jax_subprocess import jax_env
from tests.layer_cases import all_cases, build_case_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_layers_and_models_on_jax_equal_tensorflow(tmp_path):
    import keras

    assert keras.backend.backend() == "tensorflow"
    expected = {}
    rng = np.random.default_rng(0)
    cases = [(name, lambda c=cls, k=kwargs: build_case_model(c, k)) for name, cls, kwargs in all_cases()]
    cases += [(name, lambda b=build: _model_with_inputs(b(), rng)) for name, build in model_cases()]
    for name, build in cases:
        keras.utils.set_random_seed(0)
        model, inputs = build()
        # Not the initial weights: random ones, so that every weight matters.
        weights = [rng.normal(scale=0.3, size=w.shape).astype(w.dtype) if w.dtype.kind == "f"
                   else w for w in model.get_weights()]
        model.set_weights(weights)
        outputs = as_list(model(inputs if len(inputs) > 1 else inputs[0], training=False))
        expected[name] = outputs
        np.savez(tmp_path / f"{name}.npz", **{f"w{i}": w for i, w in enumerate(weights)},
                 **{f"x{i}": x for i, x in enumerate(inputs)},
                 **{f"y{i}": y for i, y in enumerate(outputs)})
    proc = subprocess.run([sys.executable, "-m", "tests.backend_worker", str(tmp_path)], cwd=REPO,
                          env=jax_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f"backend=jax cases={len(cases)} tensorflow_imported=False" in proc.stdout, proc.stdout
    for name, outputs in expected.items():
        got = np.load(tmp_path / f"{name}.jax.npz")
        for i, want in enumerate(outputs):
            np.testing.assert_allclose(got[f"y{i}"], want, atol=1e-5, rtol=1e-5, err_msg=name)
            np.testing.assert_allclose(got[f"r{i}"], got[f"y{i}"], atol=1e-6, rtol=1e-6,
                                       err_msg=f"{name} after a .keras round trip on JAX")


def _model_with_inputs(model, rng):
    if hasattr(model, "z_dim"):  # Generator
        return model, [rng.normal(size=(2, model.z_dim)).astype("float32")]
    size, channels = model.image_size, model.channels
    return model, [np.tanh(rng.normal(size=(2, size, size, channels))).astype("float32")]
